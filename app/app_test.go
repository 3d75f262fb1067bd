package app

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "github.com/layerscope/layerscope/internal/cleanlocale" // before Fyne reads the locale, as in main

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/weights/weightstest"
	"github.com/layerscope/layerscope/render"
)

// newTestWindow builds the window on Fyne's headless test app, with an empty Hugging Face cache.
func newTestWindow(t *testing.T) *Window {
	t.Helper()
	t.Setenv("HF_HUB_CACHE", t.TempDir())
	a := test.NewTempApp(t)
	w := newWindow(a)
	t.Cleanup(w.win.Close)
	w.win.Resize(fyne.NewSize(1280, 720))
	w.waitLoads()
	return w
}

// tinyModel writes a model folder named name: the config.json of a small llama and real safetensors
// with every tensor the family expects.
func tinyModel(t *testing.T, name string, layers int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{
		"architectures": []string{"LlamaForCausalLM"}, "model_type": "llama",
		"hidden_size": 64, "intermediate_size": 160, "num_hidden_layers": layers,
		"num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100,
		"rms_norm_eps": 1e-05, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
	}
	data, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := modelio.Open(dir) // config only: the family lists the tensors to write
	if err != nil {
		t.Fatal(err)
	}
	var specs []weightstest.Spec
	for _, p := range m.Spec.Root.Params("") {
		specs = append(specs, weightstest.T(p.Name, "BF16", p.Shape...))
	}
	weightstest.WriteFile(t, filepath.Join(dir, "model.safetensors"), specs)
	return dir
}

func uris(paths ...string) []fyne.URI {
	var out []fyne.URI
	for _, p := range paths {
		out = append(out, storage.NewFileURI(p))
	}
	return out
}

func TestOpenGalleryModelSetsTitle(t *testing.T) {
	w := newTestWindow(t)
	w.open([]string{"llama-3.2-1b"}, false)
	w.waitLoads()
	if got, want := w.win.Title(), "Layerscope — llama-3.2-1b"; got != want {
		t.Errorf("title %q, want %q", got, want)
	}
	if n := len(w.view.Models()); n != 1 {
		t.Fatalf("the view shows %d models, want 1", n)
	}
	if w.gallery.Selected != "meta-llama/Llama-3.2-1B" {
		t.Errorf("the gallery picker shows %q", w.gallery.Selected)
	}
	if !strings.HasPrefix(w.tree.text.Text, "LlamaForCausalLM(\n") {
		t.Errorf("the tree tab starts %q", firstLine(w.tree.text.Text))
	}
	if w.banner.visible() {
		t.Errorf("an error banner shows: %q", w.banner.text.Text)
	}
}

func TestGalleryPickerOpens(t *testing.T) {
	w := newTestWindow(t)
	w.gallery.SetSelected("Qwen/Qwen3-0.6B")
	w.waitLoads()
	if got := w.win.Title(); got != "Layerscope — qwen3-0.6b" {
		t.Errorf("title %q after picking Qwen3-0.6B", got)
	}
	if len(w.gallery.Options) < 10 {
		t.Errorf("the gallery picker lists %d models", len(w.gallery.Options))
	}
}

func TestDropTwoFoldersCompares(t *testing.T) {
	w := newTestWindow(t)
	a, b := tinyModel(t, "tiny-a", 2), tinyModel(t, "tiny-b", 3)
	w.dropped(fyne.NewPos(10, 10), uris(a, b))
	w.waitLoads()
	if len(w.models) != 2 || len(w.view.Models()) != 2 {
		t.Fatalf("%d models open, %d drawn; want 2", len(w.models), len(w.view.Models()))
	}
	if got := w.win.Title(); got != "Layerscope — tiny-a vs tiny-b" {
		t.Errorf("title %q", got)
	}
	// The difference table names the layer counts, which differ.
	rows := summary(w.models)
	if got := rows[3].values; rows[3].label != "GQA ratio" || got[0] != "2:1" || got[1] != "2:1" {
		t.Errorf("GQA row %+v", rows[3])
	}
	if got := rows[5].values; rows[5].label != "expansion" || got[0] != "2.50×" {
		t.Errorf("expansion row %+v", rows[5])
	}
	if rows[0].label != "layers" || rows[0].values[0] != "2" || rows[0].values[1] != "3" || rows[0].same() {
		t.Errorf("layers row %+v", rows[0])
	}
	if !rows[1].same() {
		t.Errorf("hidden size row %+v: both are 64", rows[1])
	}
	// One width scale: the two columns' q_proj bars are equally long.
	var q []float64
	for _, it := range w.view.Diagram().Items {
		if it.Kind == render.KindBar && strings.HasSuffix(it.Ref.Path, "self_attn.q_proj") && it.Ref.Start == 0 {
			q = append(q, it.W)
		}
	}
	if len(q) != 2 || q[0] != q[1] {
		t.Errorf("q_proj bar lengths %v, want two equal", q)
	}

	// Removing one leaves the other alone on screen.
	w.removeModel(0)
	if len(w.models) != 1 || w.models[0].Name != "tiny-b" || w.win.Title() != "Layerscope — tiny-b" {
		t.Errorf("after removing tiny-a: %d models, title %q", len(w.models), w.win.Title())
	}
}

func TestDropShardsOpenTheirFolder(t *testing.T) {
	a, b := tinyModel(t, "tiny-a", 2), tinyModel(t, "tiny-b", 2)
	got := modelsOf([]string{filepath.Join(a, "config.json"), filepath.Join(a, "model.safetensors"), b,
		filepath.Join(b, "config.json")})
	if len(got) != 3 || got[0] != a || got[1] != b || got[2] != filepath.Join(b, "config.json") {
		t.Errorf("models of the drop: %q", got)
	}
	w := newTestWindow(t)
	w.dropped(fyne.NewPos(0, 0), uris(filepath.Join(a, "config.json"), filepath.Join(a, "model.safetensors")))
	w.waitLoads()
	if len(w.models) != 1 || w.win.Title() != "Layerscope — tiny-a" {
		t.Errorf("dropping a folder's two files opened %d models, title %q", len(w.models), w.win.Title())
	}
}

func TestMenus(t *testing.T) {
	w := newTestWindow(t)
	w.open([]string{"llama-3.2-1b"}, false)
	w.waitLoads()
	find := func(items []*fyne.MenuItem, label string) *fyne.MenuItem {
		for _, it := range items {
			if it.Label == label {
				return it
			}
		}
		t.Fatalf("no menu item %q", label)
		return nil
	}
	menus := map[string]*fyne.Menu{}
	for _, m := range w.win.MainMenu().Items {
		menus[m.Label] = m
	}
	for _, c := range []struct {
		menu, item, shortcut string
	}{
		{"File", "Open Folder…", "CustomDesktop:Control+O"},
		{"Edit", "Copy Module Tree", "Copy"},
		{"View", "Zoom In", "CustomDesktop:Control+="},
		{"View", "Presentation", "CustomDesktop:F5"},
		{"View", "Full Screen", "CustomDesktop:F11"},
	} {
		it := find(menus[c.menu].Items, c.item)
		if it.Shortcut == nil || it.Shortcut.ShortcutName() != c.shortcut {
			t.Errorf("%s > %s: shortcut %v, want %s", c.menu, c.item, it.Shortcut, c.shortcut)
		}
	}
	export := find(menus["File"].Items, "Export")
	if export.Disabled || len(export.ChildMenu.Items) != 4 || export.ChildMenu.Items[1].Shortcut.ShortcutName() != "CustomDesktop:Control+E" {
		t.Errorf("File > Export: %+v", export.ChildMenu.Items)
	}
	gal := find(menus["File"].Items, "Gallery")
	if len(gal.ChildMenu.Items) < 10 {
		t.Errorf("File > Gallery lists %d models", len(gal.ChildMenu.Items))
	}
	find(gal.ChildMenu.Items, "Qwen/Qwen3-0.6B").Action()
	w.waitLoads()
	if w.win.Title() != "Layerscope — qwen3-0.6b" {
		t.Errorf("File > Gallery > Qwen/Qwen3-0.6B: title %q", w.win.Title())
	}
	// Add from Gallery compares; Remove takes one out again.
	find(find(menus["Compare"].Items, "Add from Gallery").ChildMenu.Items, "openai-community/gpt2").Action()
	w.waitLoads()
	if len(w.models) != 2 {
		t.Fatalf("Compare > Add from Gallery: %d models", len(w.models))
	}
	for _, m := range w.win.MainMenu().Items {
		if m.Label == "Compare" {
			find(find(m.Items, "Remove").ChildMenu.Items, "qwen3-0.6b").Action()
		}
	}
	if len(w.models) != 1 || w.models[0].Name != "gpt2" {
		t.Errorf("Compare > Remove > qwen3-0.6b left %d models", len(w.models))
	}
}

func TestAddToComparisonAndLimit(t *testing.T) {
	w := newTestWindow(t)
	w.open([]string{"llama-3.2-1b"}, false)
	w.waitLoads()
	w.open([]string{"qwen3-0.6b", "gemma-3-270m"}, true)
	w.waitLoads()
	if len(w.models) != 3 {
		t.Fatalf("%d models after adding two to one", len(w.models))
	}
	w.open([]string{"gpt2", "opt-125m", "pythia-70m"}, true)
	w.waitLoads()
	if len(w.models) != maxCompare {
		t.Errorf("%d models, want the limit %d", len(w.models), maxCompare)
	}
	if !w.banner.visible() || !strings.Contains(w.banner.text.Text, "up to 5") {
		t.Errorf("no banner about the limit: %q", w.banner.text.Text)
	}
}

func TestOpenErrorShowsBanner(t *testing.T) {
	w := newTestWindow(t)
	w.open([]string{"llama-3.2-1b"}, false)
	w.waitLoads()
	bad := filepath.Join(t.TempDir(), "broken")
	os.Mkdir(bad, 0o755)
	os.WriteFile(filepath.Join(bad, "config.json"), []byte(`{"model_type": "llama",`), 0o644)
	w.dropped(fyne.NewPos(0, 0), uris(bad))
	w.waitLoads()
	if !w.banner.visible() {
		t.Fatal("no error banner")
	}
	msg := w.banner.text.Text
	if strings.Contains(msg, "\n") || !strings.Contains(msg, "config.json") || !strings.Contains(msg, "invalid JSON") {
		t.Errorf("banner %q: want one line naming the file and the fault", msg)
	}
	if w.win.Title() != "Layerscope — llama-3.2-1b" {
		t.Errorf("the model on screen was replaced by a failed load: title %q", w.win.Title())
	}
	w.onKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if w.banner.visible() {
		t.Error("Esc does not dismiss the banner")
	}
}

func TestTreeSwitchToBase(t *testing.T) {
	w := newTestWindow(t)
	w.open([]string{"llama-3.2-1b"}, false)
	w.waitLoads()
	if w.tree.which.Selected != optCausal {
		t.Fatalf("the switch starts on %q", w.tree.which.Selected)
	}
	w.tree.which.SetSelected(optBase)
	if !strings.HasPrefix(w.tree.text.Text, "LlamaModel(\n  (embed_tokens): Embedding(128256, 2048)") || strings.Contains(w.tree.text.Text, "lm_head") {
		t.Errorf("base tree starts %q", firstLine(w.tree.text.Text))
	}
	// The choice survives opening another model of a family with a base class.
	w.open([]string{"qwen3-0.6b"}, false)
	w.waitLoads()
	if !strings.HasPrefix(w.tree.text.Text, "Qwen3Model(\n") {
		t.Errorf("after opening Qwen3 the tree starts %q", firstLine(w.tree.text.Text))
	}
	w.tree.which.SetSelected(optCausal)
	if !strings.HasPrefix(w.tree.text.Text, "Qwen3ForCausalLM(\n") {
		t.Errorf("causal tree starts %q", firstLine(w.tree.text.Text))
	}
	// Copy puts the whole tree on the clipboard when nothing is selected.
	w.tabs.SelectIndex(1)
	w.copyShortcut()
	if got := w.app.Clipboard().Content(); got != w.tree.text.Text {
		t.Errorf("clipboard holds %d bytes, want the %d of the tree", len(got), len(w.tree.text.Text))
	}
}

func TestRecentPersists(t *testing.T) {
	w := newTestWindow(t)
	dir := tinyModel(t, "tiny-recent", 2)
	w.open([]string{dir}, false)
	w.waitLoads()
	w.open([]string{"gpt2"}, false) // a gallery model is not recorded
	w.waitLoads()
	got := w.app.Preferences().StringList(prefRecent)
	if len(got) != 1 || got[0] != dir {
		t.Fatalf("recent %q, want [%s]", got, dir)
	}
	// A second window of the same app (the next start reads the same preferences) offers it.
	w2 := newWindow(w.app)
	defer w2.win.Close()
	w2.waitLoads()
	menu := w2.win.MainMenu().Items[0]
	var recent *fyne.MenuItem
	for _, it := range menu.Items {
		if it.Label == "Open Recent" {
			recent = it
		}
	}
	if recent == nil || recent.Disabled || len(recent.ChildMenu.Items) == 0 || recent.ChildMenu.Items[0].Label != dir {
		t.Fatalf("Open Recent does not offer %s", dir)
	}
	recent.ChildMenu.Items[0].Action()
	w2.waitLoads()
	if w2.win.Title() != "Layerscope — tiny-recent" {
		t.Errorf("opening the recent entry gives title %q", w2.win.Title())
	}
}

func TestRecentListOrderAndLimit(t *testing.T) {
	r := recentList{test.NewTempApp(t).Preferences()}
	for i := range 12 {
		r.Add(filepath.Join("/models", string(rune('a'+i))))
	}
	r.Add("/models/c") // again: moves to the front, not duplicated
	list := r.List()
	if len(list) != maxRecent || list[0] != "/models/c" || list[1] != "/models/l" {
		t.Errorf("recent %q", list)
	}
	seen := map[string]bool{}
	for _, p := range list {
		if seen[p] {
			t.Errorf("%s listed twice", p)
		}
		seen[p] = true
	}
	r.Remove("/models/c")
	if r.List()[0] != "/models/l" {
		t.Errorf("after Remove: %q", r.List())
	}
	r.Clear()
	if len(r.List()) != 0 {
		t.Errorf("after Clear: %q", r.List())
	}
}

func TestSelectionShowsTensors(t *testing.T) {
	w := newTestWindow(t)
	dir := tinyModel(t, "tiny-sel", 2)
	w.open([]string{dir}, false)
	w.waitLoads()
	ref := render.Ref{What: render.RefPart, Model: 0, Start: 0, End: 1, Path: "model.layers.0.self_attn.k_proj"}
	w.view.Select(ref)
	w.selected(ref, nil)
	if w.selection.title.Text != "model.layers.0.self_attn.k_proj" {
		t.Errorf("selection title %q", w.selection.title.Text)
	}
	for _, want := range []string{"Linear(64 → 32)", "blocks 0–1", "2,048 parameters each", "dtype BF16"} {
		if !strings.Contains(w.selection.lines.Text, want) {
			t.Errorf("selection lines %q lack %q", w.selection.lines.Text, want)
		}
	}
	if w.selection.tensors.Text != "model.layers.0.self_attn.k_proj.weight\n    [32, 64]" {
		t.Errorf("tensors %q", w.selection.tensors.Text)
	}
	// A card: its class and parts.
	title, lines, parts := describeRef(w.models[0], render.Ref{What: render.RefCard, Start: 0, End: 1})
	if title != "blocks 0–1 · LlamaDecoderLayer" || len(lines) == 0 || len(parts) < 7 {
		t.Errorf("card: %q %q %q", title, lines, parts)
	}
	// The keyboard moves the selection through the view.
	w.onKey(&fyne.KeyEvent{Name: fyne.KeyDown})
	if _, ok := w.view.Selected(); !ok {
		t.Error("Down selected nothing")
	}
}

func TestPresentAndThemeKeys(t *testing.T) {
	w := newTestWindow(t)
	w.open([]string{"llama-3.2-1b"}, false)
	w.waitLoads()
	body := w.theme.Size("text")
	w.onKey(&fyne.KeyEvent{Name: fyne.KeyF5})
	if !w.theme.present || w.theme.Size("text") != body*presentScale {
		t.Errorf("F5: presenting %v, text %v (was %v)", w.theme.present, w.theme.Size("text"), body)
	}
	if w.app.Settings().Theme() != fyne.Theme(w.theme) {
		t.Error("the presentation theme is not the app's theme")
	}
	w.onKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
	if w.theme.present {
		t.Error("Esc does not leave the presentation")
	}
	w.setDark(true)
	if w.view.Options().Theme.Name != "dark" || !w.app.Preferences().Bool(prefDark) {
		t.Errorf("dark: diagram theme %q", w.view.Options().Theme.Name)
	}
	z := w.view.Zoom()
	w.onKey(&fyne.KeyEvent{Name: fyne.KeyEqual})
	if w.view.Zoom() <= z || w.autoFit {
		t.Errorf("= did not zoom in: %v → %v", z, w.view.Zoom())
	}
	w.onKey(&fyne.KeyEvent{Name: fyne.KeyMinus})
	if w.view.Zoom() != z {
		t.Errorf("- did not zoom back: %v, want %v", w.view.Zoom(), z)
	}
}

// The automatic fit keeps the labels readable and scrolls; Fit shows the whole stack however small.
func TestFitKeepsLabelsReadable(t *testing.T) {
	w := newTestWindow(t)
	w.open([]string{"llama-3.2-1b", "qwen3-0.6b", "gemma-3-270m", "phi-4-mini-instruct", "distilgpt2"}, false)
	w.waitLoads()
	if z := w.view.Zoom(); z < minZoom-1e-3 {
		t.Errorf("five models open at zoom %v, below the readable %v", z, minZoom)
	}
	w.fit()
	if d, avail, z := w.view.Diagram(), w.stack.Size(), float64(w.view.Zoom()); d.Width*z > float64(avail.Width) || d.Height*z > float64(avail.Height) {
		t.Errorf("Fit: five models at zoom %v are %v × %v, larger than the %v centre", z, d.Width*z, d.Height*z, avail)
	}
	w.open([]string{"llama-3.2-1b"}, false)
	w.waitLoads()
	w.fit()
	d, avail := w.view.Diagram(), w.stack.Size()
	if z := float64(w.view.Zoom()); d.Width*z > float64(avail.Width) || d.Height*z > float64(avail.Height) {
		t.Errorf("one model at zoom %v is %v × %v, larger than the %v centre", z, d.Width*z, d.Height*z, avail)
	}
	// Three models share the width of the centre at full size: the layout narrows the columns.
	w.open([]string{"llama-3.2-1b", "qwen3-0.6b", "gpt2"}, false)
	w.waitLoads()
	if d := w.view.Diagram(); d.Width > float64(w.stack.Size().Width) {
		t.Errorf("three models are %v wide in a %v centre", d.Width, w.stack.Size().Width)
	}
}

func TestHFCache(t *testing.T) {
	hub := t.TempDir()
	mk := func(repo, rev string, files ...string) {
		snap := filepath.Join(hub, repo, "snapshots", rev)
		os.MkdirAll(snap, 0o755)
		for _, f := range files {
			os.WriteFile(filepath.Join(snap, f), []byte("{}"), 0o644)
		}
	}
	mk("models--meta-llama--Llama-3.2-1B", "aaa", "config.json")
	mk("models--meta-llama--Llama-3.2-1B", "bbb", "config.json", "model.safetensors")
	os.MkdirAll(filepath.Join(hub, "models--meta-llama--Llama-3.2-1B", "refs"), 0o755)
	os.WriteFile(filepath.Join(hub, "models--meta-llama--Llama-3.2-1B", "refs", "main"), []byte("aaa\n"), 0o644)
	mk("models--Qwen--Qwen3-0.6B", "ccc", "model.safetensors")
	mk("models--empty--nothing", "ddd", "README.md")
	mk("datasets--some--data", "eee", "config.json")

	got := scanHFCache(hub)
	if len(got) != 2 || got[0].ID != "meta-llama/Llama-3.2-1B" || got[1].ID != "Qwen/Qwen3-0.6B" {
		t.Fatalf("scan found %+v", got)
	}
	if filepath.Base(got[0].Path) != "aaa" {
		t.Errorf("snapshot %s, want refs/main's aaa", got[0].Path)
	}
	if scanHFCache(filepath.Join(hub, "missing")) != nil {
		t.Error("a missing cache is not empty")
	}

	home, _ := os.UserHomeDir()
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"HF_HUB_CACHE": "/x/hub", "HF_HOME": "/y"}, "/x/hub"},
		{map[string]string{"HF_HOME": "/y"}, "/y/hub"},
		{map[string]string{"XDG_CACHE_HOME": "/z"}, "/z/huggingface/hub"},
		{map[string]string{}, filepath.Join(home, ".cache", "huggingface", "hub")},
	} {
		for _, v := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"} {
			t.Setenv(v, c.env[v])
		}
		if got := hfHubDir(); got != c.want {
			t.Errorf("%v: hub %q, want %q", c.env, got, c.want)
		}
	}

	// The window lists the cache's models in its menus.
	t.Setenv("HF_HUB_CACHE", hub)
	w := newWindow(test.NewTempApp(t))
	defer w.win.Close()
	w.waitLoads()
	if len(w.hfModels) != 2 {
		t.Errorf("the window found %d cached models", len(w.hfModels))
	}
}

func TestExportGuards(t *testing.T) {
	w := newTestWindow(t)
	dir := tinyModel(t, "tiny-export", 2)
	w.open([]string{dir, "gpt2"}, false)
	w.waitLoads()
	if got := w.modelFolderHolding(filepath.Join(dir, "stack.png")); got == "" {
		t.Error("a file inside the model folder is not refused")
	}
	if got := w.modelFolderHolding(filepath.Join(filepath.Dir(dir), "stack.png")); got != "" {
		t.Errorf("a file beside the model folder is refused (%s)", got)
	}
	if got := exportName("meta-llama/Llama", 3, "png", 2); got != "meta-llama_Llama-and-2-more@2x.png" {
		t.Errorf("export name %q", got)
	}
	// The path is checked before anything is written: picking config.json inside the model folder
	// must not touch it.
	before, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if _, err := w.checkSavePath(dir, "config.json", ".png"); err == nil || !strings.Contains(err.Error(), "never writes into a model folder") {
		t.Errorf("a path inside the model folder: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "config.json")); string(after) != string(before) || len(after) == 0 {
		t.Error("config.json changed")
	}
	for _, name := range []string{"", "  ", "sub/stack.png"} {
		if _, err := w.checkSavePath(t.TempDir(), name, ".png"); err == nil {
			t.Errorf("file name %q accepted", name)
		}
	}
	out := t.TempDir()
	path, err := w.checkSavePath(out, "stack", ".png")
	if err != nil || path != filepath.Join(out, "stack.png") {
		t.Fatalf("checkSavePath = %q, %v", path, err)
	}
	if err := writeFileAtomic(path, func(wr io.Writer) error { _, err := wr.Write([]byte("png")); return err }); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(path, func(io.Writer) error { return errors.New("disk full") }); err == nil {
		t.Error("a failed write reported no error")
	}
	if data, _ := os.ReadFile(path); string(data) != "png" {
		t.Errorf("a failed export damaged the existing file: %q", data)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// visibleTexts returns the texts on the window's canvas that are shown.
func visibleTexts(w *Window) map[string]bool {
	out := map[string]bool{}
	for _, o := range test.LaidOutObjects(w.win.Content()) {
		if tx, ok := o.(*canvas.Text); ok && tx.Visible() && tx.Text != "" {
			out[tx.Text] = true
		}
	}
	return out
}

// All four side tabs stay in the tab bar on a 1280 × 720 screen, presenting (1.6× type) or not: a tab
// in the overflow menu is one a lecturer cannot find.
func TestSideTabsFitWhilePresenting(t *testing.T) {
	w := newTestWindow(t)
	w.win.Resize(fyne.NewSize(1280, 720))
	w.open([]string{"llama-3.2-1b"}, false)
	w.waitLoads()
	for _, present := range []bool{false, true, false} {
		w.setPresenting(present)
		if present {
			if w.sideShown {
				t.Error("presenting: the side panel is still shown")
			}
			w.onKey(&fyne.KeyEvent{Name: fyne.KeyF9}) // the lecturer brings it back
		}
		shown := visibleTexts(w)
		for _, tab := range []string{"Facts", "Tree", "Compare", "Importance"} {
			if !shown[tab] {
				t.Errorf("presenting %v: the %q tab is not in the tab bar", present, tab)
			}
		}
	}
	if w.tabs.Items[0].Icon == nil {
		t.Error("the tab icons did not come back after presenting")
	}
}

// Selecting something off screen (a chart bar's block, the arrow keys) scrolls the stack to it.
func TestSelectionScrollsIntoSight(t *testing.T) {
	w := newTestWindow(t)
	w.open([]string{"llama-3.2-1b"}, false)
	w.waitLoads()
	w.autoFit = false
	w.view.SetZoom(4) // the stack is several screens tall
	w.zoomed()
	w.scroll.Refresh()
	inSight := func(what string) {
		t.Helper()
		pos, size, ok := w.view.SelectionRect()
		if !ok {
			t.Fatalf("%s: nothing selected", what)
		}
		top := pos.Y + w.view.Position().Y - w.scroll.Offset.Y
		if top < 0 || top+min(size.Height, w.scroll.Size().Height/2) > w.scroll.Size().Height {
			t.Errorf("%s: its top is %.0f px into a %.0f px view (offset %.0f)", what, top, w.scroll.Size().Height, w.scroll.Offset.Y)
		}
	}
	w.view.Select(render.Ref{What: render.RefCard, Model: 0, Start: 0, End: 15})
	inSight("block 0's card")
	if w.scroll.Offset.Y == 0 {
		t.Error("the stack did not scroll down to block 0's card")
	}
	w.view.Select(render.Ref{What: render.RefPart, Model: 0, Start: -1, End: -1, Path: "lm_head"})
	inSight("the LM head")
}

// overlayWidgets returns the entries and buttons of the dialog on top.
func overlayWidgets(w *Window) (entries []*widget.Entry, buttons map[string]*widget.Button) {
	buttons = map[string]*widget.Button{}
	top := w.win.Canvas().Overlays().Top()
	if top == nil {
		return nil, buttons
	}
	for _, o := range test.LaidOutObjects(top) {
		switch v := o.(type) {
		case *widget.Entry:
			entries = append(entries, v)
		case *keyEntry:
			entries = append(entries, &v.Entry)
		case *widget.Button:
			buttons[v.Text] = v
		case *keyButton:
			buttons[v.Text] = &v.Button
		}
	}
	return entries, buttons
}

// Edit ▸ What If: Remove Blocks… (Ctrl+R) works on a gallery model: no weights, no run.
func TestRemoveBlocksDialog(t *testing.T) {
	w := newTestWindow(t)
	w.open([]string{"llama-3.2-1b"}, false)
	w.waitLoads()
	w.removeBlocksDialog()
	entries, buttons := overlayWidgets(w)
	if len(entries) != 1 || buttons["Show"] == nil {
		t.Fatalf("the dialog has %d entries and buttons %v", len(entries), buttons)
	}
	e := entries[0]
	for _, bad := range []string{"3,", "16", "0-15"} {
		e.SetText(bad)
		if e.Validate() == nil || !buttons["Show"].Disabled() {
			t.Errorf("%q: accepted (validation %v)", bad, e.Validate())
		}
	}
	e.SetText("3, 5-6")
	if err := e.Validate(); err != nil {
		t.Fatalf("3, 5-6: %v", err)
	}
	test.Tap(buttons["Show"])
	if w.whatIf == nil || !slices.Equal(w.whatIf.remove, []int{3, 5, 6}) {
		t.Fatalf("no what-if for blocks 3, 5, 6: %+v", w.whatIf)
	}
	if n := len(w.models[0].Arch.Blocks); n != 13 {
		t.Errorf("the stack shows %d blocks, want 13", n)
	}
	if !w.whatIfBar.save.Disabled() {
		t.Error("Save copy… is enabled for a gallery model, which has no weights to copy")
	}
	// Asked again, the dialog starts from the what-if on screen and replaces it.
	w.removeBlocksDialog()
	entries, buttons = overlayWidgets(w)
	if entries[0].Text != "3, 5-6" {
		t.Errorf("the entry starts with %q, want the what-if's blocks", entries[0].Text)
	}
	entries[0].SetText("15")
	test.Tap(buttons["Show"])
	if w.whatIf == nil || !slices.Equal(w.whatIf.remove, []int{15}) || len(w.models[0].Arch.Blocks) != 15 {
		t.Errorf("the second what-if: %+v", w.whatIf)
	}
	w.leaveWhatIf()
	if len(w.models[0].Arch.Blocks) != 16 {
		t.Error("Back to full model did not restore the 16 blocks")
	}
}
