package app

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"

	"github.com/layerscope/layerscope/modelio"
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
