package app

import (
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/render"
)

// The what-if dialog says what is wrong with the blocks while they are typed, and Enter shows the
// what-if as the Show button does.
func TestRemoveBlocksDialogExplainsAndTakesEnter(t *testing.T) {
	w := newTestWindow(t)
	w.open([]string{"llama-3.2-1b"}, false)
	w.waitLoads()
	w.removeBlocksDialog()
	entries, _ := overlayWidgets(w)
	if len(entries) != 1 {
		t.Fatalf("%d entries", len(entries))
	}
	e := entries[0]
	e.SetText("16")
	blocks, _ := modelio.ParseBlocks("16")
	_, want := modelio.RemoveBlocks(w.models[0], blocks)
	if want == nil {
		t.Fatal("removing block 16 of 16 is accepted")
	}
	shown := false
	for _, o := range test.LaidOutObjects(w.win.Canvas().Overlays().Top()) {
		if tx, ok := o.(*canvas.Text); ok && tx.Visible() && strings.Contains(tx.Text, want.Error()) {
			shown = true
		}
	}
	if !shown {
		t.Errorf("the dialog does not say %q", want)
	}
	e.SetText("3, 5")
	e.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if w.whatIf == nil || len(w.whatIf.remove) != 2 {
		t.Errorf("Enter did not show the what-if: %+v", w.whatIf)
	}
}

// After removing blocks the stack and the selection keep the full model's numbers: block 7 stays
// block 7.
func TestWhatIfKeepsBlockNumbers(t *testing.T) {
	w := newTestWindow(t)
	w.open([]string{"llama-3.2-1b"}, false)
	w.waitLoads()
	w.showWhatIf(w.models[0], []int{3, 5, 6})
	var headers []string
	for _, it := range w.view.Diagram().Items {
		if it.Kind == render.KindText && it.Ref.What == render.RefCard && strings.HasPrefix(it.Text, "block") {
			headers = append(headers, it.Text)
		}
	}
	if !slices.Contains(headers, "blocks 0–2, 4, 7–15") {
		t.Errorf("card headers %q, want the full model's numbers", headers)
	}
	w.view.Select(render.Ref{What: render.RefCard, Model: 0, Start: 0, End: 12})
	if got := w.selection.title.Text; !strings.HasPrefix(got, "blocks 0–2, 4, 7–15") {
		t.Errorf("the selection says %q", got)
	}
	w.leaveWhatIf()
	for _, it := range w.view.Diagram().Items {
		if it.Kind == render.KindText && it.Text == "blocks 0–15" {
			return
		}
	}
	t.Error("back to the full model, the card is not blocks 0–15")
}
