package app

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"slices"
	"strings"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/gallery"
	"github.com/layerscope/layerscope/modelio/printable"
	"github.com/layerscope/layerscope/render"
	"github.com/layerscope/layerscope/widgets"
)

// maxCompare is how many models fit side by side: five columns of the narrowest readable width fill a
// 1280-wide projector (render's minColumn).
const maxCompare = 5

// Window is Layerscope's main window: a toolbar, the drawn stack in the centre, the side panel (the
// selected part, key facts, module tree, comparison) on the right and a status line below.
type Window struct {
	app    fyne.App
	win    fyne.Window
	theme  *appTheme
	recent recentList

	// models are drawn side by side (one unless comparing); models[focus] fills the facts and tree.
	models []*modelio.Model
	focus  int

	view    *widgets.DiagramView
	scroll  *container.Scroll
	autoFit bool // the zoom follows the window until the user zooms by hand
	fitAll  bool // with autoFit: the user asked for Fit, which shows the whole stack however small

	// beforePresent is the view as it was when the presentation began, restored when it ends.
	beforePresent viewState

	mainMenu  *fyne.MainMenu    // the menus, also while presenting, when the menu bar is hidden
	shortcuts map[string]func() // the menus' shortcuts by name, for a focused entry to hand on
	menuBtn   *keyButton        // the toolbar's ☰, offering the menus where the bar or buttons are hidden
	bar       *toolbarLayout

	selection  *selectionPanel
	facts      *factsPanel
	tree       *treePanel
	compare    *comparePanel
	importance *importancePanel
	tabs       *container.AppTabs
	sideSplit  *container.Split // the selection above the tabs
	split      *container.Split
	side       fyne.CanvasObject
	sideShown  bool

	banner    *banner
	status    *widget.Label
	busy      *busyBox
	busyLabel *widget.Label
	zoomLabel *widget.Label
	gallery   *keySelect
	labelled  []labelledButton // toolbar buttons whose labels hide while presenting
	statusBar fyne.CanvasObject
	syncing   bool // set while the window updates the gallery picker itself
	empty     fyne.CanvasObject
	stack     *fyne.Container // the diagram or the empty state

	hfModels []hfModel       // the local Hugging Face cache, scanned in the background
	tabIcons []fyne.Resource // the side tabs' icons, hidden while presenting

	// scores are the importance runs' results by modelKey: kept when a model leaves the screen, so
	// opening it again shows them again.
	scores    map[string]*modelResult
	whatIf    *whatIf // a pruned model on screen in place of the full one, nil when none
	whatIfBar *whatIfBar
	width     *widthPanel // the width what-if's controls above the stack (widthwhatif.go)

	loadSeq int            // the newest load; an older one that finishes late is ignored
	loads   sync.WaitGroup // running loads, for tests
	onShown []func()       // run once after the next model is shown (the test hook)
}

// newWindow builds the window on a (the real app or Fyne's test app) without showing it.
func newWindow(a fyne.App) *Window {
	w := &Window{app: a, win: a.NewWindow("Layerscope"), recent: recentList{a.Preferences()}, autoFit: true, sideShown: true}
	w.theme = &appTheme{dark: a.Preferences().Bool(prefDark)}
	a.Settings().SetTheme(w.theme)

	w.view = widgets.NewDiagramView()
	w.view.SetOptions(render.Options{Theme: w.theme.diagramTheme()})
	w.view.OnSelect = w.selected
	w.view.OnHover = w.hovered
	// Centred: a single model's stack sits in the middle of the space, not against its left edge.
	w.scroll = container.NewScroll(container.NewCenter(w.view))

	w.selection = newSelectionPanel(w)
	w.facts = newFactsPanel()
	w.tree = newTreePanel(w)
	w.compare = newComparePanel(w)
	w.scores = map[string]*modelResult{}
	w.importance = newImportancePanel(w, newRealEngine())
	w.tabs = container.NewAppTabs(
		container.NewTabItemWithIcon("Facts", theme.InfoIcon(), w.facts.content),
		// "Tree", not "Module tree": four tabs must fit the side panel's width on a 1280-wide screen.
		container.NewTabItemWithIcon("Tree", theme.ListIcon(), w.tree.content),
		container.NewTabItemWithIcon("Compare", theme.ViewRestoreIcon(), w.compare.content),
		container.NewTabItemWithIcon("Importance", theme.ComputerIcon(), w.importance.content),
	)
	for _, it := range w.tabs.Items {
		w.tabIcons = append(w.tabIcons, it.Icon)
	}
	// The device is looked for when the tab is first shown: loading a CUDA plugin takes a second or
	// more, which a user who never runs anything should not pay for.
	w.tabs.OnSelected = func(t *container.TabItem) {
		if t.Content == w.importance.content {
			w.importance.probe()
		}
		w.fitSideSplit()
	}
	// The selection above the tabs, in a split the lecturer can drag: a part's tensors stay in view while
	// the facts or the tree are read below.
	w.sideSplit = container.NewVSplit(w.selection.content, w.tabs)
	w.sideSplit.Offset = selectionShare
	w.side = w.sideSplit

	w.banner = newBanner(w)
	w.whatIfBar = newWhatIfBar(w)
	w.width = newWidthPanel(w)
	w.status = widget.NewLabel("")
	w.status.Truncation = fyne.TextTruncateEllipsis
	w.busyLabel = widget.NewLabel("")
	w.busyLabel.Truncation = fyne.TextTruncateEllipsis
	bar := widget.NewProgressBarInfinite()
	w.busy = &busyBox{Container: container.NewHBox(atLeast(12, w.busyLabel), container.NewGridWrap(fyne.NewSize(120, bar.MinSize().Height), bar))}
	w.busy.Hide()
	w.zoomLabel = widget.NewLabelWithStyle("100%", fyne.TextAlignCenter, fyne.TextStyle{Monospace: true})

	w.empty = w.emptyState()
	w.stack = container.NewStack(w.scroll, w.empty)
	w.scroll.Hide()
	centre := container.NewBorder(container.NewVBox(w.banner.content, w.whatIfBar.content, w.width.content), nil, nil, nil,
		container.New(&resizeWatcher{onResize: w.resized}, w.stack))
	w.banner.parent = centre
	w.split = container.NewHSplit(centre, w.side)
	w.split.Offset = 0.66

	w.status.SetText(w.hint())
	w.statusBar = container.NewVBox(widget.NewSeparator(), w.status)
	w.win.SetContent(container.NewBorder(
		container.NewVBox(w.toolbar(), widget.NewSeparator()),
		w.statusBar,
		nil, nil, w.split))

	w.win.SetOnDropped(w.dropped)
	w.installKeys()
	w.refreshModelPanels()
	w.refreshMenus()
	w.refreshChrome()
	w.scanHFCacheLater()
	return w
}

// toolbar is the row of the commands used most: open, the gallery, compare, zoom, theme, present.
func (w *Window) toolbar() fyne.CanvasObject {
	var ids []string
	for _, e := range gallery.All() {
		ids = append(ids, e.ID)
	}
	w.gallery = newKeySelect(w, ids, func(id string) {
		if w.syncing || id == "" {
			return
		}
		w.win.Canvas().Unfocus() // give the arrow keys back to the stack
		w.open([]string{id}, false)
	})
	w.gallery.PlaceHolder = "Gallery: pick a model…"
	galleryBox := atLeast(18, w.gallery) // room for "microsoft/Phi-4-mini-instruct"

	// Buttons carry their labels in the normal theme and only their icons while presenting, where the
	// labels at 1.6× would push the toolbar past a 1280-wide screen.
	button := func(label string, icon fyne.Resource, fn func()) *keyButton {
		b := newKeyButton(w, label, icon, fn)
		b.Importance = widget.LowImportance
		if label != "" {
			w.labelled = append(w.labelled, labelledButton{b, label})
		}
		return b
	}
	w.menuBtn = newKeyButton(w, "", theme.MenuIcon(), func() { w.popUpMainMenu(w.menuBtn) })
	w.menuBtn.Importance = widget.LowImportance
	open := button("Open…", theme.FolderOpenIcon(), w.openFolderDialog)
	var add *keyButton
	add = button("Add to comparison", theme.ContentAddIcon(), func() { w.popUpAddMenu(add) })
	zoomOut := button("", theme.ZoomOutIcon(), w.zoomOut)
	zoomIn := button("", theme.ZoomInIcon(), w.zoomIn)
	fit := button("Fit", theme.ZoomFitIcon(), w.fit)
	dark := button("", theme.ColorPaletteIcon(), func() { w.setDark(!w.theme.dark) })
	present := button("Present", theme.MediaPlayIcon(), func() { w.setPresenting(!w.theme.present) })
	panel := button("Panel", theme.ViewRestoreIcon(), w.toggleSide)

	// The progress of a load sits in the toolbar, which stays on screen while presenting.
	sep := widget.NewSeparator()
	w.bar = &toolbarLayout{
		left:        []fyne.CanvasObject{w.menuBtn, open, galleryBox, add, w.busy.Container},
		right:       []fyne.CanvasObject{zoomOut, atLeast(3.5, w.zoomLabel), zoomIn, fit, sep, dark, present, panel},
		collapsible: map[fyne.CanvasObject]bool{open: true, add: true, sep: true, dark: true, panel: true},
		menu:        w.menuBtn,
		showMenu:    func() bool { return w.theme.present },
	}
	box := container.New(w.bar, append(append([]fyne.CanvasObject{}, w.bar.left...), w.bar.right...)...)
	w.busy.toolbar = box
	return box
}

// busyBox is the load's progress in the toolbar: showing or hiding it lays the toolbar out again, which
// a container does not do when one of its objects changes visibility.
type busyBox struct {
	*fyne.Container
	toolbar *fyne.Container
}

func (b *busyBox) Show() { b.Container.Show(); b.relayout() }
func (b *busyBox) Hide() { b.Container.Hide(); b.relayout() }

func (b *busyBox) relayout() {
	if b.toolbar != nil {
		b.toolbar.Refresh()
	}
}

// labelledButton is a toolbar button and its label.
type labelledButton struct {
	b     *keyButton
	label string
}

// emptyState is what the centre shows with no model: how to get one.
func (w *Window) emptyState() fyne.CanvasObject {
	title := widget.NewLabelWithStyle("Drop a model folder here", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	title.SizeName = theme.SizeNameHeadingText
	sub := widget.NewLabelWithStyle("a Hugging Face folder, a config.json or .safetensors files,\nor pick a model from the gallery",
		fyne.TextAlignCenter, fyne.TextStyle{})
	open := newKeyButton(w, "Open Folder…", theme.FolderOpenIcon(), w.openFolderDialog)
	open.Importance = widget.HighImportance
	def := newKeyButton(w, "Show "+gallery.Default, nil, func() { w.open([]string{gallery.Default}, false) })
	return container.NewCenter(container.NewVBox(title, sub, container.NewCenter(container.NewHBox(open, def))))
}

// show draws the models: it is where every load ends.
func (w *Window) show(models []*modelio.Model) {
	w.models = models
	if w.focus >= len(models) {
		w.focus = 0
	}
	var rm []render.Model
	for _, m := range models {
		rm = append(rm, render.Model{Name: m.Name, Params: m.Spec.Root.NumParams(), Arch: m.Arch, Numbers: w.blockNumbers(m),
			Former: w.formerWidths(m), FormerIn: w.formerInputs(m)})
	}
	w.refreshWhatIf()
	// Unfolded groups name models by index: a new set of models starts folded. Scores are by index too,
	// and each model brings its own.
	opts := w.view.Options()
	opts.Unfold = nil
	opts.Scores = w.scoreOptions()
	w.view.SetOptions(opts)
	w.view.SetModels(rm)
	if len(models) == 0 {
		w.scroll.Hide()
		w.empty.Show()
	} else {
		w.empty.Hide()
		w.scroll.Show()
	}
	w.autoFit, w.fitAll = true, false
	if w.fitNow() {
		w.revealBars()
	}
	w.selection.clear()
	w.status.SetText(w.hint())
	w.refreshModelPanels()
	w.split.Refresh() // the side panel's minimum width may have changed with the panels
	w.refreshMenus()
	w.refreshChrome()
	for _, f := range w.onShown {
		go f()
	}
	w.onShown = nil
}

// refreshModelPanels fills the facts, the tree and the comparison from the models and the focus.
func (w *Window) refreshModelPanels() {
	var m *modelio.Model
	if len(w.models) > 0 {
		m = w.models[w.focus]
	}
	w.facts.show(m, len(w.models) > 1)
	w.tree.show(m)
	w.compare.show(w.models)
	w.importance.show()
}

// refreshChrome updates the title, the gallery picker and the zoom readout.
func (w *Window) refreshChrome() {
	w.win.SetTitle(windowTitle(w.models))
	w.syncing = true
	if len(w.models) == 1 {
		if e, ok := gallery.Find(w.models[0].Name); ok && w.models[0].Path == "" {
			w.gallery.SetSelected(e.ID)
		} else {
			w.gallery.ClearSelected()
		}
	} else {
		w.gallery.ClearSelected()
	}
	w.syncing = false
	for _, lb := range w.labelled {
		if text := map[bool]string{false: lb.label, true: ""}[w.theme.present]; lb.b.Text != text {
			lb.b.SetText(text)
		}
	}
	// Presenting, the tabs lose their icons: at 1.6× type the four labels fit the side panel only
	// without them (with them, Importance moved into the overflow menu).
	changed := false
	for k, it := range w.tabs.Items {
		icon := w.tabIcons[k]
		if w.theme.present {
			icon = nil
		}
		if it.Icon != icon {
			it.Icon, changed = icon, true
		}
	}
	if changed {
		w.tabs.Refresh()
	}
	if len(w.models) == 0 {
		w.zoomLabel.SetText("—")
	} else {
		w.zoomLabel.SetText(fmt.Sprintf("%3.0f%%", w.view.Zoom()*100))
	}
}

// windowTitle is "Layerscope — llama-3.2-1b", or the models compared joined by "vs".
func windowTitle(models []*modelio.Model) string {
	if len(models) == 0 {
		return "Layerscope"
	}
	var names []string
	for _, m := range models {
		names = append(names, m.Name)
	}
	return "Layerscope — " + strings.Join(names, " vs ")
}

// selected follows a click or an arrow key in the diagram: the side panel shows the part, and the facts
// and tree follow the model it belongs to.
func (w *Window) selected(ref render.Ref, it *render.Item) {
	// A tap on a folded card's header or Enter unfolds it: the stack grew at the same zoom, and the
	// scroll learns of its new size before the selection is brought into sight.
	w.scroll.Refresh()
	if ref.Model >= 0 && ref.Model < len(w.models) && ref.Model != w.focus {
		w.focus = ref.Model
		w.refreshModelPanels()
	}
	if ref.Model < 0 || ref.Model >= len(w.models) {
		w.selection.clear()
		return
	}
	w.selection.numbers = w.blockNumbers(w.models[ref.Model])
	w.selection.show(w.models[ref.Model], ref, it)
	w.reveal()
}

// reveal scrolls the stack so the selection is in sight, whatever selected it: a tap, the arrow keys,
// or a bar of the importance chart (whose block may be far down a 32-block stack).
func (w *Window) reveal() {
	pos, size, ok := w.view.SelectionRect()
	if !ok {
		return
	}
	w.revealRect(pos, size)
}

// blockNumbers are the numbers the stack gives m's blocks: the full model's for a what-if that removed
// some (block 7 stays block 7), nil (0, 1, …) otherwise.
func (w *Window) blockNumbers(m *modelio.Model) []int {
	if w.whatIf == nil || m != w.whatIf.pruned {
		return nil
	}
	return modelio.KeptBlocks(len(w.whatIf.orig.Arch.Blocks), w.whatIf.remove)
}

// revealRect scrolls the stack so the box (in the view's coordinates) is in sight, its top first.
func (w *Window) revealRect(pos fyne.Position, size fyne.Size) {
	const margin = 24
	// The view sits centred in the scroll's content: its own position is the offset to add.
	pos = pos.Add(w.view.Position())
	view, off := w.scroll.Size(), w.scroll.Offset
	into := func(start, length, offset, visible float32) float32 {
		switch {
		case length+2*margin > visible || start-margin < offset:
			return max(0, start-margin) // too tall to fit: its top in sight
		case start+length+margin > offset+visible:
			return start + length + margin - visible
		}
		return offset
	}
	next := fyne.NewPos(into(pos.X, size.Width, off.X, view.Width), into(pos.Y, size.Height, off.Y, view.Height))
	if next != off {
		w.scroll.ScrollToOffset(next)
	}
}

// hovered shows the item under the pointer in the status line.
func (w *Window) hovered(it *render.Item) {
	switch {
	case it == nil:
		w.status.SetText(w.hint())
	case it.Tip != "":
		w.status.SetText(it.Tip)
	default:
		w.status.SetText(it.Text)
	}
}

// hint is the status line's resting text: what the keyboard does.
func (w *Window) hint() string {
	if len(w.models) == 0 {
		return "Drop a model folder on the window, or pick one from the gallery"
	}
	return "Click a bar for its tensors · ↑↓ blocks · ←→ projections · Enter unfolds · +/− zoom · F5 present · F11 full screen"
}

// Zoom of the automatic fit: minZoom keeps a 14-unit label at 11 pixels, the smallest a projector shows
// legibly; maxZoom stops a small model from turning into a poster. Presenting, the stack may grow to
// maxPresentZoom to fill a projector, and the columns are laid out for presentZoom, at which a
// 14-unit label is 21 pixels: read from the back of a lecture hall.
// Presenting, the whole stack in view comes first down to minPresentZoom: five models on a 1280×800
// projector fit at about 0.8, a pixel row or two short of minZoom.
const (
	minZoom        = 0.8
	minPresentZoom = 0.75
	maxZoom        = 2.0
	maxPresentZoom = 3.0
	presentZoom    = 1.5
)

func (w *Window) zoomIn()  { w.autoFit, w.fitAll = false, false; w.view.ZoomIn(); w.zoomed() }
func (w *Window) zoomOut() { w.autoFit, w.fitAll = false, false; w.view.ZoomOut(); w.zoomed() }

// zoomed lays the scroll's content out again (the view's size follows its zoom, and the centring
// container only learns of it on a refresh) and updates the readout.
func (w *Window) zoomed() {
	w.scroll.Refresh()
	w.refreshChrome()
	w.testState()
}

// fit zooms so the whole stack shows, however small, and keeps doing so as the window changes size.
func (w *Window) fit() {
	w.autoFit, w.fitAll = true, true
	w.fitNow()
}

// fitNow lays the columns out for the width of the centre (render narrows them down to a readable
// minimum, so three models share an 850-wide centre at full size), then picks the zoom at which the whole
// diagram fits. After Fit that is the zoom, however small. Otherwise, when the whole would make the
// labels too small to read, it fits the width instead (at most 1:1, or presentZoom while presenting) and
// the stack scrolls; when even the width does not fit readably (five models beside the side panel), it
// stays at minZoom and scrolls both ways. It reports whether the stack is cut off (scrolls).
//
// Presenting, the layout is the tight one and its columns are laid out for the width at presentZoom, so
// several models narrow their columns rather than their type; where the height binds first, the columns
// widen again to the width at the zoom that fits it, and the bars lengthen at no cost.
func (w *Window) fitNow() bool {
	avail := w.stack.Size()
	const slack = 4 // leave room so a rounding error does not summon a scroll bar
	if len(w.models) == 0 || avail.Width <= slack || avail.Height <= slack {
		return false
	}
	aw, ah := float64(avail.Width-slack), float64(avail.Height-slack)
	width := aw
	if w.theme.present {
		width = aw / presentZoom
	}
	w.layoutFor(width)
	d := w.view.Diagram()
	if d == nil || d.Width == 0 || d.Height == 0 {
		return false
	}
	fitW, fitH := aw/d.Width, ah/d.Height
	top, readable, least := maxZoom, 1.0, minZoom
	if w.theme.present {
		top, readable, least = maxPresentZoom, presentZoom, minPresentZoom
		if w.presentingWidthCut() {
			least = presentZoom // the rows that shrink, read from the back of the hall, before the whole
		}
	}
	if whole := math.Min(fitW, fitH); w.theme.present && fitH < fitW && whole < presentZoom && whole >= max(minZoom, least) {
		w.layoutFor(aw / whole)
		d = w.view.Diagram()
		fitW, fitH = aw/d.Width, ah/d.Height
	}
	z := math.Min(fitW, fitH)
	if z < least && !w.fitAll {
		z = math.Max(minZoom, math.Min(fitW, readable))
	}
	z = math.Min(z, top)
	w.view.SetZoom(float32(z))
	w.zoomed()
	z = float64(w.view.Zoom())
	return d.Width*z > aw+1 || d.Height*z > ah+1
}

// presentingWidthCut reports whether a width what-if is on screen: presenting, its stack is zoomed for
// the MLP rows to be read from the back of the hall (revealBars brings them into sight), not to show
// the whole stack small under the what-if's two strips; Fit (fitAll) still shows the whole.
func (w *Window) presentingWidthCut() bool {
	wi := w.whatIf
	return wi != nil && wi.width != nil && slices.Contains(w.models, wi.pruned)
}

// layoutFor lays the diagram out for a width in model units, tight while presenting.
func (w *Window) layoutFor(width float64) {
	opts := w.view.Options()
	if math.Abs(opts.Width-width) >= 1 || opts.Tight != w.theme.present {
		opts.Width, opts.Tight = width, w.theme.present
		w.view.SetOptions(opts)
	}
}

// revealBars scrolls a stack that does not fit to its lowest card drawn with bars: Gemma 3's only
// such card sits at the bottom, below five that say "same widths as". During a width what-if it is
// that card's MLP rows that come into sight, the bars that shrink and the input line under down:
// presenting at 1280×720 under the what-if's strips, a whole card is taller than the view.
func (w *Window) revealBars() {
	d := w.view.Diagram()
	if d == nil {
		return
	}
	var card render.Ref
	lowest := math.Inf(-1)
	for _, it := range d.Items {
		if it.Kind == render.KindBar && it.Ref.What == render.RefPart && it.Ref.Start >= 0 && it.Ref.Model == w.focus && it.Y > lowest {
			lowest = it.Y
			card = render.Ref{What: render.RefCard, Model: it.Ref.Model, Start: it.Ref.Start, End: it.Ref.End}
		}
	}
	pos, size, ok := w.view.RefRect(card)
	if !ok {
		return
	}
	if p, s, ok := w.cutRows(d, card); ok {
		pos, size = p, s
	}
	w.revealRect(pos, size)
}

// cutRows is where the rows a width what-if changed lie in card: the union of its bars whose width
// or input width was cut, with their outlines and input lines.
func (w *Window) cutRows(d *render.Diagram, card render.Ref) (fyne.Position, fyne.Size, bool) {
	if card.Model < 0 || card.Model >= len(w.models) {
		return fyne.Position{}, fyne.Size{}, false
	}
	m := w.models[card.Model]
	former, formerIn := w.formerWidths(m), w.formerInputs(m)
	var lo, hi fyne.Position
	found := false
	seen := map[string]bool{}
	for _, it := range d.Items {
		r := it.Ref
		if r.What != render.RefPart || r.Model != card.Model || r.Start != card.Start || seen[r.Path] {
			continue
		}
		if _, cut := former[r.Path]; !cut {
			if _, cut = formerIn[r.Path]; !cut {
				continue
			}
		}
		seen[r.Path] = true
		p, s, ok := w.view.RefRect(r)
		if !ok {
			continue
		}
		if !found {
			lo, hi, found = p, p.Add(s), true
			continue
		}
		lo = fyne.NewPos(min(lo.X, p.X), min(lo.Y, p.Y))
		hi = fyne.NewPos(max(hi.X, p.X+s.Width), max(hi.Y, p.Y+s.Height))
	}
	return lo, fyne.NewSize(hi.X-lo.X, hi.Y-lo.Y), found
}

// resized refits the diagram when the centre changes size, unless the user has zoomed by hand.
func (w *Window) resized() {
	if w.autoFit && w.fitNow() && w.theme.present {
		w.revealBars()
	}
}

// The selection's share of the side panel's height: a third beside the facts and the tree, less beside
// the Importance tab, whose Run button, chart and table need the room on a 720-high screen.
const (
	selectionShare           = 0.33
	selectionShareImportance = 0.1
)

// fitSideSplit gives the Importance tab more of the side's height, and the others their share back,
// unless the user has dragged the divider elsewhere.
func (w *Window) fitSideSplit() {
	imp := w.tabs.Selected() != nil && w.tabs.Selected().Content == w.importance.content
	switch o := w.sideSplit.Offset; {
	case imp && math.Abs(o-selectionShare) < 0.01:
		w.sideSplit.SetOffset(selectionShareImportance)
	case !imp && math.Abs(o-selectionShareImportance) < 0.01:
		w.sideSplit.SetOffset(selectionShare)
	}
}

// toggleSide shows or hides the side panel, giving the whole width to the stack (five models on a
// projector).
func (w *Window) toggleSide() { w.setSide(!w.sideShown) }

// setSide shows or hides the side panel.
func (w *Window) setSide(on bool) {
	w.sideShown = on
	if w.sideShown {
		w.side.Show()
		w.split.Offset = 0.66
	} else {
		w.side.Hide()
		w.split.Offset = 1
	}
	w.split.Refresh()
	w.refreshMenus()
}

// resizeWatcher is a stack layout that calls onResize when its size changes, so the diagram can refit
// when the window is resized or goes full screen.
type resizeWatcher struct {
	last     fyne.Size
	onResize func()
}

func (r *resizeWatcher) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Resize(size)
		o.Move(fyne.NewPos(0, 0))
	}
	if size != r.last {
		r.last = size
		if r.onResize != nil {
			r.onResize()
		}
	}
}

func (r *resizeWatcher) MinSize(objs []fyne.CanvasObject) fyne.Size {
	// The stack scrolls, so the centre may be small; only the empty state has a real minimum.
	return fyne.NewSize(200, 200)
}

// atLeast gives obj a minimum width of ems times the theme's text size, so it grows with the
// presentation theme's larger type.
func atLeast(ems float32, obj fyne.CanvasObject) fyne.CanvasObject {
	return container.New(&minWidthLayout{ems: ems}, obj)
}

type minWidthLayout struct{ ems float32 }

func (l *minWidthLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Resize(size)
		o.Move(fyne.NewPos(0, 0))
	}
}

func (l *minWidthLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	s := fyne.NewSize(l.ems*theme.TextSize(), 0)
	for _, o := range objs {
		s = s.Max(o.MinSize())
	}
	return s
}

// banner is a dismissible strip above the stack that says what went wrong in one line.
type banner struct {
	content *fyne.Container
	text    *widget.Label
	parent  *fyne.Container // laid out again when the banner appears or goes
	log     bool            // copy each message to stderr
}

func newBanner(w *Window) *banner {
	b := &banner{text: widget.NewLabel("")}
	b.text.Wrapping = fyne.TextWrapWord
	// The error colour at a fifth of its strength, so the text stays readable on it in both variants.
	bg := canvas.NewRectangle(color.NRGBA{R: 0xf4, G: 0x43, B: 0x36, A: 0x33})
	bg.CornerRadius = 4
	icon := widget.NewIcon(theme.ErrorIcon())
	closeBtn := newKeyButton(w, "", theme.CancelIcon(), b.hide)
	closeBtn.Importance = widget.LowImportance
	b.content = container.NewStack(bg, container.NewBorder(nil, nil, icon, closeBtn, b.text))
	b.content.Hide()
	return b
}

func (b *banner) show(msg string) {
	msg = printable.String(msg) // names from model files must not break the line or drive a terminal
	if b.log {
		fmt.Fprintln(os.Stderr, "layerscope: "+msg)
	}
	b.text.SetText(msg)
	b.content.Show()
	if b.parent != nil {
		b.parent.Refresh()
	}
}

func (b *banner) hide() {
	if !b.content.Visible() {
		return
	}
	b.content.Hide()
	if b.parent != nil {
		b.parent.Refresh()
	}
}

func (b *banner) visible() bool { return b.content.Visible() }
