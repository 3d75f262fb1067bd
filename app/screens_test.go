package app

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/layerscope/layerscope/render"
)

// TestScreens renders the window in its main states with Fyne's software painter and writes them to
// $LAYERSCOPE_SCREENS (skipped when unset): the pictures to look at when changing the layout, without a
// display. Every state must render without panicking.
func TestScreens(t *testing.T) {
	out := os.Getenv("LAYERSCOPE_SCREENS")
	if out == "" {
		t.Skip("set LAYERSCOPE_SCREENS=folder to write the screens")
	}
	os.MkdirAll(out, 0o755)
	t.Setenv("HF_HUB_CACHE", t.TempDir())
	a := test.NewTempApp(t)
	w := newWindow(a)
	defer w.win.Close()
	w.win.Resize(fyne.NewSize(1280, 720))
	w.waitLoads()
	shot := func(name string) {
		img := w.win.Canvas().Capture()
		f, err := os.Create(filepath.Join(out, name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
	}
	shot("00-empty")
	w.open([]string{"llama-3.2-1b"}, false)
	w.waitLoads()
	shot("01-llama")
	ref := render.Ref{What: render.RefPart, Model: 0, Start: 0, End: 15, Path: "model.layers.0.self_attn.k_proj"}
	w.view.Select(ref)
	shot("02-selected")
	w.tabs.SelectIndex(1)
	shot("03-tree")
	w.tabs.SelectIndex(0)
	w.setPresenting(true)
	shot("04-present")
	w.setPresenting(false)
	w.setDark(true)
	shot("05-dark")
	w.setDark(false)
	w.open([]string{"llama-3.2-1b", "qwen3-0.6b", "gemma-3-270m"}, false)
	w.waitLoads()
	w.tabs.SelectIndex(2)
	shot("06-compare3")
	w.open([]string{"llama-3.2-1b", "qwen3-0.6b", "gemma-3-270m", "phi-4-mini-instruct", "distilgpt2"}, false)
	w.waitLoads()
	shot("07-compare5")
	w.toggleSide()
	shot("08-compare5-nopanel")
	w.toggleSide()
	w.open([]string{"qwen3-30b-a3b"}, false)
	w.waitLoads()
	w.tabs.SelectIndex(0)
	shot("09-moe")
	w.open([]string{"/nonexistent/folder"}, false)
	w.waitLoads()
	shot("10-error")
	w.banner.hide()
	w.openFolderDialog()
	shot("11-open-folder")
	w.win.Canvas().Overlays().Remove(w.win.Canvas().Overlays().Top())
	w.export("png", 2)
	shot("12-export")
	w.win.Canvas().Overlays().Remove(w.win.Canvas().Overlays().Top())
	w.showKeys()
	shot("13-keys")
	w.win.Canvas().Overlays().Remove(w.win.Canvas().Overlays().Top())
	w.popUpAddMenu(w.labelled[1].b)
	shot("14-add-menu")
	w.win.Canvas().Overlays().Remove(w.win.Canvas().Overlays().Top())
	w.open([]string{"gemma-3-270m"}, false)
	w.waitLoads()
	w.view.Select(render.Ref{What: render.RefCard, Model: 0, Start: 12, End: 16})
	w.removeBlocksDialog()
	shot("15-remove-blocks")
	_, buttons := overlayWidgets(w)
	test.Tap(buttons["Show"])
	shot("16-whatif")
	w.tabs.SelectIndex(1)
	shot("17-whatif-tree")
}
