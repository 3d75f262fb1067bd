package compute

import (
	"context"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/neurons"
	"github.com/layerscope/layerscope/modelio/prune"
)

// copyFolder copies the regular files of src into a new folder.
func copyFolder(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	if err := os.Mkdir(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
	return dst
}

// zeroRemoved writes a copy of m's folder in which every MLP's down projection has the inputs of the
// neurons keep leaves out set to zero (columns of a Linear's [hidden, I] weight, rows of GPT-2's
// Conv1D [I, hidden]): the same model, by an exact identity, as the narrower copy.
func zeroRemoved(t *testing.T, m *modelio.Model, keep [][]int) *modelio.Model {
	t.Helper()
	dir := copyFolder(t, filepath.Dir(m.Weights.Files[0]))
	units, err := modelio.MLPUnits(m)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, filepath.Base(m.Weights.Files[0])), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i, u := range units {
		kept := map[int]bool{}
		for _, j := range keep[i] {
			kept[j] = true
		}
		tn, err := modelio.UnitTensor(m, u.Down.Weight())
		if err != nil {
			t.Fatal(err)
		}
		if tn.DType != "F32" {
			t.Fatalf("%s is %s", tn.Name, tn.DType)
		}
		zero := make([]byte, 4)
		for j := 0; j < int(u.Width); j++ {
			if kept[j] {
				continue
			}
			for h := 0; h < int(u.Hidden); h++ {
				idx := h*int(u.Width) + j // Linear: [hidden, I]
				if u.Down.Conv1D {
					idx = j*int(u.Hidden) + h // Conv1D: [I, hidden]
				}
				if _, err := f.WriteAt(zero, tn.Offset+int64(4*idx)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	z, err := modelio.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func maxLogitDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

// A width-pruned model computes what the original computes with the removed neurons' down_proj inputs
// zeroed, to 1e-6 in f32 on the CPU: the copy written to disk, and the same pruning evaluated without
// writing (Options.Prune), for GLU, fused, Conv1D, classic-with-bias and MoE MLPs; with a block
// skipped too, against the copy that has it removed.
func TestWidthPrunedForwardIsZeroedOriginal(t *testing.T) {
	small := map[string]any{"hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 3,
		"intermediate_size": 160, "vocab_size": 96, "max_position_embeddings": 64}
	with := func(extra map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range small {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	cases := []struct {
		name    string
		fixture string         // a transformers-made fixture, or
		stem    string         // a gallery config made tiny and random
		set     map[string]any //
	}{
		{name: "llama", fixture: "llama"},
		{name: "phi3 fused gate_up", fixture: "phi3"},
		{name: "gpt2 conv1d", fixture: "gpt2"},
		{name: "gemma3", fixture: "gemma3_text"},
		{name: "mixtral experts", stem: "mistralai__Mixtral-8x7B-v0.1", set: with(map[string]any{"num_key_value_heads": 2, "num_local_experts": 3})},
		{name: "opt fc1/fc2 with bias", stem: "facebook__opt-125m", set: with(map[string]any{"ffn_dim": 160, "word_embed_proj_dim": 64})},
	}
	opts := Options{Backend: BackendCPU, DType: FP32, Metrics: []Metric{MetricBI}}
	logits := func(t *testing.T, m *modelio.Model, tokens [][]int, prune *Pruning) ([]float32, float64) {
		t.Helper()
		o := opts
		o.Prune = prune
		res, pr, err := run(context.Background(), m, tokens, o, passOptions{logits: true})
		if err != nil {
			t.Fatal(err)
		}
		return pr.logits, res.NLL
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var m *modelio.Model
			var err error
			if tc.fixture != "" {
				m, err = modelio.Open(filepath.Join("../testdata/fixtures", tc.fixture))
			} else {
				m = openRandom(t, galleryConfig(t, tc.stem, tc.set), "F32", nil, nil)
			}
			if err != nil {
				t.Fatal(err)
			}
			tokens := randomTokens(2, 11, m.Spec.Hyper.Vocab)
			tokens[1] = tokens[1][:7]
			s, err := neurons.Score(context.Background(), m, neurons.PON, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, kept, err := neurons.Widths(s.Units, neurons.Target{Percent: 40})
			if err != nil {
				t.Fatal(err)
			}
			keep, err := neurons.Keep(s, kept)
			if err != nil {
				t.Fatal(err)
			}
			zeroed, zNLL := logits(t, zeroRemoved(t, m, keep), tokens, nil)
			full, fNLL := logits(t, m, tokens, nil)
			if maxLogitDiff(full, zeroed) < 1e-3 || fNLL == zNLL {
				t.Fatalf("removing 40%% of the neurons changed nothing: the test cannot tell")
			}

			inMemory, _ := logits(t, m, tokens, &Pruning{Keep: keep})
			t.Logf("NLL %.5f full, %.5f with 40%% of the MLP neurons removed; logits move by up to %.3g", fNLL, zNLL, maxLogitDiff(full, zeroed))
			p, err := modelio.NarrowMLP(m, keep)
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(t.TempDir(), "narrow")
			if err := prune.Write(p, nil, dst, nil); err != nil {
				t.Fatal(err)
			}
			c, err := modelio.Open(dst)
			if err != nil {
				t.Fatal(err)
			}
			written, wNLL := logits(t, c, tokens, nil)
			if d := maxLogitDiff(written, zeroed); d > 1e-6 {
				t.Errorf("written copy: logits differ from the zeroed original by %.2e", d)
			}
			if d := maxLogitDiff(inMemory, zeroed); d > 1e-6 {
				t.Errorf("Options.Prune: logits differ from the zeroed original by %.2e", d)
			}
			if math.Abs(wNLL-zNLL) > 1e-6 {
				t.Errorf("NLL %.7f, zeroed original %.7f", wNLL, zNLL)
			}

			// Depth and width: block 1 skipped, then the rest narrowed, in memory and on disk.
			d, err := modelio.RemoveBlocks(m, []int{1})
			if err != nil {
				t.Fatal(err)
			}
			ds, err := neurons.Score(context.Background(), d, neurons.PPM, nil)
			if err != nil {
				t.Fatal(err)
			}
			dkeep, err := neurons.Keep(ds, kept)
			if err != nil {
				t.Fatal(err)
			}
			both, err := modelio.NarrowMLP(d, dkeep)
			if err != nil {
				t.Fatal(err)
			}
			dst2 := filepath.Join(t.TempDir(), "both")
			if err := prune.Write(both, nil, dst2, nil); err != nil {
				t.Fatal(err)
			}
			c2, err := modelio.Open(dst2)
			if err != nil {
				t.Fatal(err)
			}
			onDisk, _ := logits(t, c2, tokens, nil)
			skipped, _ := logits(t, m, tokens, &Pruning{Remove: []int{1}, Keep: dkeep})
			if d := maxLogitDiff(onDisk, skipped); d > 1e-6 {
				t.Errorf("depth and width: logits of the copy and of Options.Prune differ by %.2e", d)
			}
		})
	}
}

// Evaluate reports exp of the mean NLL over the positions that have a next token.
func TestEvaluate(t *testing.T) {
	m, err := modelio.Open("../testdata/fixtures/llama")
	if err != nil {
		t.Fatal(err)
	}
	tokens := randomTokens(2, 11, m.Spec.Hyper.Vocab)
	tokens[1] = tokens[1][:7]
	ev, err := Evaluate(context.Background(), m, tokens, Options{Backend: BackendCPU, DType: FP32})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), m, tokens, Options{Backend: BackendCPU, DType: FP32, Metrics: []Metric{MetricBI}})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Tokens != 10+6 || ev.NLL != res.NLL || math.Abs(ev.Perplexity-math.Exp(res.NLL)) > 1e-12 || ev.DType != "fp32" {
		t.Errorf("evaluation %+v, run NLL %v", ev, res.NLL)
	}
	if _, err := Evaluate(context.Background(), m, [][]int{{3}}, Options{Backend: BackendCPU}); err == nil {
		t.Error("one token: no error")
	}
	// A pruning that cannot be applied is refused before anything runs.
	if _, err := Evaluate(context.Background(), m, tokens, Options{Backend: BackendCPU, Prune: &Pruning{Remove: []int{7}}}); err == nil {
		t.Error("block 7 of 4: no error")
	}
}
