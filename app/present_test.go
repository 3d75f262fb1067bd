package app

import (
	"math"
	"slices"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"

	"github.com/layerscope/layerscope/render"
)

// inSight reports whether the box (in the view's coordinates) lies within the scroll's visible part.
func inSight(w *Window, pos fyne.Position, size fyne.Size) bool {
	top := pos.Y + w.view.Position().Y - w.scroll.Offset.Y
	left := pos.X + w.view.Position().X - w.scroll.Offset.X
	return top >= -1 && top+size.Height <= w.scroll.Size().Height+1 && left >= -1 && left+size.Width <= w.scroll.Size().Width+1
}

// F5 makes the stack the largest thing on the screen: one model at 1024×768 fills the space whole,
// its bar labels at least 1.5× the export's (21 px); the side panel and the menu bar go; Enter and
// the arrows keep the zoom and scroll the selection into sight; leaving gives everything back.
func TestPresentFillsTheScreen(t *testing.T) {
	w := newTestWindow(t)
	w.win.Resize(fyne.NewSize(1024, 768))
	w.open([]string{"llama-3.2-1b"}, false)
	w.waitLoads()
	w.zoomIn() // a zoom of the lecturer's own, to come back to
	before := w.view.Zoom()

	pressKey(w.win, fyne.KeyF5, 0)
	if !w.theme.present || w.sideShown || w.win.MainMenu() != nil || w.statusBar.Visible() {
		t.Fatalf("F5: presenting %v, side panel %v, menu bar %v, status %v", w.theme.present, w.sideShown,
			w.win.MainMenu() != nil, w.statusBar.Visible())
	}
	r := w.report()
	if r.LabelPx < 21 {
		t.Errorf("presenting at 1024×768: bar labels %.1f px (zoom %.2f), want at least 21", r.LabelPx, r.Zoom)
	}
	if r.Cut {
		t.Errorf("presenting at 1024×768: the stack (%v at zoom %.2f) does not fit the %v space", r.Diagram, r.Zoom, r.Stack)
	}
	if s := w.win.Content().MinSize(); s.Width > 1024 || s.Height > 768 {
		t.Errorf("presenting needs %v, more than the 1024×768 screen", s)
	}

	// Enter unfolds the 16 blocks at the same zoom; the arrows walk them, each in sight.
	z := w.view.Zoom()
	pressKey(w.win, fyne.KeyUp, 0)
	pressKey(w.win, fyne.KeyUp, 0) // the embeddings, then the card
	pressKey(w.win, fyne.KeyReturn, 0)
	if w.view.Zoom() != z {
		t.Errorf("Enter changed the zoom from %v to %v", z, w.view.Zoom())
	}
	if ref, _ := w.view.Selected(); ref.What != render.RefCard || ref.Start != 0 || ref.End != 0 {
		t.Fatalf("Enter on the folded card selected %+v, want block 0's card", ref)
	}
	for k := range 5 {
		pressKey(w.win, fyne.KeyUp, 0)
		pos, size, _ := w.view.SelectionRect()
		if !inSight(w, pos, size) {
			t.Errorf("after %d × Up the selection (%v %v) is out of sight (offset %v)", k+1, pos, size, w.scroll.Offset)
		}
	}
	if w.view.Zoom() != z {
		t.Errorf("the arrows changed the zoom from %v to %v", z, w.view.Zoom())
	}

	pressKey(w.win, fyne.KeyF5, 0)
	if w.theme.present || !w.sideShown || w.win.MainMenu() == nil {
		t.Errorf("F5 again: presenting %v, side panel %v, menu bar %v", w.theme.present, w.sideShown, w.win.MainMenu() != nil)
	}
	if w.view.Zoom() != before || w.view.Options().Tight {
		t.Errorf("leaving: zoom %v (tight %v), want the %v from before", w.view.Zoom(), w.view.Options().Tight, before)
	}
}

// Gemma 3's only card drawn with bars sits at the bottom of its stack: presenting shows it, and Fit
// shows the whole stack.
func TestPresentShowsTheCardWithBars(t *testing.T) {
	for _, size := range []fyne.Size{{Width: 1024, Height: 768}, {Width: 800, Height: 600}} {
		w := newTestWindow(t)
		w.win.Resize(size)
		w.open([]string{"gemma-3-270m"}, false)
		w.waitLoads()
		w.setPresenting(true)
		card := render.Ref{What: render.RefCard, Model: 0, Start: 0, End: 4}
		pos, rect, ok := w.view.RefRect(card)
		if !ok {
			t.Fatal("no card for blocks 0–4")
		}
		// The card's bars: its lower half at least, where a card taller than the screen starts.
		if !inSight(w, pos, fyne.NewSize(rect.Width, min(rect.Height, w.scroll.Size().Height))) {
			t.Errorf("%v: blocks 0–4's card (%v, %v) is out of sight (offset %v, view %v)", size, pos, rect, w.scroll.Offset, w.scroll.Size())
		}
		pressKey(w.win, fyne.Key0, fyne.KeyModifierShortcutDefault)
		if r := w.report(); r.Cut || !w.fitAll {
			t.Errorf("%v: Ctrl+0 while presenting leaves the stack cut (%v at %.2f in %v)", size, r.Diagram, r.Zoom, r.Stack)
		}
		w.setPresenting(false)
		w.fit()
		if r := w.report(); r.Cut {
			t.Errorf("%v: Fit leaves the stack cut (%v at %.2f in %v)", size, r.Diagram, r.Zoom, r.Stack)
		}
	}
}

// F5, F9, F11, Esc, the arrows, + and − and Ctrl+0 are the window's, whatever has the focus: a tick box
// of the Importance tab, a settings entry, a dropdown.
func TestKeysWorkWhateverHasTheFocus(t *testing.T) {
	w, p := importanceWindow(t, &fakeEngine{steps: 1, result: fakeResult(4)})
	openAndWait(w, modelWithTokenizer(t, "tiny", 4))
	p.start()
	p.runs.Wait()
	var tick *keyCheck // the first row's tick box in the ranked table
	for _, o := range test.LaidOutObjects(p.results.table) {
		if c, ok := o.(*keyCheck); ok && tick == nil {
			tick = c
		}
	}
	if tick == nil {
		t.Fatal("no tick box in the ranked table")
	}
	p.settings.Open() // the settings, with the entries
	p.source.SetSelectedIndex(int(textPasted))
	focus := map[string]fyne.Focusable{
		"ranked table's tick box": tick,
		"rule's tick box":         p.results.protect,
		"entry":                   p.samples,
		"text area":               p.pasted,
		"dropdown":                p.metric,
		"gallery":                 w.gallery,
	}
	for what, f := range focus {
		w.win.Canvas().Focus(f)
		if w.win.Canvas().Focused() != f {
			t.Fatalf("%s: did not take the focus", what)
		}
		pressKey(w.win, fyne.KeyF5, 0)
		if !w.theme.present {
			t.Errorf("%s has the focus: F5 did not present", what)
		}
		pressKey(w.win, fyne.KeyF9, 0)
		if !w.sideShown {
			t.Errorf("%s has the focus: F9 did not show the side panel", what)
		}
		pressKey(w.win, fyne.KeyEscape, 0)
		if w.theme.present {
			t.Errorf("%s has the focus: Esc did not leave the presentation", what)
		}
		w.win.Canvas().Focus(f)
		pressKey(w.win, fyne.Key0, fyne.KeyModifierShortcutDefault)
		if !w.fitAll {
			t.Errorf("%s has the focus: Ctrl+0 did not fit", what)
		}
	}
	// A tick box and a dropdown hand the stack's keys on too: the arrows and zoom.
	for what, f := range map[string]fyne.Focusable{"tick box": tick, "dropdown": p.metric} {
		w.view.Select(render.Ref{})
		w.win.Canvas().Focus(f)
		pressKey(w.win, fyne.KeyUp, 0)
		if _, ok := w.view.Selected(); !ok {
			t.Errorf("%s has the focus: Up selected nothing", what)
		}
		w.win.Canvas().Focus(f)
		z := w.view.Zoom()
		pressKey(w.win, fyne.KeyEqual, 0)
		if w.view.Zoom() <= z {
			t.Errorf("%s has the focus: = did not zoom in", what)
		}
	}
	// An entry keeps the arrows and the characters for its text.
	w.win.Canvas().Focus(p.samples)
	sel, _ := w.view.Selected()
	pressKey(w.win, fyne.KeyUp, 0)
	if now, _ := w.view.Selected(); now != sel || w.win.Canvas().Focused() != fyne.Focusable(p.samples) {
		t.Error("Up in an entry moved the stack's selection")
	}
	// Ticking the box with a tap, as a user does, also leaves the keys working.
	test.Tap(tick)
	pressKey(w.win, fyne.KeyF5, 0)
	if !w.theme.present {
		t.Error("after a tap on a tick box F5 did not present")
	}
}

// The first window fits the screen it opens on.
func TestScreenFit(t *testing.T) {
	for _, tc := range []struct {
		screen    fyne.Size
		wantWidth float32
	}{
		{fyne.NewSize(1920, 1080), 1280},
		{fyne.NewSize(1280, 800), 1248},
		{fyne.NewSize(1024, 768), 992},
	} {
		got := screenFit(preferredSize, tc.screen)
		if got.Width != tc.wantWidth || got.Width > tc.screen.Width || got.Height > tc.screen.Height {
			t.Errorf("screen %v: window %v, want %v wide and inside the screen", tc.screen, got, tc.wantWidth)
		}
	}
	if firstSize.Width > 1024 || firstSize.Height > 768 {
		t.Errorf("the size before the screen is known, %v, does not fit a 1024×768 screen", firstSize)
	}
}

// boxes returns the visible objects' rectangles in the window, by name.
func box(o fyne.CanvasObject) (x0, y0, x1, y1 float32) {
	p := fyne.CurrentApp().Driver().AbsolutePositionForObject(o)
	return p.X, p.Y, p.X + o.Size().Width, p.Y + o.Size().Height
}

func overlap(a, b fyne.CanvasObject) bool {
	ax0, ay0, ax1, ay1 := box(a)
	bx0, by0, bx1, by1 := box(b)
	return ax0 < bx1-0.5 && bx0 < ax1-0.5 && ay0 < by1-0.5 && by0 < ay1-0.5
}

// At 800×600 nothing is drawn over anything else: the toolbar collapses into its menu, its buttons sit
// side by side inside the window, and the stack, the side panel and the status line share the rest.
// Presenting at 1024 wide does not widen the window either, side panel shown or not.
func TestLayoutAt800x600(t *testing.T) {
	w := newTestWindow(t)
	w.win.Resize(fyne.NewSize(800, 600))
	w.open([]string{"llama-3.2-1b"}, false)
	w.waitLoads()
	if s := w.win.Content().MinSize(); s.Width > 800 || s.Height > 600 {
		t.Fatalf("the window needs %v, more than 800×600", s)
	}
	if !w.bar.collapsed || !w.menuBtn.Visible() {
		t.Errorf("at 800 wide the toolbar did not collapse into its menu")
	}
	var shown []fyne.CanvasObject
	for _, o := range append(append([]fyne.CanvasObject{}, w.bar.left...), w.bar.right...) {
		if o.Visible() {
			shown = append(shown, o)
		}
	}
	size := w.win.Canvas().Size()
	for i, a := range shown {
		x0, y0, x1, y1 := box(a)
		if x0 < -0.5 || y0 < -0.5 || x1 > size.Width+0.5 || y1 > size.Height+0.5 {
			t.Errorf("toolbar item %d (%T) at %v–%v lies outside the %v window", i, a, fyne.NewPos(x0, y0), fyne.NewPos(x1, y1), size)
		}
		for j, b := range shown[i+1:] {
			if overlap(a, b) {
				t.Errorf("toolbar items %d (%T) and %d (%T) overlap", i, a, i+1+j, b)
			}
		}
	}
	regions := map[string]fyne.CanvasObject{"stack": w.stack, "side panel": w.side, "status line": w.statusBar, "gallery": w.gallery}
	for na, a := range regions {
		for nb, b := range regions {
			if na < nb && a.Visible() && b.Visible() && overlap(a, b) {
				t.Errorf("the %s and the %s overlap", na, nb)
			}
		}
	}
	// The ☰ offers the menus the collapsed buttons and the hidden menu bar stand for.
	w.popUpMainMenu(w.menuBtn)
	var offered []string
	for _, o := range test.LaidOutObjects(w.win.Canvas().Overlays().Top()) {
		if tx, ok := o.(*canvas.Text); ok && tx.Visible() {
			offered = append(offered, tx.Text)
		}
	}
	for _, menu := range []string{"File", "Edit", "View", "Compare", "Help"} {
		if !slices.Contains(offered, menu) {
			t.Errorf("the ☰ menu offers %q, not %s", offered, menu)
		}
	}
	w.win.Canvas().Overlays().Remove(w.win.Canvas().Overlays().Top())
	w.win.Resize(fyne.NewSize(1280, 720))
	if w.bar.collapsed || w.menuBtn.Visible() {
		t.Error("at 1280 wide the toolbar stays collapsed")
	}

	w.win.Resize(fyne.NewSize(1024, 768))
	for _, side := range []bool{false, true} {
		w.setPresenting(true)
		if side {
			w.toggleSide()
		}
		if s := w.win.Content().MinSize(); s.Width > 1024 || s.Height > 768 {
			t.Errorf("presenting (side panel %v) needs %v, more than the 1024×768 screen", side, s)
		}
		w.setPresenting(false)
	}
}

// The zoom of the presentation follows the room: five models at 1920×1080 with bar labels of 16 px
// and more, whole; and five models fit 1280×800 without scrolling.
func TestPresentFiveModels(t *testing.T) {
	five := []string{"llama-3.2-1b", "qwen3-0.6b", "gemma-3-270m", "phi-4-mini-instruct", "distilgpt2"}
	for _, tc := range []struct {
		size  fyne.Size
		label float64
	}{
		{fyne.NewSize(1920, 1080), 16},
		{fyne.NewSize(1280, 800), 0},
	} {
		w := newTestWindow(t)
		w.win.Resize(tc.size)
		w.open(five, false)
		w.waitLoads()
		w.setPresenting(true)
		r := w.report()
		if r.Cut {
			t.Errorf("%v: five models (%v at %.2f) do not fit the %v space", tc.size, r.Diagram, r.Zoom, r.Stack)
		}
		if r.LabelPx < tc.label || math.IsNaN(r.LabelPx) {
			t.Errorf("%v: bar labels %.1f px, want at least %v", tc.size, r.LabelPx, tc.label)
		}
	}
}
