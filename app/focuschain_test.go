package app

import (
	"fmt"
	"testing"

	"fyne.io/fyne/v2"
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
	w, p := importanceWindow(t, &fakeEngine{steps: 1, result: fakeResult(16)})
	openAndWait(w, modelWithTokenizer(t, "tiny", 16))
	p.start()
	p.runs.Wait()
	check := func(where string) {
		stops := focusChain(w)
		if len(stops) == 0 {
			t.Fatalf("%s: Tab finds nothing to focus", where)
		}
		for i, f := range stops {
			what := fmt.Sprintf("%s, stop %d (%T)", where, i, f)
			w.win.Canvas().Focus(f)
			pressKey(w.win, fyne.KeyF5, 0)
			if !w.theme.present {
				t.Errorf("%s: F5 did not present", what)
			}
			pressKey(w.win, fyne.KeyF5, 0)
			if w.theme.present {
				t.Errorf("%s: F5 again did not stop presenting", what)
				w.setPresenting(false)
			}
			w.win.Canvas().Focus(f)
			w.fitAll = false
			pressKey(w.win, fyne.Key0, fyne.KeyModifierShortcutDefault)
			if !w.fitAll {
				t.Errorf("%s: Ctrl+0 did not fit", what)
			}
		}
		t.Logf("%s: %d stops", where, len(stops))
	}
	for i, tab := range w.tabs.Items {
		w.tabs.SelectIndex(i)
		check(tab.Text)
	}
	w.tabs.SelectIndex(3)
	p.settings.Open()
	check("Importance with the settings open")
}
