package app

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/layerscope/layerscope/compute"
	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/facts"
	"github.com/layerscope/layerscope/modelio/weights/weightstest"
	"github.com/layerscope/layerscope/render"
)

// bars returns the filled bar and the outline the window's diagram draws for the part at path.
func bars(d *render.Diagram, path string) (bar, outline *render.Item) {
	for i := range d.Items {
		it := &d.Items[i]
		if it.Kind != render.KindBar || it.Ref.Path != path {
			continue
		}
		switch {
		case it.Fill == "" && it.Dashed && outline == nil:
			outline = it
		case it.Fill != "" && bar == nil:
			bar = it
		}
	}
	return bar, outline
}

// inputLine returns the thin input-width line the window's diagram draws under the part at path (down_proj,
// fc2) and its dashed outline of the former input width.
func inputLine(d *render.Diagram, path string) (line, outline *render.Item) {
	for i := range d.Items {
		it := &d.Items[i]
		if it.Kind != render.KindLine || it.Ref.Path != path {
			continue
		}
		switch {
		case it.Fill == "" && it.Dashed && outline == nil:
			outline = it
		case it.Fill != "" && line == nil:
			line = it
		}
	}
	return line, outline
}

// checkDownLine fails unless the diagram draws the down bar at path at its output width out, with an
// input line kept long over an outline former long.
func checkDownLine(t *testing.T, d *render.Diagram, path string, out, kept, former int64) {
	t.Helper()
	bar, _ := bars(d, path)
	line, outline := inputLine(d, path)
	if bar == nil || line == nil || outline == nil {
		t.Fatalf("%s: bar %v, input line %v, outline %v", path, bar, line, outline)
	}
	if math.Abs(bar.W-float64(out)*d.Scale) > 0.01 || math.Abs(line.W-float64(kept)*d.Scale) > 0.01 ||
		math.Abs(outline.W-float64(former)*d.Scale) > 0.01 {
		t.Errorf("%s: bar %.1f, input line %.1f over %.1f; want %d, %d and %d × scale %.4f",
			path, bar.W, line.W, outline.W, out, kept, former, d.Scale)
	}
}

func mlpWidth(t *testing.T, m *modelio.Model) int64 {
	t.Helper()
	units, err := modelio.MLPUnits(m)
	if err != nil {
		t.Fatal(err)
	}
	return units[0].Width
}

// The width what-if on the gallery's Llama-3.2-1B (no weights: widths only): 40% gives optipfair's
// 4916 and 913,770,496 parameters; the gate and up bars shrink to 4916 over an outline of 8192; the
// facts show the pruned count; the expansion field and the divisor give their widths; Back restores.
func TestWidthWhatIfGallery(t *testing.T) {
	w := newTestWindow(t)
	openAndWait(w, "llama-3.2-1b")
	full := w.models[0]
	w.openWidthWhatIf()
	p := w.width
	if !p.content.Visible() || w.whatIf == nil || w.whatIf.width == nil {
		t.Fatal("the width what-if is not shown")
	}
	m := w.models[0]
	if got := mlpWidth(t, m); got != 4916 {
		t.Errorf("40%%: intermediate %d, want 4916", got)
	}
	if got := m.Spec.Root.NumParams(); got != 913_770_496 {
		t.Errorf("40%%: %d parameters, want 913,770,496", got)
	}
	if !strings.Contains(labels(w.facts.box), facts.Commas(913_770_496)) {
		t.Errorf("the facts do not show the pruned model's count:\n%s", labels(w.facts.box))
	}
	if got := w.whatIfBar.text.Text; !strings.Contains(got, "intermediate_size 8192 → 4916") || !strings.Contains(got, "4.00× → 2.40×") {
		t.Errorf("what-if bar %q", got)
	}
	d := render.Layout(w.view.Models(), w.view.Options())
	for _, part := range []string{"gate_proj", "up_proj"} {
		bar, outline := bars(d, "model.layers.0.mlp."+part)
		if bar == nil || outline == nil {
			t.Fatalf("%s: bar %v, outline %v", part, bar, outline)
		}
		if math.Abs(bar.W-4916*d.Scale) > 0.01 || math.Abs(outline.W-8192*d.Scale) > 0.01 {
			t.Errorf("%s: bar %.1f, outline %.1f; want 4916 and 8192 × scale %.4f", part, bar.W, outline.W, d.Scale)
		}
	}
	// down keeps its length (its output is the hidden size); the line under it shows its input cut.
	checkDownLine(t, d, "model.layers.0.mlp.down_proj", 2048, 4916, 8192)
	if _, o := bars(d, "model.layers.0.self_attn.q_proj"); o != nil {
		t.Error("q_proj has an outline: it was not pruned")
	}
	if l, o := inputLine(d, "model.layers.0.self_attn.o_proj"); l != nil || o != nil {
		t.Error("o_proj has an input line: its input was not cut")
	}

	for _, tc := range []struct {
		expansion string
		divisor   int // index in divisorChoices
		slider    float64
		want      int64
	}{
		{"", 4, 40, 4864},    // 4916 rounded to a multiple of 256
		{"", 0, 20, 6554},    // optipfair's 20% anchor
		{"2.4", 0, 0, 4916},  // I/H 2.4 × 2048 = 4915.2: 40% of 8192
		{"240%", 0, 0, 4916}, // the same as a percentage
	} {
		p.divisor.SetSelectedIndex(tc.divisor)
		if tc.expansion != "" {
			p.mode.SetSelected(widthModes[1])
			p.expansion.SetText(tc.expansion)
		} else {
			p.mode.SetSelected(widthModes[0])
			p.slider.SetValue(tc.slider)
		}
		if got := mlpWidth(t, w.models[0]); got != tc.want {
			t.Errorf("%+v: intermediate %d, want %d", tc, got, tc.want)
		}
		// The down bars follow the slider with the gate and up bars.
		checkDownLine(t, render.Layout(w.view.Models(), w.view.Options()), "model.layers.0.mlp.down_proj", 2048, tc.want, 8192)
	}
	// A depth what-if on top: blocks 3 and 5 go, the MLPs stay narrowed.
	w.showWhatIf(full, []int{3, 5})
	if wi := w.whatIf; wi == nil || wi.width == nil || len(w.models[0].Arch.Blocks) != 14 || mlpWidth(t, w.models[0]) != 4916 {
		t.Fatalf("depth and width: %d blocks, width %d", len(w.models[0].Arch.Blocks), mlpWidth(t, w.models[0]))
	}
	if got := w.whatIfBar.text.Text; !strings.Contains(got, "without blocks 3, 5") || !strings.Contains(got, "14 blocks") {
		t.Errorf("depth and width: bar %q", got)
	}
	// Beside the full model: both columns on one scale; the slider moves the narrowed one only.
	p.beside.SetChecked(true)
	if len(w.models) != 2 || w.models[1] != full || w.models[0] != w.whatIf.pruned {
		t.Fatalf("beside: %d models", len(w.models))
	}
	p.mode.SetSelected(widthModes[0])
	p.slider.SetValue(50)
	if len(w.models) != 2 || w.models[1] != full || mlpWidth(t, w.models[0]) != 4096 {
		t.Errorf("beside, 50%%: %d models, the first %d wide", len(w.models), mlpWidth(t, w.models[0]))
	}
	d = render.Layout(w.view.Models(), w.view.Options())
	for i, want := range []int64{4096, 8192} {
		for _, it := range d.Items {
			if it.Kind == render.KindBar && it.Fill != "" && it.Ref.Model == i && strings.HasSuffix(it.Ref.Path, "layers.0.mlp.gate_proj") {
				if math.Abs(it.W-float64(want)*d.Scale) > 0.01 {
					t.Errorf("beside: model %d's gate bar %.1f, want %d × scale", i, it.W, want)
				}
			}
		}
	}
	p.mode.SetSelected(widthModes[1])
	p.expansion.SetText("5") // wider than the MLP is: refused, the last what-if stays
	if !p.note.Visible() || !strings.Contains(p.note.Text, "would not shrink") {
		t.Errorf("expansion 5: note %q", p.note.Text)
	}
	w.leaveWhatIf()
	if len(w.models) != 1 || w.models[0] != full || p.content.Visible() || w.whatIf != nil || p.beside.Checked {
		t.Error("Back did not restore the full model and hide the strip")
	}
	if l, o := inputLine(render.Layout(w.view.Models(), w.view.Options()), "model.layers.0.mlp.down_proj"); l != nil || o != nil {
		t.Error("after Back, down_proj still has an input line")
	}
}

// randomLlama writes a tiny llama folder with F32 weights drawn at random (norms at 1), so its
// perplexity depends on which neurons are kept, and a file of token ids.
func randomLlama(t *testing.T) (dir, tokens string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "tiny-random")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := `{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64, "intermediate_size": 160,
 "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100, "rms_norm_eps": 1e-05,
 "tie_word_embeddings": true, "torch_dtype": "float32", "max_position_embeddings": 128}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := modelio.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var specs []weightstest.Spec
	for _, p := range m.Spec.Root.Params("") {
		specs = append(specs, weightstest.T(p.Name, "F32", p.Shape...))
	}
	prefix, _ := weightstest.Header(t, specs)
	r := rand.New(rand.NewPCG(1, 2))
	data := prefix
	for _, s := range specs {
		n := int64(1)
		for _, d := range s.Shape {
			n *= d
		}
		for range n {
			v := float32(r.NormFloat64() * 0.2)
			if strings.HasSuffix(s.Name, "norm.weight") {
				v = 1
			}
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "model.safetensors"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	ids := make([][]int, 2)
	for i := range ids {
		for range 24 {
			ids[i] = append(ids[i], r.IntN(100))
		}
	}
	b, _ := json.Marshal(ids)
	tokens = filepath.Join(t.TempDir(), "tokens.json")
	if err := os.WriteFile(tokens, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, tokens
}

// On a model with weights: the neurons are scored (ppm), the narrowed model is shown with the sorted
// scores and the cut; Evaluate gives the full and the pruned perplexity, the pruned one equal to the
// saved copy's; Save writes a copy that opens with the new intermediate size.
func TestWidthWhatIfEvaluateAndSave(t *testing.T) {
	w := newTestWindow(t)
	dir, tokens := randomLlama(t)
	copyTokenizer(t, dir) // offers activation and hybrid; the scores still use the token ids
	openAndWait(w, dir)
	ip := w.importance
	ip.backend.SetSelectedIndex(2) // CPU
	ip.source.SetSelectedIndex(int(textFile))
	ip.file = tokens

	w.openWidthWhatIf()
	p := w.width
	p.runs.Wait()
	if w.whatIf == nil || w.whatIf.width == nil || !w.whatIf.width.chosen {
		t.Fatalf("no scored width what-if; note %q", p.note.Text)
	}
	if got := mlpWidth(t, w.models[0]); got != 96 { // 160 − int(0.4 × 160)
		t.Errorf("intermediate %d, want 96", got)
	}
	if k, n := p.chart.chart.Cut(); !p.chart.content.Visible() || k != 96 || n != 160 {
		t.Errorf("neuron chart: shown %v, cut %d of %d", p.chart.content.Visible(), k, n)
	}

	// Hybrid scores need activations: measured through the compute session, then the neurons chosen
	// again. The chart shows the new scores.
	pickMethod(p, "hybrid")
	p.runs.Wait()
	if c := w.whatIf.width; c == nil || c.method.String() != "hybrid" || !c.chosen || mlpWidth(t, w.models[0]) != 96 {
		t.Fatalf("hybrid: %+v; note %q", c, p.note.Text)
	}
	if p.chart.cut.scores.Method.String() != "hybrid" {
		t.Error("the chart still shows the ppm scores")
	}

	before, _ := os.ReadDir(dir)
	e := ip.eval
	e.start()
	e.runs.Wait()
	got := e.result.Text
	if !strings.Contains(got, "Perplexity on 46 tokens") || !strings.Contains(got, "what-if") {
		t.Fatalf("Evaluate shows %q", got)
	}
	t.Log(got)
	after, _ := os.ReadDir(dir)
	if len(after) != len(before) {
		t.Error("Evaluate wrote into the model folder")
	}
	// Another width: the full model's figure stays, the what-if's is asked for again.
	p.slider.SetValue(50)
	if r := e.result.Text; !strings.Contains(r, "Perplexity on 46 tokens") || strings.Contains(r, "what-if tiny") || !strings.Contains(r, "press Evaluate") {
		t.Errorf("after the slider moved: %q", r)
	}
	p.slider.SetValue(40)

	dst := filepath.Join(t.TempDir(), "tiny-narrow")
	if name := prunedName(w.whatIf.pruned, nil); name != "tiny-random-mlp96" {
		t.Errorf("suggested name %q", name)
	}
	// Save copy… asks where, saying what the copy holds, named after the new width.
	w.saveWhatIfCopy()
	var said, named bool
	if top := w.win.Canvas().Overlays().Top(); top != nil {
		for _, o := range test.LaidOutObjects(top) {
			switch v := o.(type) {
			case *widget.Label:
				said = said || strings.Contains(v.Text, "config.json with intermediate_size 160 → 96")
			case *widget.Entry:
				named = named || v.Text == "tiny-random-mlp96"
			case *keyEntry: // the dialogs' entries pass the window's keys on
				named = named || v.Text == "tiny-random-mlp96"
			}
		}
		w.win.Canvas().Overlays().Remove(top)
	}
	if !said || !named {
		t.Errorf("the save dialog: says what the copy holds %v, suggests tiny-random-mlp96 %v", said, named)
	}
	w.savePruned(w.whatIf.pruned, nil, dst)
	w.waitLoads()
	if w.banner.visible() {
		t.Fatalf("saving failed: %s", w.banner.text.Text)
	}
	saved, err := modelio.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	if got := mlpWidth(t, saved); got != 96 {
		t.Errorf("the saved copy opens %d wide, want 96", got)
	}
	if len(w.models) != 1 || !strings.HasPrefix(w.models[0].Path, dst) {
		t.Errorf("the window shows %s, not the copy", w.models[0].Path)
	}
	// The what-if's perplexity is the copy's.
	var ids [][]int
	data, _ := os.ReadFile(tokens)
	json.Unmarshal(data, &ids)
	ev, err := compute.Evaluate(t.Context(), saved, ids, compute.Options{Backend: compute.BackendCPU})
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(" %.4g (", ev.Perplexity); !strings.Contains(got, want) {
		t.Errorf("Evaluate showed %q; the saved copy's perplexity is %s", got, want)
	}
}

func copyTokenizer(t *testing.T, dir string) {
	t.Helper()
	data, err := os.ReadFile("../modelio/tokenizer/testdata/llama2/tokenizer.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json.gz"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// blockingEval evaluates nothing: it reports one step, then waits until cancelled. shown receives
// once the step was shown (Fyne's test driver runs fyne.Do on the calling goroutine: the test waits
// for it, as the real driver's single UI goroutine would).
type blockingEval struct {
	fakeEngine
	shown chan struct{}
}

func (b *blockingEval) Evaluate(ctx context.Context, j job, prune *compute.Pruning, progress func(done, total int, msg string)) (*compute.Evaluation, error) {
	progress(1, 4, "block 0")
	b.shown <- struct{}{}
	<-ctx.Done()
	return nil, ctx.Err()
}

// Cancel stops an evaluation at once: the button is back, nothing is shown as a result.
func TestEvaluateCancel(t *testing.T) {
	w := newTestWindow(t)
	openAndWait(w, modelWithTokenizer(t, "tiny", 2))
	b := &blockingEval{shown: make(chan struct{}, 1)}
	w.importance.eng = b
	e := w.importance.eval
	e.start()
	<-b.shown
	if !e.busy.Visible() || !e.button.Disabled() || e.cancelBtn.Disabled() {
		t.Fatal("Evaluate is not running")
	}
	e.stop()
	e.runs.Wait()
	if e.busy.Visible() || e.button.Disabled() || e.result.Text != "Evaluation cancelled." {
		t.Errorf("after Cancel: busy %v, button disabled %v, %q", e.busy.Visible(), e.button.Disabled(), e.result.Text)
	}
}

func (b *blockingEval) Activations(ctx context.Context, j job, d *modelio.Model, progress func(done, total int, msg string)) (*compute.Activations, error) {
	progress(1, 4, "block 0")
	b.shown <- struct{}{}
	<-ctx.Done()
	return nil, ctx.Err()
}

// Scoring by activations runs in the background; Cancel stops it and says so, the strip stays.
func TestWidthScoringCancel(t *testing.T) {
	w := newTestWindow(t)
	openAndWait(w, modelWithTokenizer(t, "tiny", 2))
	b := &blockingEval{shown: make(chan struct{}, 1)}
	w.importance.eng = b
	w.openWidthWhatIf()
	p := w.width
	p.runs.Wait() // ppm on the zero weights
	if !slices.Contains(p.method.Options, "activation") {
		t.Fatalf("methods %v: a folder with weights and a tokenizer offers activation", p.method.Options)
	}
	pickMethod(p, "activation")
	<-b.shown
	if !p.busy.Visible() || p.cancel == nil {
		t.Fatal("the activation scoring is not running")
	}
	p.cancelBtn.OnTapped()
	p.runs.Wait()
	if p.busy.Visible() || !p.content.Visible() || !strings.Contains(p.note.Text, "cancelled") {
		t.Errorf("after Cancel: busy %v, strip %v, note %q", p.busy.Visible(), p.content.Visible(), p.note.Text)
	}
}

// Every MLP layout shrinks with its outline: fused gate_up (Phi-4-mini), classic fc1/c_fc (GPT-2, OPT,
// Pythia), and the experts of a MoE (Qwen3-30B-A3B, Mixtral).
func TestWidthWhatIfFamilies(t *testing.T) {
	for _, tc := range []struct {
		model, part, down string
	}{
		{"microsoft/Phi-4-mini-instruct", "mlp.gate_up_proj", "mlp.down_proj"},
		{"openai-community/gpt2", "mlp.c_fc", "mlp.c_proj"},
		{"facebook/opt-125m", "fc1", "fc2"},
		{"EleutherAI/pythia-70m", "mlp.dense_h_to_4h", "mlp.dense_4h_to_h"},
		{"Qwen/Qwen3-30B-A3B", "mlp.experts.0.gate_proj", "mlp.experts.0.down_proj"},
		{"mistralai/Mixtral-8x7B-v0.1", "block_sparse_moe.experts.0.w1", "block_sparse_moe.experts.0.w2"},
	} {
		t.Run(tc.model, func(t *testing.T) {
			w := newTestWindow(t)
			openAndWait(w, tc.model)
			if len(w.models) != 1 {
				t.Fatalf("%s did not open", tc.model)
			}
			full := mlpWidth(t, w.models[0])
			w.openWidthWhatIf()
			if w.whatIf == nil || w.whatIf.width == nil {
				t.Fatalf("no width what-if; banner %q, note %q", w.banner.text.Text, w.width.note.Text)
			}
			kept := mlpWidth(t, w.models[0])
			if want := full - int64(0.4*float64(full)); kept != want {
				t.Errorf("40%%: %d → %d, want %d", full, kept, want)
			}
			d := render.Layout(w.view.Models(), w.view.Options())
			var found bool
			for i := range d.Items {
				it := &d.Items[i]
				if it.Kind == render.KindBar && it.Fill == "" && it.Dashed && strings.HasSuffix(it.Ref.Path, "."+tc.part) {
					found = true
				}
			}
			if !found {
				t.Errorf("no outline on %s", tc.part)
			}
			// The output projection keeps its bar and shows its input cut by a line under it.
			var down string
			for _, it := range d.Items {
				if it.Kind == render.KindBar && strings.HasSuffix(it.Ref.Path, "."+tc.down) {
					down = it.Ref.Path
					break
				}
			}
			hidden := w.whatIf.width.hidden
			checkDownLine(t, d, down, hidden, kept, full)
		})
	}
}

// pickMethod picks a method as the picker does (its OnChanged), without the picker's own refresh after
// it: Fyne's test driver runs the scoring's fyne.Do on the scoring goroutine, which would race that
// refresh; the real driver runs both on its one UI goroutine.
func pickMethod(p *widthPanel, method string) {
	p.method.Selected = method
	p.method.OnChanged(method)
}
