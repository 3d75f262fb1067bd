package app

import (
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/layerscope/layerscope/modelio/hub/hubtest"
)

// File ▸ Open from Hub… opens a model by its id, from config.json and the tensor headers only.
func TestOpenFromHubDialog(t *testing.T) {
	dir := tinyModel(t, "tiny", 3)
	s := hubtest.New(t)
	s.Add("org/tiny", dir, "00112233445566778899aabbccddeeff00112233")
	s.Setenv(t, "hf_secret")
	w := newTestWindow(t)
	w.openHubDialog()
	entries, buttons := overlayWidgets(w)
	if len(entries) != 1 || buttons["Open"] == nil {
		t.Fatalf("the dialog has %d entries and buttons %v", len(entries), buttons)
	}
	entries[0].SetText("  org/tiny ")
	test.Tap(buttons["Open"])
	w.waitLoads()
	if len(w.models) != 1 || w.models[0].Name != "org/tiny" || !w.models[0].Remote || len(w.models[0].Arch.Blocks) != 3 {
		t.Fatalf("models after opening org/tiny: %+v (banner %q)", w.models, w.banner.text.Text)
	}
	if p := precheck(w.models[0]); !strings.Contains(p.what, "headers only") || !strings.Contains(p.next, "hf download org/tiny") {
		t.Errorf("Importance on a Hub model: %+v", p)
	}
	s.CheckHeadersOnly(t)

	// A missing model: one line in the banner, the model on screen stays.
	w.openHubDialog()
	entries, buttons = overlayWidgets(w)
	entries[0].SetText("https://huggingface.co/org/none")
	test.Tap(buttons["Open"])
	w.waitLoads()
	if msg := w.banner.text.Text; !w.banner.visible() || strings.Contains(msg, "\n") || !strings.Contains(msg, "hf:org/none: no such model") {
		t.Errorf("banner %q", msg)
	}
	if len(w.models) != 1 || w.models[0].Name != "org/tiny" {
		t.Errorf("a failed open replaced the model on screen")
	}

	// Open Recent remembers the model by its reference, not the one that failed, and opens it again.
	if got := w.recent.List(); len(got) == 0 || got[0] != "hf:org/tiny" || slices.Contains(got, "hf:org/none") {
		t.Fatalf("Open Recent lists %q", got)
	}
	w.open([]string{"llama-3.2-1b"}, false) // a gallery model in between
	w.waitLoads()
	if len(w.models) != 1 || w.models[0].Remote {
		t.Fatalf("the gallery model did not open: %+v", w.models)
	}
	w.waitLoads()
	var item *fyne.MenuItem
	for _, it := range w.recentItem().ChildMenu.Items {
		if it.Label == "hf:org/tiny" {
			item = it
		}
	}
	if item == nil {
		t.Fatal("File > Open Recent has no hf:org/tiny")
	}
	item.Action()
	w.waitLoads()
	if len(w.models) != 1 || w.models[0].Name != "org/tiny" || !w.models[0].Remote {
		t.Errorf("Open Recent > hf:org/tiny shows %+v (banner %q)", w.models, w.banner.text.Text)
	}
}

func TestHubRef(t *testing.T) {
	for in, want := range map[string]string{
		"meta-llama/Llama-3.2-1B":      "hf:meta-llama/Llama-3.2-1B",
		" org/x@v2 ":                   "hf:org/x@v2",
		"hf:org/x":                     "hf:org/x",
		"https://huggingface.co/org/x": "https://huggingface.co/org/x",
		"   ":                          "",
	} {
		if got := hubRef(in); got != want {
			t.Errorf("hubRef(%q) = %q, want %q", in, got, want)
		}
	}
}
