package compute

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/weights"
)

// The fixtures in testdata/fixtures/<family> are tiny random models saved by transformers 5.17 with
// the hidden states, logits and metrics PyTorch computed for them in float32 (see their expected.json
// "notes"). Every family must agree in float32 to 1e-4.

// LAYERSCOPE_FIXTURES (a folder of <family> fixtures) and LAYERSCOPE_FIXTURE_FAMILIES (a comma-separated
// list) point the fixture tests at fixtures made elsewhere: the GPU check makes new families' fixtures
// and checks them, CPU and GPU, in the same run, before they are committed here.
var fixtureFamilies, fixtureRoot = fixturesUnderTest()

func fixturesUnderTest() ([]string, string) {
	families := []string{"gpt2", "llama", "mistral", "qwen2", "qwen3", "gemma3_text", "phi3"}
	root := "../testdata/fixtures"
	if v := os.Getenv("LAYERSCOPE_FIXTURE_FAMILIES"); v != "" {
		families = strings.Split(v, ",")
	}
	if v := os.Getenv("LAYERSCOPE_FIXTURES"); v != "" {
		root = v
	}
	return families, root
}

type fixture struct {
	model    *modelio.Model
	tokens   [][]int
	expected struct {
		BI             []float64            `json:"bi"`
		BIbf16         []float64            `json:"bi_bf16"`
		BIfp16         []float64            `json:"bi_fp16"`
		Angular        map[string][]float64 `json:"angular"`
		NLL            float64              `json:"nll"`
		NLLCount       int                  `json:"nll_count"`
		LogitsSample   [][][]float64        `json:"logits_sample"`
		LogitPositions [][]int              `json:"logits_sample_positions"`
		Cosine         [][][]float64        `json:"cosine"`
	}
	hidden *store // hidden.safetensors: block_in.i, block_out.i [2, 24, 64], logits [2, 24, 256]
}

func loadFixture(t testing.TB, family string) *fixture {
	t.Helper()
	dir := filepath.Join(fixtureRoot, family)
	m, err := modelio.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{model: m}
	var tok struct {
		InputIDs      [][]int `json:"input_ids"`
		AttentionMask [][]int `json:"attention_mask"`
	}
	readJSON(t, filepath.Join(dir, "tokens.json"), &tok)
	for i, ids := range tok.InputIDs {
		n := 0
		for _, v := range tok.AttentionMask[i] {
			n += v
		}
		f.tokens = append(f.tokens, ids[:n]) // right padding: the real tokens come first
	}
	readJSON(t, filepath.Join(dir, "expected.json"), &f.expected)
	set, err := weights.ReadFile(filepath.Join(dir, "hidden.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if f.hidden, err = openStore(set, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.hidden.Close() })
	return f
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// relErr is |got − want| / |want| over whole tensors.
func relErr(got []float32, want []float32) float64 {
	var d, n float64
	for i := range want {
		e := float64(got[i]) - float64(want[i])
		d += e * e
		n += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(d / n)
}

func maxAbsDiff(got, want []float64) float64 {
	var m float64
	for i := range want {
		m = max(m, math.Abs(got[i]-want[i]))
	}
	return m
}

func TestFixturesFP32(t *testing.T) {
	for _, family := range fixtureFamilies {
		t.Run(family, func(t *testing.T) {
			f := loadFixture(t, family)
			res, pr, err := run(context.Background(), f.model, f.tokens,
				Options{Backend: BackendCPU, DType: FP32, Metrics: AllMetrics}, passOptions{keepHidden: true, logits: true})
			if err != nil {
				t.Fatal(err)
			}
			const tol = 1e-4
			worst := 0.0
			for i, got := range pr.hidden {
				want, err := f.hidden.F32(fmt.Sprintf("block_out.%d", i), nil)
				if err != nil {
					t.Fatal(err)
				}
				e := relErr(got, want)
				worst = max(worst, e)
				if e > tol {
					t.Errorf("block %d output: relative error %.2e > %g", i, e, tol)
				}
			}
			wantLogits, err := f.hidden.F32("logits", nil)
			if err != nil {
				t.Fatal(err)
			}
			if e := relErr(pr.logits, wantLogits); e > tol {
				t.Errorf("logits: relative error %.2e > %g", e, tol)
			}
			if e := logitsSampleErr(f, pr.logits); e > tol {
				t.Errorf("logits_sample: relative error %.2e > %g", e, tol)
			}
			if d := maxAbsDiff(res.BI, f.expected.BI); d > tol {
				t.Errorf("BI %v, PyTorch %v: differ by %.2e", res.BI, f.expected.BI, d)
			}
			for n, want := range f.expected.Angular {
				var k int
				fmt.Sscan(n, &k)
				if d := maxAbsDiff(res.Angular[k], want); d > tol {
					t.Errorf("angular n=%d %v, PyTorch %v: differ by %.2e", k, res.Angular[k], want, d)
				}
			}
			if e := math.Abs(res.NLL-f.expected.NLL) / f.expected.NLL; e > tol || res.NLLTokens != f.expected.NLLCount {
				t.Errorf("NLL %.6f over %d positions, PyTorch %.6f over %d", res.NLL, res.NLLTokens, f.expected.NLL, f.expected.NLLCount)
			}
			if len(res.Ablation) != res.Blocks || len(res.Flat) != res.Blocks {
				t.Errorf("ablation %v, flat %v: want %d scores each", res.Ablation, res.Flat, res.Blocks)
			}
			t.Logf("%s: worst block relative error %.2e, BI diff %.2e, NLL %.6f (PyTorch %.6f); %s, %s",
				family, worst, maxAbsDiff(res.BI, f.expected.BI), res.NLL, f.expected.NLL, res.Device, res.DType)
		})
	}
}

// logitsSampleErr compares the logits at expected.json's sample positions.
func logitsSampleErr(f *fixture, logits []float32) float64 {
	V := f.model.Spec.Hyper.Vocab
	S := len(logits) / (V * len(f.tokens))
	var got, want []float32
	for b, positions := range f.expected.LogitPositions {
		for k, p := range positions {
			got = append(got, logits[(b*S+p)*V:(b*S+p+1)*V]...)
			for _, v := range f.expected.LogitsSample[b][k] {
				want = append(want, float32(v))
			}
		}
	}
	return relErr(got, want)
}

// TestFixturesBF16 runs the fixtures in bfloat16 on the pure Go backend and compares BI with PyTorch's
// bfloat16 run (expected.json bi_bf16), to the 2e-2 the GPU check asks of half precision.
func TestFixturesBF16(t *testing.T) {
	for _, family := range fixtureFamilies {
		t.Run(family, func(t *testing.T) {
			f := loadFixture(t, family)
			res, err := Run(context.Background(), f.model, f.tokens, Options{Backend: BackendCPU, DType: BF16})
			if err != nil {
				t.Fatal(err)
			}
			if res.DType != BF16 {
				t.Fatalf("ran in %s, asked for bf16 (notes: %v)", res.DType, res.Notes)
			}
			d := maxAbsDiff(res.BI, f.expected.BIbf16)
			if d > 2e-2 {
				t.Errorf("BI %v, PyTorch bf16 %v: differ by %.2e", res.BI, f.expected.BIbf16, d)
			}
			t.Logf("%s bf16: BI differs from PyTorch bf16 by %.2e, from fp32 by %.2e", family, d, maxAbsDiff(res.BI, f.expected.BI))
		})
	}
}

// The head merges vocabulary slices (here 100 rows, so the 256-token vocabulary takes three, the last
// one padded) into the same NLL and logits as one slice.
func TestHeadVocabSlices(t *testing.T) {
	vocabSliceForTest = 100
	defer func() { vocabSliceForTest, residentHeadForTest = 0, false }()
	for _, tc := range []struct {
		family   string
		resident bool
	}{{"llama", false}, {"gemma3_text", false}, {"gpt2", true}, {"phi3", true}} {
		family := tc.family
		residentHeadForTest = tc.resident
		f := loadFixture(t, family)
		res, pr, err := run(context.Background(), f.model, f.tokens, Options{Backend: BackendCPU, DType: FP32},
			passOptions{logits: true})
		if err != nil {
			t.Fatal(err)
		}
		want, err := f.hidden.F32("logits", nil)
		if err != nil {
			t.Fatal(err)
		}
		if e := relErr(pr.logits, want); e > 1e-5 {
			t.Errorf("%s: logits from slices: relative error %.2e", family, e)
		}
		if e := math.Abs(res.NLL-f.expected.NLL) / f.expected.NLL; e > 1e-5 {
			t.Errorf("%s: NLL from slices %.6f, PyTorch %.6f", family, res.NLL, f.expected.NLL)
		}
	}
}
