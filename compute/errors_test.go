package compute

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/gguf/gguftest"
	"github.com/layerscope/layerscope/modelio/quant/quanttest"
	"github.com/layerscope/layerscope/modelio/weights/weightstest"
)

// Bad input fails with one line that says what is wrong, before any compute, and never panics.
func TestBadInput(t *testing.T) {
	cfg := tinyLlamaConfig()
	good := openRandom(t, cfg, "F32", nil, nil)
	tokens := randomTokens(2, 8, 64)
	// An unknown model_type opens with a description grouped from its tensor names, and cannot run.
	unknown := t.TempDir()
	os.WriteFile(filepath.Join(unknown, "config.json"), []byte(`{"model_type": "rwkv", "num_hidden_layers": 1, "vocab_size": 32}`), 0o644)
	weightstest.WriteFile(t, filepath.Join(unknown, "model.safetensors"), []weightstest.Spec{
		weightstest.T("rwkv.embeddings.weight", "F32", 32, 16), weightstest.T("rwkv.blocks.0.ln1.weight", "F32", 16)})
	generic, err := modelio.Open(unknown)
	if err != nil {
		t.Fatal(err)
	}
	// GGUF files and quantized checkpoints open, and cannot run.
	ggufPath := filepath.Join(t.TempDir(), "tiny.gguf")
	kvs, ts := gguftest.TinyLlama()
	gguftest.Write(t, ggufPath, kvs, ts)
	ggufModel, err := modelio.Open(ggufPath)
	if err != nil {
		t.Fatal(err)
	}
	quantized := t.TempDir()
	qcfg := tinyLlamaConfig()
	qcfg["quantization_config"] = map[string]any{"quant_method": "bitsandbytes", "load_in_8bit": true}
	data, _ := json.Marshal(qcfg)
	os.WriteFile(filepath.Join(quantized, "config.json"), data, 0o644)
	quanttest.Specs(good.Spec.Root, quanttest.Layout{Method: "bnb8"}).Write(t, filepath.Join(quantized, "model.safetensors"))
	int8Model, err := modelio.Open(quantized)
	if err != nil {
		t.Fatal(err)
	}
	gallery, err := modelio.Open("smollm2-135m")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		model  *modelio.Model
		tokens [][]int
		want   string
	}{
		{"missing tensor", openRandom(t, cfg, "F32", map[string]bool{"model.layers.1.input_layernorm.weight": true}, nil), tokens,
			"layer 1: missing model.layers.1.input_layernorm.weight"},
		{"shape against config", openRandom(t, cfg, "F32", nil, map[string][]int64{"model.layers.2.self_attn.q_proj.weight": {16, 32}}), tokens,
			"layer 2: model.layers.2.self_attn.q_proj.weight has shape [16 32], config.json implies [32 32]"},
		{"family without forward pass", generic, [][]int{{1, 2}}, `model_type "rwkv" has no forward pass`},
		{"no weights", gallery, tokens, "no weights"},
		{"GGUF", ggufModel, tokens, "tiny is a GGUF file: Layerscope reads its architecture but does not compute with GGUF weights"},
		{"quantized", int8Model, tokens, "holds bitsandbytes int8, 8-bit weights: Layerscope computes only with full-precision safetensors"},
		{"no samples", good, nil, "no calibration samples"},
		{"empty sample", good, [][]int{{1, 2}, {}}, "sample 1 is empty"},
		{"id outside vocabulary", good, [][]int{{1, 64}}, "sample 0, token 1: id 64 is outside the vocabulary (vocab_size 64)"},
		{"too long", good, randomTokens(1, 33, 64), "sample 0 has 33 tokens, more than max_position_embeddings (32)"},
		// 2^21+1 samples of 32 tokens at hidden_size 32: one value over the limit, refused before the
		// 8 GiB are allocated (the samples share one slice, so the test itself needs 50 MB).
		{"hidden state over the limit", good, repeatSample(randomTokens(1, 32, 64)[0], 1<<21+1),
			"2097153 samples of up to 32 tokens make a hidden state of 2.15e+09 values at hidden_size 32: at most 2147483648"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(context.Background(), tc.model, tc.tokens, Options{Backend: BackendCPU})
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q, want one line containing %q", err, tc.want)
			}
		})
	}
}

func TestBadOptions(t *testing.T) {
	m := openRandom(t, tinyLlamaConfig(), "F32", nil, nil)
	tokens := randomTokens(1, 4, 64)
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{Backend: "tpu"}, `--backend "tpu": expected auto, gpu or cpu`},
		{Options{Backend: BackendCPU, DType: "int8"}, `--dtype "int8": expected fp16, bf16 or fp32`},
		{Options{Backend: BackendCPU, Metrics: []Metric{"ppl"}}, `metric "ppl"`},
	} {
		if _, err := Run(context.Background(), m, tokens, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.opts, err, tc.want)
		}
	}
}

// fp16 on the pure Go backend, which has no float16, computes in fp32 and says so.
func TestFP16OnCPUFallsBackToFP32(t *testing.T) {
	m := openRandom(t, tinyLlamaConfig(), "F32", nil, nil)
	res, err := Run(context.Background(), m, randomTokens(1, 4, 64), Options{Backend: BackendCPU, DType: FP16})
	if err != nil {
		t.Fatal(err)
	}
	if res.DType != FP32 || len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "has no fp16") {
		t.Errorf("dtype %s, notes %q", res.DType, res.Notes)
	}
}

// A block output with non-finite values repeats the run in a wider dtype, and where there is none, the
// run fails with one line naming the block.
func TestNonFiniteOutput(t *testing.T) {
	dir := t.TempDir()
	writeRandomModel(t, dir, tinyLlamaConfig(), "F32", nil, nil)
	m, err := modelio.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Poison token 5's embedding row with NaN.
	emb := m.Weights.Tensors["model.embed_tokens.weight"]
	f, err := os.OpenFile(emb.File, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	nan := math.Float32bits(float32(math.NaN()))
	row := make([]byte, 4*32)
	for i := 0; i < len(row); i += 4 {
		row[i], row[i+1], row[i+2], row[i+3] = byte(nan), byte(nan>>8), byte(nan>>16), byte(nan>>24)
	}
	if _, err := f.WriteAt(row, emb.Offset+5*int64(len(row))); err != nil {
		t.Fatal(err)
	}
	f.Close()

	_, err = Run(context.Background(), m, [][]int{{1, 5, 2}}, Options{Backend: BackendCPU, DType: BF16})
	if err == nil || !strings.Contains(err.Error(), "block 0 produced non-finite values in fp32") {
		t.Fatalf("error %v, want block 0's non-finite values", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error on several lines: %q", err)
	}
}

// Cancelling the context stops the run between blocks.
func TestCancel(t *testing.T) {
	m := openRandom(t, tinyLlamaConfig(), "F32", nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls int
	_, err := Run(ctx, m, randomTokens(2, 8, 64), Options{Backend: BackendCPU, Metrics: AllMetrics,
		Progress: func(done, total int, msg string) {
			calls++
			if done == 1 {
				cancel()
			}
		}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if calls != 1 {
		t.Errorf("%d progress calls after cancelling at the first", calls)
	}
}

// Progress counts every block evaluation: L for the pass, L(L−1)/2 for the ablation, and the L+1
// head runs.
func TestProgressCountsAblation(t *testing.T) {
	m := openRandom(t, tinyLlamaConfig(), "F32", nil, nil)
	var last, total int
	res, err := Run(context.Background(), m, randomTokens(2, 8, 64), Options{Backend: BackendCPU, Metrics: AllMetrics,
		Progress: func(done, tot int, msg string) { last, total = done, tot }})
	if err != nil {
		t.Fatal(err)
	}
	L := 3
	if want := L + L*(L-1)/2 + L + 1; total != want || last != total {
		t.Errorf("progress ended at %d of %d, want %d of %d", last, total, want, want)
	}
	if len(res.Ablation) != L || len(res.BI) != L || len(res.Angular[1]) != L || len(res.Angular[3]) != 1 || res.Angular[4] != nil {
		t.Errorf("scores: %+v", res)
	}
}

func TestParseMetrics(t *testing.T) {
	for in, want := range map[string]string{"all": "[bi angular ablation flat]", "bi": "[bi]", "bi, ablation": "[bi ablation]"} {
		got, err := ParseMetrics(in)
		if err != nil || fmt.Sprint(got) != want {
			t.Errorf("ParseMetrics(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	if _, err := ParseMetrics("ppl"); err == nil {
		t.Error("ParseMetrics(ppl): no error")
	}
}

// repeatSample returns n samples that all share s.
func repeatSample(s []int, n int) [][]int {
	out := make([][]int, n)
	for i := range out {
		out[i] = s
	}
	return out
}
