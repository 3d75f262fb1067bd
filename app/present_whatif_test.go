package app

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"

	"github.com/layerscope/layerscope/render"
)

// A width what-if on a projector: the strips and the side panel fit a 1024-wide screen in both
// type sizes, the what-if bar says its headline only while presenting, and the stack is zoomed for
// the rows that shrink (gate, up and down's input line) to be read from the back of the hall (labels
// of 21 px), with those rows in sight, on a 1024×768 and on a 1024×600 screen; Fit shows the whole.
func TestWidthWhatIfPresenting(t *testing.T) {
	w := newTestWindow(t)
	w.win.Resize(fyne.NewSize(1024, 768))
	w.open([]string{"llama-3.2-1b"}, false)
	w.waitLoads()
	w.openWidthWhatIf()
	w.width.runs.Wait()
	if w.whatIf == nil || w.whatIf.width == nil {
		t.Fatal("no width what-if")
	}
	if s := w.win.Content().MinSize(); s.Width > 1024 || s.Height > 768 {
		t.Errorf("the width what-if beside the side panel needs %v, more than 1024×768", s)
	}
	full := w.whatIfBar.text.Text
	if !strings.Contains(full, "Nothing is written until you save a copy") {
		t.Errorf("the what-if bar says %q", full)
	}

	w.setPresenting(true)
	if s := w.win.Content().MinSize(); s.Width > 1024 || s.Height > 768 {
		t.Errorf("presenting the width what-if needs %v, more than 1024×768", s)
	}
	const headline = "llama-3.2-1b intermediate_size 8192 → 4916: 914 M parameters, 322 M fewer (26.1%)."
	if got := w.whatIfBar.text.Text; got != headline {
		t.Errorf("presenting, the what-if bar says %q, want %q", got, headline)
	}

	for _, size := range []fyne.Size{{Width: 1024, Height: 768}, {Width: 1024, Height: 600}} {
		w.win.Resize(size)
		w.fitNow()
		w.revealBars()
		if r := w.report(); r.LabelPx < 21 {
			t.Errorf("presenting at %v: bar labels %.1f px (zoom %.2f), want at least 21", size, r.LabelPx, r.Zoom)
		}
		cutRowsInSight(t, w, size)
	}
	w.fit()
	if r := w.report(); r.Cut {
		t.Errorf("Fit while presenting: the stack (%v at zoom %.2f) does not fit the %v space", r.Diagram, r.Zoom, r.Stack)
	}

	w.setPresenting(false)
	if got := w.whatIfBar.text.Text; got != full {
		t.Errorf("after presenting, the what-if bar says %q, want %q", got, full)
	}
}

// cutRowsInSight checks that gate_proj and down_proj with its input line lie in the visible part of
// the stack.
func cutRowsInSight(t *testing.T, w *Window, size fyne.Size) {
	t.Helper()
	d := w.view.Diagram()
	var gate, down render.Ref
	for _, it := range d.Items {
		switch {
		case it.Ref.What == render.RefPart && strings.HasSuffix(it.Ref.Path, "mlp.gate_proj"):
			gate = it.Ref
		case it.Ref.What == render.RefPart && strings.HasSuffix(it.Ref.Path, "mlp.down_proj"):
			down = it.Ref
		}
	}
	top, bottom := w.scroll.Offset.Y, w.scroll.Offset.Y+w.scroll.Size().Height
	for name, ref := range map[string]render.Ref{"gate_proj": gate, "down_proj and its input line": down} {
		pos, size, ok := w.view.RefRect(ref)
		if !ok {
			t.Fatalf("no %s on the stack", name)
		}
		y0, y1 := pos.Y+w.view.Position().Y, pos.Y+w.view.Position().Y+size.Height
		if y0 < top || y1 > bottom {
			t.Errorf("presenting at %v, %s (%.0f–%.0f) is out of the visible %.0f–%.0f", size, name, y0, y1, top, bottom)
		}
	}
}
