package render_test

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/config"
	_ "github.com/layerscope/layerscope/modelio/family/gemma3"
	_ "github.com/layerscope/layerscope/modelio/family/gpt2"
	_ "github.com/layerscope/layerscope/modelio/family/gptneox"
	_ "github.com/layerscope/layerscope/modelio/family/llama"
	_ "github.com/layerscope/layerscope/modelio/family/mixtral"
	_ "github.com/layerscope/layerscope/modelio/family/opt"
	_ "github.com/layerscope/layerscope/modelio/family/phi"
	_ "github.com/layerscope/layerscope/modelio/family/phi3"
	_ "github.com/layerscope/layerscope/modelio/family/qwen3"
	_ "github.com/layerscope/layerscope/modelio/family/qwen3moe"
	"github.com/layerscope/layerscope/render"
)

// Gallery config stems used below.
const (
	llama1B  = "meta-llama__Llama-3.2-1B"
	llama8B  = "meta-llama__Llama-3.1-8B"
	phi4     = "microsoft__Phi-4-mini-instruct"
	gemma270 = "google__gemma-3-270m"
	qwen3    = "Qwen__Qwen3-0.6B"
	gpt2     = "openai-community__gpt2"
	mistral  = "mistralai__Mistral-7B-v0.1"
)

// load builds a gallery model's architecture the way the app does: config, family, tree, description.
// A family not registered yet skips the test instead of failing it.
func load(tb testing.TB, stem string) render.Model {
	tb.Helper()
	cfg, err := config.ReadFile(filepath.Join("..", "modelio", "gallery", "configs", stem+".config.json"))
	if err != nil {
		tb.Fatal(err)
	}
	mt := cfg.String("model_type", "")
	f, ok := arch.Lookup(mt)
	if !ok {
		tb.Skipf("no family registered for model_type %q", mt)
	}
	spec, err := f.Build(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	_, name, _ := strings.Cut(stem, "__")
	return render.Model{Name: name, Params: spec.Root.NumParams(), Arch: arch.Describe(spec)}
}

func loadAll(tb testing.TB, stems ...string) []render.Model {
	out := make([]render.Model, len(stems))
	for i, s := range stems {
		out[i] = load(tb, s)
	}
	return out
}

// bar returns the bar item of model m that shows the part at path (of the card's first block).
func bar(t *testing.T, d *render.Diagram, m int, path string) render.Item {
	t.Helper()
	for _, it := range d.Items {
		if it.Kind == render.KindBar && it.Ref.Model == m && it.Ref.Path == path {
			return it
		}
	}
	t.Fatalf("no bar for model %d part %s", m, path)
	return render.Item{}
}

func cards(d *render.Diagram, m int) []render.Item {
	var out []render.Item
	for _, it := range d.Items {
		if it.Kind == render.KindCard && it.Ref.What == render.RefCard && it.Ref.Model == m {
			out = append(out, it)
		}
	}
	return out
}

func TestBarLengthsProportional(t *testing.T) {
	for _, theme := range []render.Theme{render.Light, render.Dark} {
		d := render.Layout(loadAll(t, llama1B), render.Options{Theme: theme})
		const pre = "model.layers.0."
		tests := []struct {
			a, b  string
			ratio float64
		}{
			{"self_attn.q_proj", "self_attn.k_proj", 4},
			{"self_attn.k_proj", "self_attn.v_proj", 1},
			{"mlp.gate_proj", "self_attn.q_proj", 4},
			{"mlp.up_proj", "mlp.down_proj", 4},
			{"self_attn.o_proj", "mlp.down_proj", 1},
		}
		for _, tt := range tests {
			a, b := bar(t, d, 0, pre+tt.a), bar(t, d, 0, pre+tt.b)
			if math.Abs(a.W-tt.ratio*b.W) > 0.5 {
				t.Errorf("%s: %s = %.2f, %s = %.2f, want ratio %g", theme.Name, tt.a, a.W, tt.b, b.W, tt.ratio)
			}
		}
		if got, want := bar(t, d, 0, pre+"self_attn.q_proj").W, 2048*d.Scale; math.Abs(got-want) > 0.01 {
			t.Errorf("q_proj bar %.2f, want 2048 × scale = %.2f", got, want)
		}
	}
}

func TestOneScaleAcrossModels(t *testing.T) {
	d := render.Layout(loadAll(t, llama1B, phi4), render.Options{})
	gate := bar(t, d, 0, "model.layers.0.mlp.gate_proj")
	gateUp := bar(t, d, 1, "model.layers.0.mlp.gate_up_proj")
	if math.Abs(gateUp.W-2*gate.W) > 0.5 {
		t.Errorf("Phi-4-mini gate_up %.2f, want twice Llama-3.2-1B gate %.2f", gateUp.W, gate.W)
	}
	if d.Widest != 16384 {
		t.Errorf("widest projection %d, want Phi-4-mini's gate_up 16384", d.Widest)
	}
	// The widest bar fills its card: it sets the scale.
	if cw := cards(d, 1)[0].W; gateUp.W > cw {
		t.Errorf("widest bar %.1f overflows its card %.1f", gateUp.W, cw)
	}
}

func TestFoldCards(t *testing.T) {
	tests := []struct {
		stem    string
		headers []string // card headers, block 0's card first
		dashed  []bool
	}{
		{llama1B, []string{"16 × blocks 0–15"}, []bool{false}},
		{gemma270, []string{"5 × blocks 0–4", "block 5", "5 × blocks 6–10", "block 11", "5 × blocks 12–16", "block 17"},
			[]bool{true, false, true, false, true, false}},
	}
	for _, tt := range tests {
		m := load(t, tt.stem)
		d := render.Layout([]render.Model{m}, render.Options{})
		got := cards(d, 0)
		groups := m.Arch.FoldGroups()
		if len(got) != len(groups) || len(got) != len(tt.headers) {
			t.Fatalf("%s: %d cards, %d fold groups, want %d", tt.stem, len(got), len(groups), len(tt.headers))
		}
		for k, c := range got {
			if c.Ref.Start != groups[k].Start || c.Ref.End != groups[k].End {
				t.Errorf("%s card %d shows blocks %d–%d, fold group is %d–%d", tt.stem, k, c.Ref.Start, c.Ref.End, groups[k].Start, groups[k].End)
			}
			if h := header(d, c.Ref); h != tt.headers[k] {
				t.Errorf("%s card %d header %q, want %q", tt.stem, k, h, tt.headers[k])
			}
			if c.Dashed != tt.dashed[k] {
				t.Errorf("%s card %d dashed %v, want %v", tt.stem, k, c.Dashed, tt.dashed[k])
			}
			if k > 0 && c.Y >= got[k-1].Y {
				t.Errorf("%s card %d at y %.0f not above card %d at %.0f: block 0 belongs at the bottom", tt.stem, k, c.Y, k-1, got[k-1].Y)
			}
		}
	}
}

// header joins the count and range texts of a card.
func header(d *render.Diagram, ref render.Ref) string {
	var parts []string
	for _, it := range d.Items {
		if it.Kind == render.KindText && it.Ref == ref && (strings.HasSuffix(it.Text, "×") || strings.HasPrefix(it.Text, "block")) {
			parts = append(parts, it.Text)
		}
	}
	return strings.Join(parts, " ")
}

func TestGemmaMarks(t *testing.T) {
	d := render.Layout(loadAll(t, gemma270), render.Options{})
	texts := map[string]int{}
	for _, it := range d.Items {
		if it.Kind == render.KindText {
			texts[it.Text]++
		}
	}
	if texts["sliding 512"] != 3 || texts["full attention"] != 3 {
		t.Errorf("tags: sliding 512 ×%d, full attention ×%d, want 3 each", texts["sliding 512"], texts["full attention"])
	}
	// Four block norms and q/k norms, as bands, in the first card.
	bands := 0
	for _, it := range d.Items {
		if it.Kind == render.KindBand && it.Ref.Start == 0 && strings.HasSuffix(it.Ref.Path, "layernorm") {
			bands++
		}
	}
	if bands != 4 {
		t.Errorf("gemma-3 block bands %d, want 4", bands)
	}
}

func TestUnfold(t *testing.T) {
	m := load(t, llama1B)
	all := render.Layout([]render.Model{m}, render.Options{UnfoldAll: true})
	if n := len(cards(all, 0)); n != 16 {
		t.Errorf("unfold all: %d cards, want 16", n)
	}
	g := load(t, gemma270)
	one := render.Layout([]render.Model{g}, render.Options{Unfold: map[render.FoldID]bool{{Model: 0, Start: 6}: true}})
	if n := len(cards(one, 0)); n != 10 {
		t.Errorf("unfold blocks 6–10: %d cards, want 10", n)
	}
}

// TestLabelsClear checks that no text overlaps a bar or band of another row, nor leaves its column.
func TestLabelsClear(t *testing.T) {
	d := render.Layout(loadAll(t, llama1B, phi4, gemma270, qwen3, gpt2), render.Options{})
	var shapes, texts []render.Item
	for _, it := range d.Items {
		switch it.Kind {
		case render.KindBar, render.KindBand, render.KindExpert:
			shapes = append(shapes, it)
		case render.KindText:
			texts = append(texts, it)
			if it.Size < 14 {
				t.Errorf("text %q at size %g: under 14 is unreadable on a projector", it.Text, it.Size)
			}
		}
	}
	for _, tx := range texts {
		if tx.X+tx.W > d.Width+0.5 {
			t.Errorf("text %q ends at %.1f past the diagram's width %.1f", tx.Text, tx.X+tx.W, d.Width)
		}
		top, bottom := tx.Baseline()-0.72*tx.Size, tx.Baseline()+0.2*tx.Size // the ink, not the box
		for _, s := range shapes {
			if tx.Ref.Path != "" && s.Ref.Path == tx.Ref.Path && s.Ref.Model == tx.Ref.Model {
				continue // a label inside its own bar
			}
			if tx.X < s.X+s.W && s.X < tx.X+tx.W && top < s.Y+s.H && s.Y < bottom {
				t.Errorf("text %q (%.0f,%.0f %.0f×%.0f) overlaps %s %s (%.0f,%.0f %.0f×%.0f)",
					tx.Text, tx.X, top, tx.W, bottom-top, s.Kind, s.Ref.Path, s.X, s.Y, s.W, s.H)
			}
		}
	}
}

func TestFitsProjector(t *testing.T) {
	tests := []struct {
		name   string
		stems  []string
		height float64 // most the picture may take at scale 1
	}{
		{"folded 32 blocks", []string{llama8B}, 720},
		{"five models", []string{llama1B, phi4, qwen3, gpt2, mistral}, 720},
	}
	for _, tt := range tests {
		d := render.Layout(loadAll(t, tt.stems...), render.Options{})
		if d.Width > render.DefaultWidth || d.Height > tt.height {
			t.Errorf("%s: %.0f × %.0f, want within %d × %.0f", tt.name, d.Width, d.Height, render.DefaultWidth, tt.height)
		}
	}
}

func TestHitTest(t *testing.T) {
	d := render.Layout(loadAll(t, llama1B), render.Options{})
	q := bar(t, d, 0, "model.layers.0.self_attn.q_proj")
	hit := d.HitTest(q.X+1, q.Y+q.H/2)
	if hit == nil || hit.Ref.Path != q.Ref.Path {
		t.Fatalf("hit at q_proj's bar: %+v", hit)
	}
	c := cards(d, 0)[0]
	if hit := d.HitTest(c.X+c.W-2, c.Y+c.H-2); hit == nil || hit.Ref.What != render.RefCard {
		t.Errorf("hit in the card's corner: %+v, want the card", hit)
	}
}

// TestSamples writes sample pictures for a person to look at: LAYERSCOPE_SAMPLES=/tmp/samples go test.
func TestSamples(t *testing.T) {
	dir := os.Getenv("LAYERSCOPE_SAMPLES")
	if dir == "" {
		t.Skip("set LAYERSCOPE_SAMPLES to a folder to write sample pictures")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		stems []string
		opt   render.Options
	}{
		{"llama-3.2-1b", []string{llama1B}, render.Options{}},
		{"llama-3.1-8b-dark", []string{llama8B}, render.Options{Theme: render.Dark}},
		{"gemma-3-270m", []string{gemma270}, render.Options{}},
		{"compare-two", []string{llama1B, phi4}, render.Options{}},
		{"compare-five", []string{llama1B, phi4, gemma270, qwen3, gpt2}, render.Options{}},
		{"compare-five-dark", []string{llama1B, phi4, qwen3, gpt2, mistral}, render.Options{Theme: render.Dark}},
		{"moe-qwen3-mixtral", []string{"Qwen__Qwen3-30B-A3B", "mistralai__Mixtral-8x7B-v0.1", llama8B}, render.Options{}},
		{"gemma-3-270m-unfold-6", []string{gemma270}, render.Options{Unfold: map[render.FoldID]bool{{Model: 0, Start: 6}: true}}},
	}
	for _, tt := range tests {
		d := render.Layout(loadAll(t, tt.stems...), tt.opt)
		for _, ext := range []string{".png", ".svg"} {
			f, err := os.Create(filepath.Join(dir, tt.name+ext))
			if err != nil {
				t.Fatal(err)
			}
			if ext == ".png" {
				err = d.PNG(f, 2)
			} else {
				err = d.SVG(f)
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	moe := render.Layout([]render.Model{moeModel(), load(t, llama1B)}, render.Options{})
	f, err := os.Create(filepath.Join(dir, "moe.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := moe.PNG(f, 2); err != nil {
		t.Fatal(err)
	}
}

// moeModel is a hand-made description shaped like Qwen3-30B-A3B (48 blocks of 128 experts, 8 per token),
// so the MoE drawing is tested whether or not a MoE family is registered.
func moeModel() render.Model {
	const hidden, layers = 2048, 48
	lin := func(name string, role arch.Role, in, out int64) arch.Part {
		return arch.Part{Name: name, Role: role, RoleID: role.String(), Class: "Linear", In: in, Out: out, Params: in * out}
	}
	norm := func(name string, dim int64) arch.Part {
		return arch.Part{Name: name, Role: arch.RoleNorm, RoleID: "norm", Class: "Qwen3MoeRMSNorm", Out: dim, Params: dim}
	}
	a := &arch.Architecture{Family: "qwen3_moe", Class: "Qwen3MoeForCausalLM"}
	a.Embeddings = []arch.Part{{Path: "model.embed_tokens", Name: "model.embed_tokens", Role: arch.RoleTokenEmbedding, Class: "Embedding", In: 151936, Out: hidden}}
	for i := range layers {
		b := arch.Block{Index: i, Class: "Qwen3MoeDecoderLayer", Key: "moe", Parts: []arch.Part{
			lin("self_attn.q_proj", arch.RoleQ, hidden, 4096), lin("self_attn.k_proj", arch.RoleK, hidden, 512),
			lin("self_attn.v_proj", arch.RoleV, hidden, 512), lin("self_attn.o_proj", arch.RoleO, 4096, hidden),
			norm("self_attn.q_norm", 128), norm("self_attn.k_norm", 128),
			lin("mlp.gate", arch.RoleRouter, hidden, 128),
			norm("input_layernorm", hidden), norm("post_attention_layernorm", hidden),
		}}
		b.Experts = &arch.Experts{Count: 128, TopK: 8, Uniform: true, Params: 128 * 3 * hidden * 768, Expert: []arch.Part{
			lin("gate_proj", arch.RoleGate, hidden, 768), lin("up_proj", arch.RoleUp, hidden, 768), lin("down_proj", arch.RoleDown, 768, hidden),
		}}
		for k := range b.Parts {
			b.Parts[k].Path = "model.layers." + itoa(i) + "." + b.Parts[k].Name
			b.Params += b.Parts[k].Params
		}
		for k := range b.Experts.Expert {
			b.Experts.Expert[k].Path = "model.layers." + itoa(i) + ".mlp.experts.0." + b.Experts.Expert[k].Name
		}
		b.Params += b.Experts.Params
		a.Blocks = append(a.Blocks, b)
	}
	a.FinalNorm = &arch.Part{Path: "model.norm", Name: "model.norm", Role: arch.RoleFinalNorm, Class: "Qwen3MoeRMSNorm", Out: hidden}
	a.LMHead = &arch.Part{Path: "lm_head", Name: "lm_head", Role: arch.RoleLMHead, Class: "Linear", In: hidden, Out: 151936}
	return render.Model{Name: "Qwen3-30B-A3B (hand-made)", Params: 30_532_122_624, Arch: a}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestTextInsideCards checks that every text that belongs to a card stays inside it.
func TestTextInsideCards(t *testing.T) {
	for _, opt := range []render.Options{{}, {Repeat: true}, {UnfoldAll: true}} {
		d := render.Layout(loadAll(t, gemma270, phi4, llama1B, qwen3, gpt2), opt)
		for _, c := range d.Items {
			if c.Kind != render.KindCard || c.Ref.What != render.RefCard {
				continue
			}
			for _, it := range d.Items {
				if it.Kind != render.KindText || it.Ref.Model != c.Ref.Model || it.Ref.Start != c.Ref.Start || it.Ref.What == render.RefNone {
					continue
				}
				if it.X < c.X || it.X+it.W > c.X+c.W || it.Y < c.Y || it.Y+it.H > c.Y+c.H+0.5 {
					t.Errorf("%+v: text %q (%.0f,%.0f %.0f×%.0f) leaves its card (%.0f,%.0f %.0f×%.0f)",
						opt, it.Text, it.X, it.Y, it.W, it.H, c.X, c.Y, c.W, c.H)
				}
			}
		}
	}
}

func TestMoE(t *testing.T) {
	d := render.Layout([]render.Model{moeModel(), load(t, llama1B)}, render.Options{})
	boxes, chosen := 0, 0
	for _, it := range d.Items {
		if it.Kind == render.KindExpert && it.Ref.What == render.RefExperts && it.Ref.Model == 0 {
			boxes++
			if it.Fill != "" {
				chosen++
			}
		}
	}
	if boxes != 128 || chosen != 8 {
		t.Errorf("%d expert boxes with %d marked, want 128 with 8", boxes, chosen)
	}
	note := false
	for _, it := range d.Items {
		note = note || (it.Kind == render.KindText && it.Text == "8 of 128 experts per token")
	}
	if !note {
		t.Error(`no "8 of 128 experts per token" note`)
	}
	// One expert's bars share the scale: its gate (768) against Llama's gate (8192).
	expertGate := bar(t, d, 0, "model.layers.0.mlp.experts.0.gate_proj")
	llamaGate := bar(t, d, 1, "model.layers.0.mlp.gate_proj")
	if want := llamaGate.W * 768 / 8192; math.Abs(expertGate.W-want) > 0.5 {
		t.Errorf("expert gate %.2f, want Llama's gate %.2f × 768/8192 = %.2f", expertGate.W, llamaGate.W, want)
	}
}

// TestMoEGallery draws the real MoE configs once their families are registered.
func TestMoEGallery(t *testing.T) {
	tests := []struct {
		stem        string
		count, topK int
	}{
		{"Qwen__Qwen3-30B-A3B", 128, 8},
		{"mistralai__Mixtral-8x7B-v0.1", 8, 2},
	}
	for _, tt := range tests {
		t.Run(tt.stem, func(t *testing.T) {
			d := render.Layout([]render.Model{load(t, tt.stem)}, render.Options{})
			boxes, chosen := 0, 0
			for _, it := range d.Items {
				if it.Kind == render.KindExpert && it.Ref.What == render.RefExperts {
					boxes++
					if it.Fill != "" {
						chosen++
					}
				}
			}
			if boxes != tt.count || chosen != tt.topK {
				t.Errorf("%d expert boxes with %d marked, want %d with %d", boxes, chosen, tt.count, tt.topK)
			}
		})
	}
}

// TestFusedParts checks that fused projections show their parts: Phi-4-mini's qkv_proj (5120) as q 3072,
// k 1024, v 1024, and its gate_up_proj (16384) as two halves.
func TestFusedParts(t *testing.T) {
	d := render.Layout(loadAll(t, phi4), render.Options{})
	segs := func(path string) []float64 {
		var w []float64
		for _, it := range d.Items {
			if it.Kind == render.KindBar && it.Ref.Path == path {
				w = append(w, it.W)
			}
		}
		// The first item is the whole bar; each later one runs from its part's start to the bar's end.
		out := make([]float64, len(w))
		for k := range w {
			next := 0.0
			if k+1 < len(w) {
				next = w[k+1]
			}
			out[k] = w[k] - next
		}
		return out
	}
	for _, tt := range []struct {
		path  string
		parts []int64
	}{
		{"model.layers.0.self_attn.qkv_proj", []int64{3072, 1024, 1024}},
		{"model.layers.0.mlp.gate_up_proj", []int64{8192, 8192}},
	} {
		got := segs(tt.path)
		if len(got) != len(tt.parts) {
			t.Fatalf("%s: %d parts, want %d", tt.path, len(got), len(tt.parts))
		}
		for k, p := range tt.parts {
			if math.Abs(got[k]-float64(p)*d.Scale) > 0.5 {
				t.Errorf("%s part %d: %.2f, want %d × scale = %.2f", tt.path, k, got[k], p, float64(p)*d.Scale)
			}
		}
	}
}

// TestDegenerate checks that odd input draws something instead of failing: no model, a model without
// an architecture, an architecture without blocks.
func TestDegenerate(t *testing.T) {
	for _, models := range [][]render.Model{
		nil,
		{{Name: "unknown"}},
		{{Name: "empty", Arch: &arch.Architecture{}}},
		{{Name: "no blocks", Arch: &arch.Architecture{Embeddings: []arch.Part{{Name: "wte", Role: arch.RoleTokenEmbedding, In: 10, Out: 4}}}}, load(t, gpt2)},
	} {
		d := render.Layout(models, render.Options{})
		if d.Width <= 0 || d.Height <= 0 {
			t.Errorf("%d models: diagram %g × %g", len(models), d.Width, d.Height)
		}
		if img := d.Image(1); img.Bounds().Empty() {
			t.Errorf("%d models: empty image", len(models))
		}
	}
}

// A model with many cards beside one with a single card does not push the other's bars down: every
// column's stack starts under its head, and like cards still line up with each other.
func TestCompareStacksStartAtTheTop(t *testing.T) {
	plain := render.Layout(loadAll(t, llama1B, qwen3), render.Options{})
	mixed := render.Layout(loadAll(t, llama1B, gemma270, qwen3), render.Options{})
	llamaQ := "model.layers.0.self_attn.q_proj"
	if a, b := bar(t, plain, 0, llamaQ).Y, bar(t, mixed, 0, llamaQ).Y; a != b {
		t.Errorf("llama's q_proj bar at y %.0f beside qwen3, at %.0f beside gemma-3 too", a, b)
	}
	if a, b := bar(t, mixed, 0, llamaQ).Y, bar(t, mixed, 2, "model.layers.0.self_attn.q_proj").Y; a != b {
		t.Errorf("llama's and qwen3's q_proj bars at y %.0f and %.0f, want one row", a, b)
	}
	tops := map[int]float64{}
	for m := range 3 {
		top := math.Inf(1)
		for _, c := range cards(mixed, m) {
			top = math.Min(top, c.Y)
		}
		tops[m] = top
	}
	if tops[0] != tops[1] || tops[1] != tops[2] {
		t.Errorf("the columns' top cards start at %v, want one y", tops)
	}
	if g := cards(mixed, 1); len(g) != 6 || g[0].Y <= g[5].Y {
		t.Errorf("gemma-3's %d cards: block 0's card must stay at the bottom", len(g))
	}
}
