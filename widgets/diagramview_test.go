package widgets

import (
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"

	_ "github.com/layerscope/layerscope/internal/cleanlocale" // before Fyne reads the locale, as in main
	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/render"
)

var update = flag.Bool("update", false, "write the golden images in testdata/ instead of comparing with them")

// models opens gallery models the way the app does.
func models(tb testing.TB, names ...string) []render.Model {
	tb.Helper()
	var out []render.Model
	for _, n := range names {
		m, err := modelio.Open(n)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, render.Model{Name: m.Name, Params: m.Spec.Root.NumParams(), Arch: m.Arch})
	}
	return out
}

func newView(t *testing.T, names ...string) *DiagramView {
	t.Helper()
	test.NewTempApp(t)
	v := NewDiagramView()
	v.SetModels(models(t, names...))
	return v
}

// capture shows the view unpadded in a test window at its minimum size and returns the canvas's pixels.
func capture(t *testing.T, v *DiagramView) image.Image {
	t.Helper()
	w := test.NewTempWindow(t, v)
	w.SetPadded(false)
	w.Resize(v.MinSize())
	return w.Canvas().Capture()
}

func TestDiagramViewGolden(t *testing.T) {
	for _, tc := range []struct {
		golden string
		models []string
		setup  func(v *DiagramView)
	}{
		{"diagramview_llama-3.2-1b.png", []string{"llama-3.2-1b"}, nil},
		{"diagramview_gemma-3-270m.png", []string{"gemma-3-270m"}, nil},
		{"diagramview_compare_selected.png", []string{"llama-3.2-1b", "qwen3-0.6b"}, func(v *DiagramView) {
			v.Select(render.Ref{What: render.RefPart, Model: 1, Start: 0, End: 27, Path: "model.layers.0.self_attn.q_proj"})
		}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			v := newView(t, tc.models...)
			test.WithTestTheme(t, func() {
				if tc.setup != nil {
					tc.setup(v)
				}
				assertImageClose(t, tc.golden, capture(t, v))
			})
		})
	}
}

// The window shows the exporters' pixels: at zoom 1 on a scale-1 canvas the capture is Diagram.Image(1)
// exactly, and at other zooms the raster is Diagram.Image(zoom).
func TestDiagramViewDrawsLikeExport(t *testing.T) {
	v := newView(t, "llama-3.2-1b", "gemma-3-270m")
	if diff := pixelDiff(capture(t, v), v.Diagram().Image(1)); diff != "" {
		t.Errorf("zoom 1: window and export differ: %s", diff)
	}
	for _, z := range []float32{0.5, 2} {
		v.SetZoom(z)
		r := test.TempWidgetRenderer(t, v).(*diagramViewRenderer)
		r.Layout(v.MinSize())
		size := r.raster.Size()
		got := r.raster.Generator(int(size.Width), int(size.Height))
		if diff := pixelDiff(got, v.Diagram().Image(float64(z))); diff != "" {
			t.Errorf("zoom %g: raster and export differ: %s", z, diff)
		}
	}
}

func cards(d *render.Diagram, m int) []render.Item {
	var out []render.Item
	for _, it := range d.Items {
		if it.Kind == render.KindCard && it.Ref.What == render.RefCard && it.Ref.Model == m {
			out = append(out, it)
		}
	}
	return out
}

func findBar(t *testing.T, d *render.Diagram, m int, path string) render.Item {
	t.Helper()
	for _, it := range d.Items {
		if it.Kind == render.KindBar && it.Ref.Model == m && it.Ref.Path == path {
			return it
		}
	}
	t.Fatalf("no bar for model %d part %s", m, path)
	return render.Item{}
}

// refName names a selection for comparing walks: the part's path, or the card's block range.
func refName(r render.Ref) string {
	if r.What == render.RefCard {
		return fmt.Sprintf("card %d-%d", r.Start, r.End)
	}
	return r.Path
}

func TestDiagramViewSelectNextWalksTheStack(t *testing.T) {
	for _, tc := range []struct {
		name   string
		models []string
		unfold bool
		want   []string // the whole walk, from the bottom
	}{
		{"llama folded", []string{"llama-3.2-1b"}, false,
			[]string{"model.embed_tokens", "card 0-15", "model.norm", "lm_head"}},
		{"llama unfolded", []string{"llama-3.2-1b"}, true, nil},
		{"gemma", []string{"gemma-3-270m"}, false, nil},
		{"gpt2 in a comparison", []string{"gpt2", "llama-3.2-1b"}, false,
			// The layout draws wte above wpe, so going up the screen wpe comes first.
			[]string{"transformer.wpe", "transformer.wte", "card 0-11", "transformer.ln_f", "lm_head"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newView(t, tc.models...)
			if tc.unfold {
				v.SetOptions(render.Options{UnfoldAll: true})
			}
			var walk []render.Ref
			v.OnSelect = func(ref render.Ref, item *render.Item) {
				if item == nil || item.Ref != ref {
					t.Errorf("OnSelect(%+v) got item %+v", ref, item)
				}
				walk = append(walk, ref)
			}
			for range 200 {
				v.SelectNext()
			}
			var names []string
			for _, r := range walk {
				if r.Model != 0 {
					t.Fatalf("SelectNext left model 0: %+v", r)
				}
				names = append(names, refName(r))
			}
			if tc.want != nil && strings.Join(names, ", ") != strings.Join(tc.want, ", ") {
				t.Errorf("walk up:\n got %s\nwant %s", strings.Join(names, ", "), strings.Join(tc.want, ", "))
			}
			// Consistently upwards: every step is higher on screen, and the cards go block 0 upwards.
			prevY, prevStart := 1e9, -1
			ncards := 0
			for _, r := range walk {
				it := v.itemFor(r)
				if y := it.Y + it.H/2; y >= prevY {
					t.Errorf("%s is not above the step before it", refName(r))
				} else {
					prevY = y
				}
				if r.What == render.RefCard {
					ncards++
					if r.Start <= prevStart {
						t.Errorf("%s after block %d", refName(r), prevStart)
					}
					prevStart = r.End
				}
			}
			if n := len(cards(v.Diagram(), 0)); ncards != n {
				t.Errorf("walk visits %d cards of %d", ncards, n)
			}
			// And SelectPrev walks the same stops back down.
			walk = nil
			for range 200 {
				v.SelectPrev()
			}
			if len(walk) != len(names)-1 {
				t.Fatalf("walk down has %d steps, want %d", len(walk), len(names)-1)
			}
			for k, r := range walk {
				if got, want := refName(r), names[len(names)-2-k]; got != want {
					t.Errorf("walk down step %d: got %s, want %s", k, got, want)
				}
			}
		})
	}
}

func TestDiagramViewParts(t *testing.T) {
	v := newView(t, "llama-3.2-1b")
	v.Select(render.Ref{What: render.RefCard, Model: 0, Start: 0, End: 15})
	var got []string
	v.OnSelect = func(ref render.Ref, _ *render.Item) {
		got = append(got, strings.TrimPrefix(ref.Path, "model.layers.0."))
	}
	for range 20 {
		v.SelectNextPart()
	}
	want := "input_layernorm self_attn.q_proj self_attn.k_proj self_attn.v_proj self_attn.o_proj " +
		"post_attention_layernorm mlp.gate_proj mlp.up_proj mlp.down_proj"
	if strings.Join(got, " ") != want {
		t.Errorf("SelectNextPart walk:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	got = nil
	v.SelectPrevPart()
	if len(got) != 1 || got[0] != "mlp.up_proj" {
		t.Errorf("SelectPrevPart from down_proj selected %v", got)
	}
	// From a part, SelectNext moves to the card above it: the final norm.
	v.SelectNext()
	if ref, _ := v.Selected(); ref.Path != "model.norm" {
		t.Errorf("SelectNext from a part selected %+v", ref)
	}
}

func TestDiagramViewToggleFold(t *testing.T) {
	v := newView(t, "llama-3.2-1b")
	if n := len(cards(v.Diagram(), 0)); n != 1 {
		t.Fatalf("folded Llama-3.2-1B has %d cards, want 1", n)
	}
	var selected []render.Ref
	v.OnSelect = func(ref render.Ref, _ *render.Item) { selected = append(selected, ref) }
	v.Select(render.Ref{What: render.RefCard, Model: 0, Start: 0, End: 15})
	v.ToggleFold()
	if n := len(cards(v.Diagram(), 0)); n != 16 {
		t.Errorf("unfolded: %d cards, want 16", n)
	}
	if ref, _ := v.Selected(); ref != (render.Ref{What: render.RefCard, Model: 0, Start: 0, End: 0}) {
		t.Errorf("after unfolding the selection is %+v, want block 0's card", ref)
	}
	if !v.Options().Unfold[render.FoldID{Model: 0, Start: 0}] {
		t.Errorf("Options().Unfold = %v, want group 0 of model 0", v.Options().Unfold)
	}
	v.SelectNext() // block 1's card: folding from any card of the group folds the group
	v.ToggleFold()
	if n := len(cards(v.Diagram(), 0)); n != 1 {
		t.Errorf("folded again: %d cards, want 1", n)
	}
	if ref, _ := v.Selected(); ref != (render.Ref{What: render.RefCard, Model: 0, Start: 0, End: 15}) {
		t.Errorf("after folding the selection is %+v, want the folded card", ref)
	}
	if len(selected) != 4 {
		t.Errorf("OnSelect called %d times, want 4 (select, unfold, next, fold)", len(selected))
	}

	// A part stays selected across unfolding: the folded card's parts are block 0's.
	q := render.Ref{What: render.RefPart, Model: 0, Start: 0, End: 15, Path: "model.layers.0.self_attn.q_proj"}
	v.Select(q)
	v.HandleKey(fyne.KeyReturn)
	if ref, _ := v.Selected(); ref.Path != q.Path || ref.Start != 0 || ref.End != 0 {
		t.Errorf("Enter on a folded card's q_proj selected %+v", ref)
	}
}

func TestDiagramViewTap(t *testing.T) {
	v := newView(t, "llama-3.2-1b", "gemma-3-270m")
	v.SetZoom(1.5)
	v.Resize(v.MinSize().AddWidthHeight(300, 0)) // wider than the diagram: it is centred
	var got render.Ref
	var gotItem *render.Item
	calls := 0
	v.OnSelect = func(ref render.Ref, item *render.Item) { got, gotItem, calls = ref, item, calls+1 }
	at := func(x, y float64) fyne.Position {
		o := v.origin()
		return fyne.NewPos(o.X+float32(x)*v.Zoom(), o.Y+float32(y)*v.Zoom())
	}

	const path = "model.layers.0.self_attn.q_proj"
	bar := findBar(t, v.Diagram(), 0, path)
	test.TapAt(v, at(bar.X+bar.W-2, bar.Y+bar.H/2))
	if got.Path != path || got.Model != 0 || gotItem == nil || gotItem.Kind != render.KindBar {
		t.Errorf("tap on q_proj: OnSelect(%+v, %+v)", got, gotItem)
	}
	if gotItem != nil && !strings.Contains(gotItem.Tip, "Linear(2048 → 2048)") {
		t.Errorf("q_proj tooltip text %q", gotItem.Tip)
	}

	// A tap on the "16 ×" header unfolds the card.
	card := cards(v.Diagram(), 0)[0]
	test.TapAt(v, at(card.X+card.W/2, card.Y+3))
	if n := len(cards(v.Diagram(), 0)); n != 16 {
		t.Errorf("tap on the folded card's header: %d cards, want 16", n)
	}
	if got != (render.Ref{What: render.RefCard, Model: 0, Start: 0, End: 0}) {
		t.Errorf("tap on the folded card's header selected %+v", got)
	}
	// A tap on the other model's bar.
	g := findBar(t, v.Diagram(), 1, path)
	test.TapAt(v, at(g.X+1, g.Y+1))
	if got.Model != 1 || got.Path != path {
		t.Errorf("tap on gemma's q_proj selected %+v", got)
	}

	// Empty space clears the selection.
	calls = 0
	test.TapAt(v, fyne.NewPos(2, 2))
	if _, ok := v.Selected(); ok || calls != 1 || gotItem != nil {
		t.Errorf("tap on empty space: selected %v, %d calls, item %v", ok, calls, gotItem)
	}
}

func TestDiagramViewHover(t *testing.T) {
	v := newView(t, "llama-3.2-1b")
	v.Resize(v.MinSize())
	r := test.TempWidgetRenderer(t, v).(*diagramViewRenderer)
	var hovered []*render.Item
	v.OnHover = func(it *render.Item) { hovered = append(hovered, it) }
	bar := findBar(t, v.Diagram(), 0, "model.layers.0.mlp.down_proj")
	move := func(x, y float64) {
		v.MouseMoved(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(float32(x), float32(y))}})
	}
	move(bar.X+bar.W/2, bar.Y+bar.H/2)
	move(bar.X+bar.W/2+1, bar.Y+bar.H/2) // same bar: no second call
	if len(hovered) != 1 || hovered[0].Ref.Path != "model.layers.0.mlp.down_proj" {
		t.Fatalf("hover on down_proj: OnHover calls %v", hovered)
	}
	if r.tip.Hidden || !strings.HasPrefix(r.tip.Text, "model.layers.0.mlp.down_proj · Linear(8192 → 2048)") {
		t.Errorf("tooltip hidden=%v text %q", r.tip.Hidden, r.tip.Text)
	}
	if p, s := r.tipBg.Position(), r.tipBg.Size(); p.X+s.Width > v.Size().Width || p.Y+s.Height > v.Size().Height {
		t.Errorf("tooltip at %v size %v runs off the view %v", p, s, v.Size())
	}
	v.MouseOut()
	if len(hovered) != 2 || hovered[1] != nil || !r.tip.Hidden {
		t.Errorf("after MouseOut: OnHover calls %v, tooltip hidden %v", hovered, r.tip.Hidden)
	}
}

func TestDiagramViewZoom(t *testing.T) {
	v := newView(t, "gemma-3-270m")
	s1 := v.MinSize()
	for _, z := range []float32{0.5, 2, 4} {
		v.SetZoom(z)
		s := v.MinSize()
		// Sizes are whole units: s1 rounds the diagram up by under 1, which the zoom multiplies.
		for _, d := range []float32{s.Width - s1.Width*z, s.Height - s1.Height*z} {
			if d <= -max(1, z) || d > 1 {
				t.Errorf("zoom %g: MinSize %v, want %v × %g", z, s, s1, z)
			}
		}
	}
	for _, tc := range []struct {
		steps func()
		want  float32
	}{
		{func() { v.SetZoom(1); v.ZoomIn() }, 1.25},
		{func() { v.SetZoom(1); v.ZoomOut(); v.ZoomOut(); v.ZoomIn(); v.ZoomIn() }, 1},
		{func() { v.SetZoom(3.9); v.ZoomIn() }, MaxZoom},
		{func() { v.SetZoom(100) }, MaxZoom},
		{func() { v.SetZoom(0.26); v.HandleKey(fyne.KeyMinus) }, MinZoom},
		{func() { v.SetZoom(1); v.HandleKey(fyne.KeyPlus); v.HandleKey(fyne.KeyEqual) }, 1.5625},
	} {
		tc.steps()
		if v.Zoom() != tc.want {
			t.Errorf("zoom %g, want %g", v.Zoom(), tc.want)
		}
	}
}

// BenchmarkDiagramViewFrame is one frame after new models or options: the layout and the raster the
// widget's renderer hands the painter, on a scale-1 canvas at zoom 1 (and at zoom 2, the pixels of a
// 2× screen). The target is under 16 ms.
func BenchmarkDiagramViewFrame(b *testing.B) {
	five := []string{"llama-3.2-1b", "phi-4-mini-instruct", "gemma-3-270m", "qwen3-0.6b", "gpt2"}
	for _, bc := range []struct {
		name   string
		models []string
		zoom   float32
	}{
		{"llama-3.1-8b", []string{"llama-3.1-8b"}, 1},
		{"five-models", five, 1},
		{"llama-3.1-8b-zoom2", []string{"llama-3.1-8b"}, 2},
		{"five-models-zoom2", five, 2},
	} {
		b.Run(bc.name, func(b *testing.B) {
			test.NewTempApp(b)
			ms := models(b, bc.models...)
			v := NewDiagramView()
			v.SetZoom(bc.zoom)
			r := test.WidgetRenderer(v).(*diagramViewRenderer)
			b.ReportAllocs()
			for b.Loop() {
				v.SetModels(ms)
				v.Resize(v.MinSize())
				size := r.raster.Size()
				r.raster.Generator(int(size.Width), int(size.Height))
			}
			if r.imgGen != v.gen {
				b.Fatal("the raster was not redrawn for the last layout")
			}
		})
	}
}

// Golden images are compared with a tolerance, because test.AssertImageMatches wants every byte equal
// (it is lenient only on darwin/arm64), and glyph rasterisation and float rounding differ slightly
// between machines (FMA on arm64): a pixel differs when a channel is off by more than goldenChannel, and
// the image matches while under goldenShare of its pixels differ.
const (
	goldenChannel = 16
	goldenShare   = 0.005
)

// assertImageClose compares img with testdata/name. A missing or different golden leaves img in
// testdata/failed/name, to inspect or to copy over the golden; -update writes the golden instead.
func assertImageClose(t *testing.T, name string, img image.Image) {
	t.Helper()
	golden := filepath.Join("testdata", name)
	if *update {
		if err := writePNG(golden, img); err != nil {
			t.Fatal(err)
		}
		return
	}
	failed := filepath.Join("testdata", "failed", name)
	want, err := readPNG(golden)
	if err != nil {
		t.Errorf("%v; image written to %s (run with -update to accept it)", err, failed)
	} else if msg := compareImages(img, want); msg != "" {
		t.Errorf("%s differs from the golden: %s; image written to %s", name, msg, failed)
	} else {
		return
	}
	if err := writePNG(failed, img); err != nil {
		t.Fatal(err)
	}
}

// compareImages says how got differs from want beyond the tolerance, or "" when it does not.
func compareImages(got, want image.Image) string {
	gb, wb := got.Bounds(), want.Bounds()
	if gb.Size() != wb.Size() {
		return fmt.Sprintf("size %v, want %v", gb.Size(), wb.Size())
	}
	differ := 0
	for y := 0; y < gb.Dy(); y++ {
		for x := 0; x < gb.Dx(); x++ {
			if channelDiff(got.At(gb.Min.X+x, gb.Min.Y+y), want.At(wb.Min.X+x, wb.Min.Y+y)) > goldenChannel {
				differ++
			}
		}
	}
	if share := float64(differ) / float64(gb.Dx()*gb.Dy()); share >= goldenShare {
		return fmt.Sprintf("%d pixels (%.2f%%) differ by more than %d in a channel", differ, 100*share, goldenChannel)
	}
	return ""
}

// pixelDiff says where got first differs from want at all, or "" when they are equal.
func pixelDiff(got, want image.Image) string {
	gb, wb := got.Bounds(), want.Bounds()
	if gb.Size() != wb.Size() {
		return fmt.Sprintf("size %v, want %v", gb.Size(), wb.Size())
	}
	n, first := 0, ""
	for y := 0; y < gb.Dy(); y++ {
		for x := 0; x < gb.Dx(); x++ {
			if channelDiff(got.At(gb.Min.X+x, gb.Min.Y+y), want.At(wb.Min.X+x, wb.Min.Y+y)) > 0 {
				if n == 0 {
					first = fmt.Sprintf("first at (%d, %d)", x, y)
				}
				n++
			}
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d pixels, %s", n, first)
}

// channelDiff is the largest difference between two colours' 8-bit channels.
func channelDiff(a, b color.Color) int {
	ar, ag, ab, aa := a.RGBA()
	br, bg, bb, ba := b.RGBA()
	d := 0
	for _, p := range [][2]uint32{{ar, br}, {ag, bg}, {ab, bb}, {aa, ba}} {
		d = max(d, abs(int(p[0]>>8)-int(p[1]>>8)))
	}
	return d
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func readPNG(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return png.Decode(f)
}

func writePNG(path string, img image.Image) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func TestCompareImagesTolerance(t *testing.T) {
	base := image.NewRGBA(image.Rect(0, 0, 100, 100))
	with := func(n int, delta uint8) image.Image {
		img := image.NewRGBA(base.Rect)
		copy(img.Pix, base.Pix)
		for k := range n {
			img.Pix[4*k] += delta
		}
		return img
	}
	for _, tc := range []struct {
		name  string
		got   image.Image
		match bool
	}{
		{"equal", with(0, 0), true},
		{"faint everywhere", with(10000, goldenChannel), true},
		{"a few glyph pixels", with(49, 200), true},
		{"a shifted label", with(50, 200), false},
		{"another size", image.NewRGBA(image.Rect(0, 0, 100, 101)), false},
	} {
		if msg := compareImages(tc.got, base); (msg == "") != tc.match {
			t.Errorf("%s: compareImages = %q, want a match %v", tc.name, msg, tc.match)
		}
	}
}

// contrast is the WCAG contrast ratio of two colours.
func contrast(a, b color.Color) float64 {
	lum := func(c color.Color) float64 {
		r, g, bl, _ := c.RGBA()
		lin := func(v uint32) float64 {
			f := float64(v) / 0xffff
			if f <= 0.04045 {
				return f / 12.92
			}
			return math.Pow((f+0.055)/1.055, 2.4)
		}
		return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(bl)
	}
	la, lb := lum(a), lum(b)
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05)
}

// The selection is seen from the back of a lecture hall: an outline at least 3 pixels thick at 100%,
// in a colour that stands out on the light and the dark background alike.
func TestDiagramViewSelectionOutline(t *testing.T) {
	for _, th := range []render.Theme{render.Light, render.Dark} {
		t.Run(th.Name, func(t *testing.T) {
			v := newView(t, "llama-3.2-1b")
			v.SetOptions(render.Options{Theme: th})
			ref := render.Ref{What: render.RefCard, Model: 0, Start: 0, End: 15}
			v.Select(ref)
			if c := contrast(SelectionColor, render.ParseColor(th.Background)); c < 4 {
				t.Errorf("the outline's contrast with the %s background is %.1f:1, want at least 4:1", th.Name, c)
			}
			img := capture(t, v)
			pos, size, ok := v.SelectionRect()
			if !ok {
				t.Fatal("nothing selected")
			}
			// Across the card's left edge at half its height: the run of outline-coloured pixels.
			y := int(pos.Y + size.Height/2)
			near := func(c color.Color) bool {
				r, g, b, _ := c.RGBA()
				sr, sg, sb, _ := SelectionColor.RGBA()
				d := func(x, y uint32) bool { return max(x, y)-min(x, y) < 0x2000 }
				return d(r, sr) && d(g, sg) && d(b, sb)
			}
			run, best := 0, 0
			for x := max(0, int(pos.X)-12); x < int(pos.X)+12; x++ {
				if near(img.At(x, y)) {
					run++
					best = max(best, run)
				} else {
					run = 0
				}
			}
			if best < 3 {
				t.Errorf("the outline is %d px thick at 100%%, want at least 3", best)
			}
		})
	}
}
