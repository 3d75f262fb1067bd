package app

import (
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// Saving is one dialog: the folder (the last one used) and a name, Enter saves; a path inside a model
// folder is still refused before anything is written.
func TestSaveIsOneDialog(t *testing.T) {
	w := newTestWindow(t)
	model := tinyModel(t, "tiny-save", 2)
	w.open([]string{model}, false)
	w.waitLoads()
	out := t.TempDir()
	w.app.Preferences().SetString(prefSaveFolder, out)

	w.export("svg", 1)
	entries, buttons := overlayWidgets(w)
	if len(entries) != 1 || buttons["Save"] == nil || buttons["Choose…"] == nil {
		t.Fatalf("the save dialog has %d entries and buttons %v; want the name, Save and Choose…", len(entries), buttons)
	}
	if !overlayShows(w, out) {
		t.Errorf("the dialog does not start in the last folder used, %s", out)
	}
	entries[0].SetText("stack")
	entries[0].TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if w.win.Canvas().Overlays().Top() != nil {
		t.Error("Enter did not save: the dialog is still open")
	}
	if want := "Exporting stack.svg"; !strings.HasPrefix(w.status.Text, want) && !strings.HasPrefix(w.status.Text, "Exported "+filepath.Join(out, "stack.svg")) {
		t.Errorf("status %q, want %q", w.status.Text, want)
	}

	// The next save starts where this one went; a model folder is refused.
	w.app.Preferences().SetString(prefSaveFolder, model)
	w.export("svg", 1)
	entries, _ = overlayWidgets(w)
	entries[0].SetText("config.json")
	entries[0].TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if !w.banner.visible() || !strings.Contains(w.banner.text.Text, "never writes into a model folder") {
		t.Errorf("saving into the model folder: banner %q", w.banner.text.Text)
	}
	if got := w.app.Preferences().String(prefSaveFolder); got != model {
		t.Errorf("a refused save moved the last folder to %s", got)
	}
}

// overlayShows reports whether the dialog on top shows text containing s.
func overlayShows(w *Window, s string) bool {
	for _, o := range test.LaidOutObjects(w.win.Canvas().Overlays().Top()) {
		if l, ok := o.(*widget.Label); ok && strings.Contains(l.Text, s) {
			return true
		}
	}
	return false
}

// The pruned copy's dialog starts in the last folder used too.
func TestSavePrunedStartsInLastFolder(t *testing.T) {
	w := newTestWindow(t)
	model := tinyModel(t, "tiny-prune", 3)
	w.open([]string{model}, false)
	w.waitLoads()
	w.savePrunedDialog(w.models[0], []int{1})
	if !overlayShows(w, filepath.Dir(model)) {
		t.Error("the first save does not start beside the model")
	}
	w.win.Canvas().Overlays().Remove(w.win.Canvas().Overlays().Top())
	out := t.TempDir()
	w.app.Preferences().SetString(prefSaveFolder, out)
	w.savePrunedDialog(w.models[0], []int{1})
	if !overlayShows(w, out) {
		t.Errorf("the dialog does not start in the last folder used, %s", out)
	}
}
