package app

import (
	"fmt"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
)

// focusChain tabs through the window's focus chain from the start, as Tab does, and returns each stop
// once.
func focusChain(w *Window) []fyne.Focusable {
	c := w.win.Canvas()
	c.Unfocus()
	var chain []fyne.Focusable
	seen := map[fyne.Focusable]bool{}
	for range 500 {
		c.FocusNext()
		f := c.Focused()
		if f == nil || seen[f] {
			break
		}
		seen[f] = true
		chain = append(chain, f)
	}
	return chain
}

// Tab can put the focus on any widget of the window: a button, a tick box, a dropdown, an entry, the
// module tree's text, a fold's header. Wherever it lands, F5 presents and leaves again and Ctrl+0 fits.
func TestKeysWorkAtEveryTabStop(t *testing.T) {
	w, p := importanceWindow(t, &fakeEngine{steps: 1, result: fakeResult(4)})
	openAndWait(w, modelWithTokenizer(t, "tiny", 4))
	p.start()
	p.runs.Wait()
	check := func(where string) {
		stops := focusChain(w)
		if len(stops) == 0 {
			t.Fatalf("%s: Tab finds nothing to focus", where)
		}
		for i, f := range stops {
			what := fmt.Sprintf("%s, stop %d (%T)", where, i, f)
			// F5 turns presenting on at one stop and off at the next: each press must toggle it.
			w.win.Canvas().Focus(f)
			was := w.theme.present
			pressKey(w.win, fyne.KeyF5, 0)
			if w.theme.present == was {
				t.Errorf("%s: F5 did not toggle presenting (still %v)", what, was)
			}
			w.win.Canvas().Focus(f)
			w.fitAll = false
			pressKey(w.win, fyne.Key0, fyne.KeyModifierShortcutDefault)
			if !w.fitAll {
				t.Errorf("%s: Ctrl+0 did not fit", what)
			}
		}
		t.Logf("%s: %d stops", where, len(stops))
		w.setPresenting(false)
	}
	for i, tab := range w.tabs.Items[:3] {
		w.tabs.SelectIndex(i)
		check(tab.Text)
	}
	w.tabs.SelectIndex(3)
	p.settings.Open() // every widget of the tab, the settings' too
	check("Importance with the settings open")
	w.tabs.SelectIndex(0)
	p.results.remove.OnTapped()
	if w.whatIf == nil {
		t.Fatal("Remove marked blocks showed no what-if")
	}
	check("a what-if")

	// The dialogs' entries hand the function keys on too.
	for _, d := range []struct {
		what string
		open func()
	}{
		{"the what-if dialog", w.removeBlocksDialog},
		{"the save copy dialog", func() { w.savePrunedDialog(w.whatIf.orig, w.whatIf.remove) }},
		{"open from the Hub", w.openHubDialog},
	} {
		d.open()
		top := w.win.Canvas().Overlays().Top()
		var entry *keyEntry
		for _, o := range test.LaidOutObjects(top) {
			if e, ok := o.(*keyEntry); ok && entry == nil {
				entry = e
			}
		}
		if entry == nil {
			t.Fatalf("%s: no entry of the window's kind", d.what)
		}
		w.win.Canvas().Focus(entry)
		was := w.theme.present
		pressKey(w.win, fyne.KeyF5, 0)
		if w.theme.present == was {
			t.Errorf("%s: with its entry focused F5 did not toggle presenting", d.what)
		}
		w.win.Canvas().Overlays().Remove(top)
		w.setPresenting(false)
	}
}
