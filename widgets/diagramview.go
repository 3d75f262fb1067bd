package widgets

import (
	"image"
	"image/color"
	"math"
	"sort"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/render"
)

// Zoom limits: a quarter shows a long comparison whole, four times reads a single bar from the back of a
// lecture hall. ZoomIn and ZoomOut move by ZoomStep.
const (
	MinZoom  = 0.25
	MaxZoom  = 4
	ZoomStep = 1.25
)

// The selection outline: thick enough to see from the back of a lecture hall at 100%, in a magenta that
// no part of the diagram uses, with a contrast of 4:1 or more against both the light and the dark
// background, with a halo of the background colour around it so it stays apart from the bars it
// touches.
const (
	SelectionWidth = 4
	selectionHalo  = 2
)

// SelectionColor is the selection outline's colour.
var SelectionColor = color.NRGBA{R: 0xf0, G: 0x20, B: 0x80, A: 0xff}

// Raster limits. Past them the diagram is rasterised smaller and the painter stretches it: a texture side
// beyond 16384 fails on common GPUs, and 32 M pixels is already 128 MB of RGBA.
const (
	maxRasterSide   = 16384
	maxRasterPixels = 32 << 20
)

// Tooltip placement relative to the pointer, in Fyne units: below and to the right, like a system tooltip.
const (
	tipOffsetX = 12
	tipOffsetY = 20
)

var (
	_ fyne.Widget       = (*DiagramView)(nil)
	_ fyne.Tappable     = (*DiagramView)(nil)
	_ desktop.Hoverable = (*DiagramView)(nil)
)

// DiagramView shows the block stack of one or more models side by side. It rasterises the same
// render.Diagram the PNG and SVG exporters draw, at the canvas scale times the zoom, so the window and an
// export show the same picture; the selection and the tooltip are drawn above it by Fyne.
//
// Tapping an item selects it; tapping the header of a folded "N ×" card unfolds it. The keyboard is the
// application's to bind (see HandleKey), so the view never takes the focus from the window's shortcuts.
//
// Item pointers handed to the callbacks point into Diagram().Items and stay valid until the next
// SetModels, SetOptions or ToggleFold.
type DiagramView struct {
	widget.BaseWidget

	// OnSelect is called when the selection changes: by a tap, a Select… method or ToggleFold. item is
	// the shape that shows ref (the bar rather than its label), nil when the selection was cleared.
	OnSelect func(ref render.Ref, item *render.Item)
	// OnHover is called when the pointer moves onto another item, with nil when it leaves them all.
	OnHover func(item *render.Item)
	// NoTooltip turns off the tooltip the view draws beside the pointer; OnHover still fires.
	NoTooltip bool

	models []render.Model
	opt    render.Options
	diag   *render.Diagram
	gen    uint64 // counts layouts, so the renderer knows when its raster is stale
	zoom   float32

	sel    render.Ref
	hasSel bool

	hover  *render.Item // the shape under the pointer, nil when none
	tipPos fyne.Position
}

// NewDiagramView returns an empty view at zoom 1 with the default options.
func NewDiagramView() *DiagramView {
	v := &DiagramView{zoom: 1}
	v.diag = render.Layout(nil, v.opt)
	v.ExtendBaseWidget(v)
	return v
}

// CreateRenderer is part of fyne.Widget.
func (v *DiagramView) CreateRenderer() fyne.WidgetRenderer {
	v.ExtendBaseWidget(v)
	r := &diagramViewRenderer{
		v:     v,
		bg:    canvas.NewRectangle(color.Transparent),
		sel:   canvas.NewRectangle(color.Transparent),
		halo:  canvas.NewRectangle(color.Transparent),
		tipBg: canvas.NewRectangle(color.Transparent),
		tip:   canvas.NewText("", color.Black),
	}
	r.raster = canvas.NewRaster(r.generate)
	r.objects = []fyne.CanvasObject{r.bg, r.raster, r.halo, r.sel, r.tipBg, r.tip}
	r.Refresh()
	return r
}

// SetModels lays out new models and clears the selection. The options, unfolded groups included, stay
// as they are: they name models by index, so a caller that replaces the models resets them with
// SetOptions.
func (v *DiagramView) SetModels(models []render.Model) {
	v.models = append([]render.Model(nil), models...)
	v.sel, v.hasSel = render.Ref{}, false
	v.relayout()
	v.Refresh()
}

// Models returns the models shown.
func (v *DiagramView) Models() []render.Model { return v.models }

// SetOptions lays the models out again with new options (theme, unfolded groups, width). The selection
// stays where it still exists.
func (v *DiagramView) SetOptions(opt render.Options) {
	v.opt = opt
	v.relayout()
	if v.hasSel && v.itemFor(v.sel) == nil {
		v.sel, v.hasSel = render.Ref{}, false
	}
	v.Refresh()
}

// Options returns the layout options, with the groups unfolded by ToggleFold or a tap in Unfold.
func (v *DiagramView) Options() render.Options { return v.opt }

// Diagram returns the current layout in model units, for export.
func (v *DiagramView) Diagram() *render.Diagram { return v.diag }

func (v *DiagramView) relayout() {
	v.diag = render.Layout(v.models, v.opt)
	v.gen++
	v.hover = nil // it pointed into the old items
}

// SetZoom sets the zoom, clamped to MinZoom–MaxZoom. Only the raster is redrawn; the layout stays.
func (v *DiagramView) SetZoom(z float32) {
	z = clampZoom(z)
	if z == v.zoom {
		return
	}
	v.zoom = z
	v.Refresh()
}

// Zoom returns the zoom: 1 draws one model unit per Fyne unit.
func (v *DiagramView) Zoom() float32 { return v.zoom }

// ZoomIn zooms in by one step.
func (v *DiagramView) ZoomIn() { v.SetZoom(v.zoom * ZoomStep) }

// ZoomOut zooms out by one step.
func (v *DiagramView) ZoomOut() { v.SetZoom(v.zoom / ZoomStep) }

func clampZoom(z float32) float32 {
	switch {
	case !(z >= MinZoom): // NaN too
		return MinZoom
	case z > MaxZoom:
		return MaxZoom
	}
	// Snap to a power of the step when within rounding of one, so zooming out and back in returns to
	// exactly 1 and the raster to the exporters' pixels.
	k := math.Round(math.Log(float64(z)) / math.Log(ZoomStep))
	if p := math.Pow(ZoomStep, k); math.Abs(float64(z)-p) < 1e-4*p {
		return float32(p)
	}
	return z
}

// Select selects what ref shows; a ref the diagram does not show clears the selection.
func (v *DiagramView) Select(ref render.Ref) {
	if ref.What == render.RefNone || v.itemFor(ref) == nil {
		v.clearSelection()
		return
	}
	v.setSelection(ref, false)
}

// Selected returns the selection, false when there is none.
func (v *DiagramView) Selected() (render.Ref, bool) { return v.sel, v.hasSel }

// SelectNext moves the selection one step up the selected model's stack, the way the computation runs:
// embeddings, the cards from block 0 upwards, the final norm, the LM head. A part inside a card counts as
// its card. With nothing selected it selects the first model's lowest embedding.
func (v *DiagramView) SelectNext() { v.stepStack(+1) }

// SelectPrev moves the selection one step down the stack; with nothing selected it selects the first
// model's LM head (the top of its stack).
func (v *DiagramView) SelectPrev() { v.stepStack(-1) }

// SelectNextPart moves the selection to the next part of the selected card, top to bottom as drawn (the
// order the block computes them); from the card itself it selects the card's first part.
func (v *DiagramView) SelectNextPart() { v.stepPart(+1) }

// SelectPrevPart moves the selection to the previous part of the selected card; from the card itself it
// selects the card's last part.
func (v *DiagramView) SelectPrevPart() { v.stepPart(-1) }

// ToggleFold unfolds the selected folded card into one card per block, selecting the first of them (the
// same part, where a part was selected), or folds the group of the selected unfolded card back, selecting
// the folded card. It does nothing outside the blocks or with Options().UnfoldAll.
func (v *DiagramView) ToggleFold() {
	if !v.hasSel {
		return
	}
	if next, ok := v.toggle(v.sel); ok {
		v.setSelection(next, true)
	}
}

// HandleKey applies the view's keyboard bindings, for an application to call from its canvas's
// OnTypedKey, and reports whether the key was one of them: Up and Down move along the stack (Up is
// SelectNext, since block 0 is at the bottom), Right and Left between the parts of a card, Return and
// Enter fold or unfold, + and = zoom in, - zooms out.
func (v *DiagramView) HandleKey(key fyne.KeyName) bool {
	switch key {
	case fyne.KeyUp:
		v.SelectNext()
	case fyne.KeyDown:
		v.SelectPrev()
	case fyne.KeyRight:
		v.SelectNextPart()
	case fyne.KeyLeft:
		v.SelectPrevPart()
	case fyne.KeyReturn, fyne.KeyEnter:
		v.ToggleFold()
	case fyne.KeyPlus, fyne.KeyEqual:
		v.ZoomIn()
	case fyne.KeyMinus:
		v.ZoomOut()
	default:
		return false
	}
	return true
}

// Tapped selects the item under the pointer, unfolds a folded card whose header was tapped, and clears
// the selection on empty space. It is part of fyne.Tappable.
func (v *DiagramView) Tapped(ev *fyne.PointEvent) {
	x, y := v.toModel(ev.Position)
	it := v.diag.HitTest(x, y)
	if it == nil {
		v.clearSelection()
		return
	}
	ref := it.Ref
	if ref.What == render.RefCard && ref.End > ref.Start && y < v.headerBottom(ref) {
		if next, ok := v.toggle(ref); ok {
			v.setSelection(next, true)
			return
		}
	}
	v.setSelection(ref, false)
}

// MouseIn is part of desktop.Hoverable.
func (v *DiagramView) MouseIn(ev *desktop.MouseEvent) { v.MouseMoved(ev) }

// MouseMoved tracks the item under the pointer for the tooltip and OnHover. It is part of
// desktop.Hoverable.
func (v *DiagramView) MouseMoved(ev *desktop.MouseEvent) {
	x, y := v.toModel(ev.Position)
	var it *render.Item
	if hit := v.diag.HitTest(x, y); hit != nil {
		it = v.itemFor(hit.Ref) // the bar, not its label: the shape carries the tooltip text
	}
	if it == v.hover {
		return
	}
	// The tooltip stays where the pointer entered the item, so moving within a bar does not make it
	// chase the pointer.
	v.hover, v.tipPos = it, ev.Position
	v.Refresh()
	if v.OnHover != nil {
		v.OnHover(it)
	}
}

// MouseOut hides the tooltip. It is part of desktop.Hoverable.
func (v *DiagramView) MouseOut() {
	if v.hover == nil {
		return
	}
	v.hover = nil
	v.Refresh()
	if v.OnHover != nil {
		v.OnHover(nil)
	}
}

func (v *DiagramView) setSelection(ref render.Ref, force bool) {
	if !force && v.hasSel && v.sel == ref {
		return
	}
	v.sel, v.hasSel = ref, true
	v.Refresh()
	if v.OnSelect != nil {
		v.OnSelect(ref, v.itemFor(ref))
	}
}

func (v *DiagramView) clearSelection() {
	if !v.hasSel {
		return
	}
	v.sel, v.hasSel = render.Ref{}, false
	v.Refresh()
	if v.OnSelect != nil {
		v.OnSelect(render.Ref{}, nil)
	}
}

// toggle folds or unfolds the fold group holding the card or part ref shows, lays the diagram out again,
// and returns what to select then.
func (v *DiagramView) toggle(ref render.Ref) (render.Ref, bool) {
	if ref.What == render.RefNone || ref.What == render.RefModel || ref.Start < 0 || ref.Model < 0 ||
		ref.Model >= len(v.models) || v.opt.UnfoldAll {
		return ref, false
	}
	a := v.models[ref.Model].Arch
	if a == nil {
		return ref, false
	}
	var g arch.FoldGroup
	found := false
	for _, fg := range a.FoldGroups() {
		if fg.Start <= ref.Start && ref.Start <= fg.End {
			g, found = fg, true
			break
		}
	}
	if !found || g.Count() == 1 {
		return ref, false
	}
	id := render.FoldID{Model: ref.Model, Start: g.Start}
	// A fresh map: the caller's Options may share theirs.
	unfold := make(map[render.FoldID]bool, len(v.opt.Unfold)+1)
	for k, on := range v.opt.Unfold {
		if on {
			unfold[k] = true
		}
	}
	card := render.Ref{What: render.RefCard, Model: ref.Model}
	next := ref
	if ref.End > ref.Start {
		// Folded: the parts of a folded card are those of its first block, so the same path stays valid.
		unfold[id] = true
		card.Start, card.End = g.Start, g.Start
		next.Start, next.End = g.Start, g.Start
	} else {
		delete(unfold, id)
		card.Start, card.End = g.Start, g.End
		next = card
	}
	v.opt.Unfold = unfold
	v.relayout()
	if v.itemFor(next) == nil {
		next = card
	}
	return next, true
}

// itemFor returns the shape that shows ref (the first drawn, for a fused bar the whole bar), or its first
// line of text where it has no shape (a column title); nil when the diagram does not show ref.
func (v *DiagramView) itemFor(ref render.Ref) *render.Item {
	var text *render.Item
	for i := range v.diag.Items {
		it := &v.diag.Items[i]
		if it.Ref != ref {
			continue
		}
		if it.Kind != render.KindText {
			return it
		}
		if text == nil {
			text = it
		}
	}
	return text
}

// bounds returns the box around everything that shows ref, in model units: its shapes, or its text where
// it has no shape.
func (v *DiagramView) bounds(ref render.Ref) (x0, y0, x1, y1, radius float64, ok bool) {
	for pass := 0; pass < 2 && !ok; pass++ {
		for i := range v.diag.Items {
			it := &v.diag.Items[i]
			if it.Ref != ref || (pass == 0) != (it.Kind != render.KindText) {
				continue
			}
			if !ok {
				x0, y0, x1, y1, radius, ok = it.X, it.Y, it.X+it.W, it.Y+it.H, it.Radius, true
				continue
			}
			x0, y0 = math.Min(x0, it.X), math.Min(y0, it.Y)
			x1, y1 = math.Max(x1, it.X+it.W), math.Max(y1, it.Y+it.H)
		}
	}
	return
}

// cardOf returns the card a part or expert row sits in; other refs are their own stop on the stack.
func cardOf(ref render.Ref) render.Ref {
	if (ref.What == render.RefPart || ref.What == render.RefExperts) && ref.Start >= 0 {
		return render.Ref{What: render.RefCard, Model: ref.Model, Start: ref.Start, End: ref.End}
	}
	return ref
}

// stops returns the items SelectNext steps through in model m's column, bottom to top as drawn: the
// embeddings, the cards, the final norm, the LM head.
func (v *DiagramView) stops(m int) []*render.Item {
	var out []*render.Item
	seen := map[render.Ref]bool{}
	for i := range v.diag.Items {
		it := &v.diag.Items[i]
		r := it.Ref
		if r.Model != m || it.Kind == render.KindText || seen[r] {
			continue
		}
		if r.What == render.RefCard || (r.What == render.RefPart && r.Start < 0) {
			seen[r] = true
			out = append(out, it)
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return centreY(out[a]) > centreY(out[b]) })
	return out
}

func centreY(it *render.Item) float64 { return it.Y + it.H/2 }

func (v *DiagramView) stepStack(dir int) {
	m := 0
	if v.hasSel {
		m = v.sel.Model
	}
	st := v.stops(m)
	if len(st) == 0 {
		return
	}
	if !v.hasSel {
		if dir > 0 {
			v.setSelection(st[0].Ref, false)
		} else {
			v.setSelection(st[len(st)-1].Ref, false)
		}
		return
	}
	cur := cardOf(v.sel)
	for k, it := range st {
		if it.Ref == cur {
			if j := k + dir; j >= 0 && j < len(st) {
				v.setSelection(st[j].Ref, false)
			}
			return
		}
	}
	// Not on the stack (a column title): take the nearest stop in the direction of travel.
	at := v.itemFor(v.sel)
	if at == nil {
		return
	}
	y := centreY(at)
	if dir > 0 {
		for _, it := range st {
			if centreY(it) < y {
				v.setSelection(it.Ref, false)
				return
			}
		}
		return
	}
	for k := len(st) - 1; k >= 0; k-- {
		if centreY(st[k]) > y {
			v.setSelection(st[k].Ref, false)
			return
		}
	}
}

// parts returns the parts of a card, top to bottom and left to right as drawn.
func (v *DiagramView) parts(card render.Ref) []*render.Item {
	if card.What != render.RefCard {
		return nil
	}
	var out []*render.Item
	seen := map[render.Ref]bool{}
	for i := range v.diag.Items {
		it := &v.diag.Items[i]
		r := it.Ref
		if it.Kind == render.KindText || seen[r] || r.Model != card.Model || r.Start != card.Start ||
			r.End != card.End || (r.What != render.RefPart && r.What != render.RefExperts) {
			continue
		}
		seen[r] = true
		out = append(out, it)
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].Y != out[b].Y {
			return out[a].Y < out[b].Y
		}
		return out[a].X < out[b].X
	})
	return out
}

func (v *DiagramView) stepPart(dir int) {
	if !v.hasSel {
		return
	}
	card := cardOf(v.sel)
	ps := v.parts(card)
	if len(ps) == 0 {
		return
	}
	if v.sel == card {
		if dir > 0 {
			v.setSelection(ps[0].Ref, false)
		} else {
			v.setSelection(ps[len(ps)-1].Ref, false)
		}
		return
	}
	for k, it := range ps {
		if it.Ref == v.sel {
			if j := k + dir; j >= 0 && j < len(ps) {
				v.setSelection(ps[j].Ref, false)
			}
			return
		}
	}
}

// headerBottom returns the y where a card's header ends: the top of its first part, or the card's bottom
// for a compact card, which is all header.
func (v *DiagramView) headerBottom(card render.Ref) float64 {
	bottom := math.Inf(1)
	for i := range v.diag.Items {
		it := &v.diag.Items[i]
		r := it.Ref
		switch {
		case r == card && it.Kind == render.KindCard:
			bottom = math.Min(bottom, it.Y+it.H)
		case r.Model == card.Model && r.Start == card.Start && r.End == card.End &&
			(r.What == render.RefPart || r.What == render.RefExperts):
			bottom = math.Min(bottom, it.Y)
		}
	}
	return bottom
}

// SelectionRect returns the box around the selection in the view's own coordinates (at the zoom), so
// a scroll container can bring it into sight; ok is false without a selection.
func (v *DiagramView) SelectionRect() (pos fyne.Position, size fyne.Size, ok bool) {
	if !v.hasSel {
		return pos, size, false
	}
	return v.RefRect(v.sel)
}

// RefRect returns the box around what ref shows in the view's own coordinates (at the zoom); ok is
// false when the diagram does not show it.
func (v *DiagramView) RefRect(ref render.Ref) (pos fyne.Position, size fyne.Size, ok bool) {
	if v.diag == nil {
		return pos, size, false
	}
	x0, y0, x1, y1, _, found := v.bounds(ref)
	if !found {
		return pos, size, false
	}
	o := v.origin()
	pos = fyne.NewPos(o.X+float32(x0)*v.zoom, o.Y+float32(y0)*v.zoom)
	return pos, fyne.NewSize(float32(x1-x0)*v.zoom, float32(y1-y0)*v.zoom), true
}

// diagramSize is the diagram's size at the zoom, in whole Fyne units so that at zoom 1 and canvas scale 1
// the raster has exactly the pixels of Diagram.Image(1).
func (v *DiagramView) diagramSize() fyne.Size {
	z := float64(v.zoom)
	return fyne.NewSize(float32(math.Ceil(v.diag.Width*z)), float32(math.Ceil(v.diag.Height*z)))
}

// origin is where the diagram's top left sits in the view: centred across a view wider than it, at the
// top, on a whole unit so its pixels stay aligned.
func (v *DiagramView) origin() fyne.Position {
	extra := v.Size().Width - v.diagramSize().Width
	if extra <= 0 {
		return fyne.Position{}
	}
	return fyne.NewPos(float32(math.Floor(float64(extra/2))), 0)
}

// toModel converts a position in the view to model units.
func (v *DiagramView) toModel(p fyne.Position) (x, y float64) {
	o := v.origin()
	return float64((p.X - o.X) / v.zoom), float64((p.Y - o.Y) / v.zoom)
}

// diagramViewRenderer draws the raster, the selection outline and the tooltip. It keeps the raster
// between frames: a selection or hover redraws only the overlay.
type diagramViewRenderer struct {
	v       *DiagramView
	bg      *canvas.Rectangle // the diagram's background where the view is larger than the diagram
	raster  *canvas.Raster
	sel     *canvas.Rectangle
	halo    *canvas.Rectangle // under sel, in the background colour
	tipBg   *canvas.Rectangle
	tip     *canvas.Text
	objects []fyne.CanvasObject

	// The state the raster is drawn from, copied at Refresh: a driver may call the generator while the
	// widget changes.
	mu       sync.Mutex
	diag     *render.Diagram
	gen      uint64
	zoom     float32
	img      *image.RGBA
	imgGen   uint64
	imgScale float64
}

// generate rasterises the diagram to fill w×h pixels, reusing the last image while nothing changed.
func (r *diagramViewRenderer) generate(w, h int) image.Image {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.diag == nil || w <= 0 || h <= 0 {
		return image.NewRGBA(image.Rect(0, 0, 1, 1))
	}
	// Pixels per model unit: the zoom times the canvas scale, which is the raster's pixels per Fyne unit.
	s := float64(r.zoom)
	if size := r.raster.Size(); size.Width > 0 {
		s *= float64(w) / float64(size.Width)
	}
	f := 1.0
	if px := float64(w) * float64(h); px > maxRasterPixels {
		f = math.Sqrt(maxRasterPixels / px)
	}
	f = math.Min(f, math.Min(maxRasterSide/float64(w), maxRasterSide/float64(h)))
	if f < 1 {
		w, h, s = max(1, int(float64(w)*f)), max(1, int(float64(h)*f)), s*f
	}
	if r.img != nil && r.imgGen == r.gen && r.imgScale == s && r.img.Rect.Dx() == w && r.img.Rect.Dy() == h {
		return r.img
	}
	if r.img == nil || r.img.Rect.Dx() != w || r.img.Rect.Dy() != h {
		r.img = image.NewRGBA(image.Rect(0, 0, w, h))
	}
	r.diag.Draw(r.img, s) // paints the background first, so a reused image needs no clearing
	r.imgGen, r.imgScale = r.gen, s
	return r.img
}

func (r *diagramViewRenderer) Destroy() {}

func (r *diagramViewRenderer) Objects() []fyne.CanvasObject { return r.objects }

func (r *diagramViewRenderer) MinSize() fyne.Size { return r.v.diagramSize() }

// Layout positions the raster, the selection outline and the tooltip.
func (r *diagramViewRenderer) Layout(size fyne.Size) {
	v := r.v
	r.bg.Resize(size)
	o := v.origin()
	r.raster.Move(o)
	r.raster.Resize(v.diagramSize())

	r.sel.Hidden = !v.hasSel
	if v.hasSel {
		if x0, y0, x1, y1, radius, ok := v.bounds(v.sel); ok {
			z := v.zoom
			pad := r.sel.StrokeWidth/2 + selectionHalo // the stroke is centred on the edge: the halo between it and the shape
			r.sel.Move(fyne.NewPos(o.X+float32(x0)*z-pad, o.Y+float32(y0)*z-pad))
			r.sel.Resize(fyne.NewSize(float32(x1-x0)*z+2*pad, float32(y1-y0)*z+2*pad))
			r.sel.CornerRadius = float32(radius)*z + pad
			// The halo's wider stroke on the same edge: a band of background on either side of the outline.
			r.halo.Move(r.sel.Position())
			r.halo.Resize(r.sel.Size())
			r.halo.CornerRadius = r.sel.CornerRadius
		} else {
			r.sel.Hidden = true
		}
	}
	r.halo.Hidden = r.sel.Hidden

	r.tip.Hidden = v.NoTooltip || v.hover == nil || v.hover.Tip == ""
	r.tipBg.Hidden = r.tip.Hidden
	if !r.tip.Hidden {
		pad := theme.SizeForWidget(theme.SizeNameInnerPadding, v) / 2
		ts := fyne.MeasureText(r.tip.Text, r.tip.TextSize, r.tip.TextStyle)
		box := fyne.NewSize(ts.Width+2*pad, ts.Height+2*pad)
		p := v.tipPos.Add(fyne.NewPos(tipOffsetX, tipOffsetY))
		if p.X+box.Width > size.Width {
			p.X = max(0, size.Width-box.Width)
		}
		if p.Y+box.Height > size.Height {
			p.Y = max(0, v.tipPos.Y-box.Height-tipOffsetY/2)
		}
		r.tipBg.Move(p)
		r.tipBg.Resize(box)
		r.tip.Move(p.Add(fyne.NewPos(pad, pad)))
		r.tip.Resize(ts)
	}
}

// Refresh takes up the widget's state: a new layout or zoom redraws the raster; a selection, hover or
// theme change only restyles and moves the overlay.
func (r *diagramViewRenderer) Refresh() {
	v := r.v
	r.mu.Lock()
	redraw := r.diag != v.diag || r.gen != v.gen || r.zoom != v.zoom
	r.diag, r.gen, r.zoom = v.diag, v.gen, v.zoom
	r.mu.Unlock()

	r.bg.FillColor = render.ParseColor(v.diag.Background)
	r.sel.StrokeColor = SelectionColor
	r.sel.StrokeWidth = SelectionWidth
	r.halo.StrokeColor = r.bg.FillColor
	r.halo.StrokeWidth = SelectionWidth + 2*selectionHalo
	r.tipBg.FillColor = theme.ColorForWidget(theme.ColorNameOverlayBackground, v)
	r.tipBg.StrokeColor = theme.ColorForWidget(theme.ColorNameInputBorder, v)
	r.tipBg.StrokeWidth = theme.SizeForWidget(theme.SizeNameInputBorder, v) / 2
	r.tipBg.CornerRadius = theme.SizeForWidget(theme.SizeNameInputRadius, v)
	r.tip.Color = theme.ColorForWidget(theme.ColorNameForeground, v)
	r.tip.TextSize = theme.SizeForWidget(theme.SizeNameCaptionText, v)
	r.tip.Text = ""
	if v.hover != nil {
		r.tip.Text = v.hover.Tip
	}

	r.Layout(v.Size())
	if redraw {
		r.raster.Refresh()
	}
	r.bg.Refresh()
	r.sel.Refresh()
	r.halo.Refresh()
	r.tipBg.Refresh()
	r.tip.Refresh()
}
