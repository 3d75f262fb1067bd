package neurons_test

import (
	"bufio"
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

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/config"
	"github.com/layerscope/layerscope/modelio/neurons"
	"github.com/layerscope/layerscope/modelio/weights"
	"github.com/layerscope/layerscope/modelio/weights/weightstest"
)

// galleryConfig reads a gallery config.json and overrides some keys, to make a tiny model of a real
// family's layout.
func galleryConfig(tb testing.TB, stem string, set map[string]any) map[string]any {
	tb.Helper()
	data, err := os.ReadFile("../gallery/configs/" + stem + ".config.json")
	if err != nil {
		tb.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		tb.Fatal(err)
	}
	for k, v := range set {
		cfg[k] = v
	}
	return cfg
}

// writeRandom writes a model folder: config.json and model.safetensors holding every parameter the
// family names, in dtype, with values whose mean differs from row to row (so a variance that lost
// its digits to the mean would show).
func writeRandom(tb testing.TB, dir string, cfg map[string]any, dtype string, seed uint64) {
	tb.Helper()
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		tb.Fatal(err)
	}
	c, err := config.Parse("config.json", data)
	if err != nil {
		tb.Fatal(err)
	}
	fam, ok := arch.Lookup(c.String("model_type", ""))
	if !ok {
		tb.Fatalf("no family %v", cfg["model_type"])
	}
	spec, err := fam.Build(c)
	if err != nil {
		tb.Fatal(err)
	}
	var specs []weightstest.Spec
	for _, p := range spec.Root.Params("") {
		specs = append(specs, weightstest.T(p.Name, dtype, p.Shape...))
	}
	prefix, _ := weightstest.Header(tb, specs)
	f, err := os.Create(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriter(f)
	w.Write(prefix)
	rng := rand.New(rand.NewPCG(seed, 7))
	buf := make([]byte, 8)
	for _, s := range specs {
		n := arch.NumElements(s.Shape)
		row := max(s.Shape[len(s.Shape)-1], 1)
		var mean float64
		for i := int64(0); i < n; i++ {
			if i%row == 0 {
				mean = rng.NormFloat64() * 0.3
			}
			v := mean + rng.NormFloat64()*0.05
			switch dtype {
			case "F32":
				binary.LittleEndian.PutUint32(buf, math.Float32bits(float32(v)))
				w.Write(buf[:4])
			case "BF16":
				binary.LittleEndian.PutUint16(buf, uint16(math.Float32bits(float32(v))>>16))
				w.Write(buf[:2])
			case "F16":
				tb.Fatal("F16 not written here")
			}
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// matrix reads a tensor as float64 rows, by a path independent of the package's: the header from
// weights.ReadFile, the bytes from os.ReadFile.
func matrix(t *testing.T, dir, name string) [][]float64 {
	t.Helper()
	path := filepath.Join(dir, "model.safetensors")
	ws, err := weights.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tn, ok := ws.Tensors[name]
	if !ok {
		t.Fatalf("no tensor %s", name)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b := data[tn.Offset : tn.Offset+tn.Size]
	rows, cols := int64(1), tn.Shape[0]
	if len(tn.Shape) == 2 {
		rows, cols = tn.Shape[0], tn.Shape[1]
	}
	out := make([][]float64, rows)
	for r := range out {
		out[r] = make([]float64, cols)
		for c := range out[r] {
			i := int64(r)*cols + int64(c)
			switch tn.DType {
			case "F32":
				out[r][c] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
			case "BF16":
				out[r][c] = float64(math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16))
			}
		}
	}
	return out
}

func column(m [][]float64, j int) []float64 {
	out := make([]float64, len(m))
	for r := range m {
		out[r] = m[r][j]
	}
	return out
}

// refScore is the float64 reference of each method on one neuron's two vectors, written from the
// definitions: two-pass unbiased variance.
func refScore(method neurons.Method, a, b []float64) float64 {
	ptp := func(v []float64) float64 { return slices.Max(v) + math.Abs(slices.Min(v)) }
	variance := func(v []float64) float64 {
		var mean float64
		for _, x := range v {
			mean += x
		}
		mean /= float64(len(v))
		var s float64
		for _, x := range v {
			s += (x - mean) * (x - mean)
		}
		return s / float64(len(v)-1)
	}
	l1 := func(v []float64) float64 {
		var s float64
		for _, x := range v {
			s += math.Abs(x)
		}
		return s
	}
	switch method {
	case neurons.PPM:
		return ptp(a) + ptp(b)
	case neurons.VOW:
		return variance(a) + variance(b)
	case neurons.PON:
		return l1(a) * l1(b)
	}
	return math.NaN()
}

// layout says where neuron j's two vectors lie in one MLP, by tensor names written out per family
// (independent of the roles modelio reads).
type layout struct {
	kind   string // "glu", "fused", "linear" (fc1 [I,H] + bias, fc2 [H,I]), "conv1d" (c_fc [H,I] + bias, c_proj [I,H])
	a, b   string // gate/up, gate_up, or up/down weight names, with %d for the block (and expert)
	bias   string // the up bias (classic)
	expert bool
}

func (l layout) vectors(t *testing.T, dir string, args ...any) (a, b [][]float64) {
	name := func(s string) string { return fmt.Sprintf(s, args...) }
	switch l.kind {
	case "glu":
		return matrix(t, dir, name(l.a)), matrix(t, dir, name(l.b))
	case "fused":
		gu := matrix(t, dir, name(l.a))
		return gu[:len(gu)/2], gu[len(gu)/2:]
	case "linear", "conv1d":
		up, down := matrix(t, dir, name(l.a)), matrix(t, dir, name(l.b))
		bias := matrix(t, dir, name(l.bias))[0]
		a = make([][]float64, len(bias))
		b = make([][]float64, len(bias))
		for j := range bias {
			if l.kind == "linear" {
				a[j], b[j] = append(slices.Clone(up[j]), bias[j]), column(down, j)
			} else {
				a[j], b[j] = append(column(up, j), bias[j]), slices.Clone(down[j])
			}
		}
		return a, b
	}
	t.Fatalf("layout %s", l.kind)
	return nil, nil
}

var small = map[string]any{"hidden_size": 48, "num_attention_heads": 4, "num_hidden_layers": 2,
	"intermediate_size": 96, "vocab_size": 64, "max_position_embeddings": 64}

func with(extra map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range small {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// familyCase is a tiny model of one family's MLP layout.
type familyCase struct {
	name, stem string
	set        map[string]any
	layout     layout
	experts    int
}

var familyCases = []familyCase{
	{"llama", "meta-llama__Llama-3.2-1B", with(map[string]any{"num_key_value_heads": 2, "head_dim": 12}),
		layout{kind: "glu", a: "model.layers.%d.mlp.gate_proj.weight", b: "model.layers.%d.mlp.up_proj.weight"}, 0},
	{"qwen3", "Qwen__Qwen3-0.6B", with(map[string]any{"num_key_value_heads": 2, "head_dim": 12}),
		layout{kind: "glu", a: "model.layers.%d.mlp.gate_proj.weight", b: "model.layers.%d.mlp.up_proj.weight"}, 0},
	{"gemma3", "google__gemma-3-270m", with(map[string]any{"num_key_value_heads": 1, "head_dim": 12, "layer_types": nil}),
		layout{kind: "glu", a: "model.layers.%d.mlp.gate_proj.weight", b: "model.layers.%d.mlp.up_proj.weight"}, 0},
	{"phi3 fused gate_up", "microsoft__Phi-4-mini-instruct", with(map[string]any{"num_key_value_heads": 2, "rope_scaling": nil, "partial_rotary_factor": 0.5, "pad_token_id": nil}),
		layout{kind: "fused", a: "model.layers.%d.mlp.gate_up_proj.weight"}, 0},
	{"mixtral experts", "mistralai__Mixtral-8x7B-v0.1", with(map[string]any{"num_key_value_heads": 2, "num_local_experts": 3}),
		layout{kind: "glu", a: "model.layers.%d.block_sparse_moe.experts.%d.w1.weight", b: "model.layers.%d.block_sparse_moe.experts.%d.w3.weight", expert: true}, 3},
	{"qwen3-moe experts", "Qwen__Qwen3-30B-A3B", with(map[string]any{"num_key_value_heads": 2, "head_dim": 12, "num_experts": 3, "num_experts_per_tok": 2, "moe_intermediate_size": 40}),
		layout{kind: "glu", a: "model.layers.%d.mlp.experts.%d.gate_proj.weight", b: "model.layers.%d.mlp.experts.%d.up_proj.weight", expert: true}, 3},
	{"gpt2 conv1d", "openai-community__gpt2", map[string]any{"n_embd": 48, "n_head": 4, "n_layer": 2, "n_inner": 96, "vocab_size": 64, "n_positions": 64},
		layout{kind: "conv1d", a: "transformer.h.%d.mlp.c_fc.weight", b: "transformer.h.%d.mlp.c_proj.weight", bias: "transformer.h.%d.mlp.c_fc.bias"}, 0},
	{"opt fc1/fc2", "facebook__opt-125m", with(map[string]any{"ffn_dim": 96, "word_embed_proj_dim": 48}),
		layout{kind: "linear", a: "model.decoder.layers.%d.fc1.weight", b: "model.decoder.layers.%d.fc2.weight", bias: "model.decoder.layers.%d.fc1.bias"}, 0},
	{"phi fc1/fc2", "microsoft__phi-2", with(map[string]any{"num_key_value_heads": 4}),
		layout{kind: "linear", a: "model.layers.%d.mlp.fc1.weight", b: "model.layers.%d.mlp.fc2.weight", bias: "model.layers.%d.mlp.fc1.bias"}, 0},
	{"gpt_neox", "EleutherAI__pythia-70m", with(nil),
		layout{kind: "linear", a: "gpt_neox.layers.%d.mlp.dense_h_to_4h.weight", b: "gpt_neox.layers.%d.mlp.dense_4h_to_h.weight", bias: "gpt_neox.layers.%d.mlp.dense_h_to_4h.bias"}, 0},
}

// Every static score of every family equals the float64 reference, neuron by neuron, in F32 and BF16,
// read whole and read in chunks of 1000 bytes (a few rows, so that rows and columns are read across
// chunk boundaries, with a remainder, as a real model's are).
func TestScoresMatchReference(t *testing.T) {
	for _, chunk := range []int{0, 1000} {
		for _, tc := range familyCases {
			for _, dtype := range []string{"F32", "BF16"} {
				name := tc.name + " " + dtype
				if chunk > 0 {
					name += fmt.Sprintf(" in %d-byte chunks", chunk)
				}
				t.Run(name, func(t *testing.T) {
					if chunk > 0 {
						defer neurons.SetReadChunk(chunk)()
					}
					scoresMatchReference(t, tc, dtype)
				})
			}
		}
	}
}

func scoresMatchReference(t *testing.T, tc familyCase, dtype string) {
	dir := t.TempDir()
	writeRandom(t, dir, galleryConfig(t, tc.stem, tc.set), dtype, 11)
	m, err := modelio.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, method := range []neurons.Method{neurons.PPM, neurons.VOW, neurons.PON} {
		s, err := neurons.Score(context.Background(), m, method, nil)
		if err != nil {
			t.Fatal(err)
		}
		per := max(tc.experts, 1)
		if len(s.Units) != 2*per {
			t.Fatalf("%d MLP units, want %d", len(s.Units), 2*per)
		}
		for i, u := range s.Units {
			args := []any{u.Block}
			if tc.layout.expert {
				args = append(args, u.Expert)
			}
			a, b := tc.layout.vectors(t, dir, args...)
			if len(s.Score[i]) != len(a) {
				t.Fatalf("%s: %d scores, %d neurons", u.Path, len(s.Score[i]), len(a))
			}
			for j := range a {
				want, got := refScore(method, a[j], b[j]), s.Score[i][j]
				if d := math.Abs(got - want); d > 1e-9*math.Abs(want) || math.IsNaN(got) {
					t.Fatalf("%s %s neuron %d: %.15g, reference %.15g", u.Path, method, j, got, want)
				}
			}
		}
	}
}

// optipfair's count of kept neurons, and its published anchors: Llama-3.2-1B (intermediate 8192)
// pruned 40% keeps 4916 and has 913,770,496 parameters; 20% keeps 6554.
func TestGalleryAnchors(t *testing.T) {
	m, err := modelio.Open("llama-3.2-1b")
	if err != nil {
		t.Fatal(err)
	}
	units, err := modelio.MLPUnits(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		percent float64
		divisor int
		kept    int64
		params  int64
	}{
		{40, 0, 4916, 913_770_496},
		{20, 0, 6554, 0},
		{40, 64, 4928, 0}, // 4916/64 = 76.8 → 77 × 64
		{40, 256, 4864, 0},
	} {
		_, kept, err := neurons.Widths(units, neurons.Target{Percent: tc.percent, Divisor: tc.divisor})
		if err != nil {
			t.Fatal(err)
		}
		if kept["intermediate_size"] != tc.kept {
			t.Errorf("%v%% /%d: kept %d, want %d", tc.percent, tc.divisor, kept["intermediate_size"], tc.kept)
		}
		keep := make([][]int, len(units))
		for i := range keep {
			keep[i] = make([]int, kept["intermediate_size"])
			for j := range keep[i] {
				keep[i][j] = j
			}
		}
		p, err := modelio.NarrowMLP(m, keep)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Config.Int("intermediate_size", 0); int64(got) != tc.kept {
			t.Errorf("config intermediate_size %d", got)
		}
		if tc.params != 0 {
			if got := p.Facts().Parameters.Total; got != tc.params {
				t.Errorf("%v%%: %d parameters, want %d", tc.percent, got, tc.params)
			}
		}
	}
}

func TestKeptCount(t *testing.T) {
	tests := []struct {
		width   int64
		percent float64
		divisor int
		want    int64
		err     string
	}{
		{8192, 40, 0, 4916, ""},
		{8192, 20, 0, 6554, ""},
		{10, 99.99, 0, 1, ""},                  // min(int(9.999), 9) = 9 removed
		{100, 50, 32, 64, ""},                  // 50/32 = 1.5625 → 2
		{96, 50, 32, 64, ""},                   // 48/32 = 1.5: Python's round gives 2 (half to even)
		{160, 50, 64, 64, ""},                  // 80/64 = 1.25 → 1
		{160, 20, 256, 256 - 96, "round to 0"}, // 128/256 = 0.5 → 0 (half to even)
		{100, 0, 0, 0, "outside (0, 100)"},
		{100, 100, 0, 0, "outside (0, 100)"},
		{100, -5, 0, 0, "outside (0, 100)"},
		{100, math.NaN(), 0, 0, "outside (0, 100)"},
		{100, 40, 48, 0, "not one of 32, 64, 128, 256"},
	}
	for _, tt := range tests {
		got, err := neurons.KeptCount(tt.width, tt.percent, tt.divisor)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("KeptCount(%d, %v, %d) = %d, %v; want error %q", tt.width, tt.percent, tt.divisor, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("KeptCount(%d, %v, %d) = %d, %v; want %d", tt.width, tt.percent, tt.divisor, got, err, tt.want)
		}
	}
}

// --expansion: optipfair turns the rate into a percentage, then counts as for --width.
func TestExpansion(t *testing.T) {
	// Llama-3.2-1B: I 8192, H 2048. 240% of H = 4915.2: (1 − 4915.2/8192) × 100 = 40%, which keeps 4916.
	p, err := neurons.PercentForExpansion(8192, 2048, 240)
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := neurons.KeptCount(8192, p, 0); k != 4916 {
		t.Errorf("240%%: %v%% keeps %d, want 4916", p, k)
	}
	if _, err := neurons.PercentForExpansion(8192, 2048, 400); err == nil || !strings.Contains(err.Error(), "would not shrink") {
		t.Errorf("400%%: %v", err)
	}
	if got := neurons.Expansion(8192, 2048); got != "4.00× (I/H; 300% as (I−H)/H)" {
		t.Errorf("Expansion = %q", got)
	}
}

func TestTopK(t *testing.T) {
	got := neurons.TopK([]float64{3, 1, math.NaN(), 3, 5, 0}, 3)
	if !slices.Equal(got, []int{0, 3, 4}) {
		t.Errorf("TopK = %v", got)
	}
	if got := neurons.TopK([]float64{2, 2, 2, 2}, 2); !slices.Equal(got, []int{0, 1}) {
		t.Errorf("ties: %v", got)
	}
}

func TestParseMethod(t *testing.T) {
	for in, want := range map[string]neurons.Method{"ppm": neurons.PPM, "MAW": neurons.PPM, "vow": neurons.VOW, "Pon": neurons.PON,
		"activation": neurons.Activation, "hybrid": neurons.Hybrid} {
		if got, err := neurons.ParseMethod(in); err != nil || got != want {
			t.Errorf("%s: %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"l3", "", "l2"} {
		if _, err := neurons.ParseMethod(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// A model without weights, an unknown family, and a quantized MLP are refused in one line.
func TestScoreRefuses(t *testing.T) {
	gallery, err := modelio.Open("llama-3.2-1b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := neurons.Score(context.Background(), gallery, neurons.PPM, nil); err == nil || !strings.Contains(err.Error(), "has no weights") {
		t.Errorf("gallery: %v", err)
	}

	dir := t.TempDir()
	cfg := galleryConfig(t, "meta-llama__Llama-3.2-1B", with(map[string]any{"num_key_value_heads": 2, "head_dim": 12}))
	writeRandom(t, dir, cfg, "F32", 1)
	// Rewrite the weights with one MLP tensor in I8, as a quantized checkpoint would hold it.
	m, err := modelio.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var specs []weightstest.Spec
	for _, name := range m.Weights.Names {
		tn := m.Weights.Tensors[name]
		dt := tn.DType
		if name == "model.layers.1.mlp.up_proj.weight" {
			dt = "I8"
		}
		specs = append(specs, weightstest.T(name, dt, tn.Shape...))
	}
	weightstest.WriteFile(t, filepath.Join(dir, "model.safetensors"), specs)
	q, err := modelio.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = neurons.Score(context.Background(), q, neurons.PPM, nil)
	if err == nil || !strings.Contains(err.Error(), "model.layers.1.mlp.up_proj.weight is I8") || strings.Contains(err.Error(), "\n") {
		t.Errorf("quantized: %v", err)
	}

	unknown := t.TempDir()
	os.WriteFile(filepath.Join(unknown, "config.json"), []byte(`{"model_type": "mystery"}`), 0o644)
	weightstest.WriteFile(t, filepath.Join(unknown, "model.safetensors"), []weightstest.Spec{
		weightstest.T("model.layers.0.mlp.up_proj.weight", "F32", 8, 4),
		weightstest.T("model.layers.0.mlp.down_proj.weight", "F32", 4, 8),
	})
	if g, err := modelio.Open(unknown); err == nil {
		if _, err := neurons.Score(context.Background(), g, neurons.PPM, nil); err == nil || !strings.Contains(err.Error(), "not a family Layerscope knows") {
			t.Errorf("unknown family: %v", err)
		}
	}
}

// The hybrid score equals optipfair's formula, written out in float64 from the weights: the ppm of
// gate rows, up rows (fused or not) and down columns, each over its matrix's largest + 1e-8, summed,
// times the activation norm; for a classic MLP the input (with bias) and output vectors.
func TestHybridMatchesReference(t *testing.T) {
	for _, chunk := range []int{0, 1000} { // whole, and a few rows or columns at a time
		for _, tc := range familyCases {
			if tc.layout.expert {
				continue // activations of experts are not measured
			}
			t.Run(fmt.Sprintf("%s chunk %d", tc.name, chunk), func(t *testing.T) {
				if chunk > 0 {
					defer neurons.SetReadChunk(chunk)()
				}
				hybridMatchesReference(t, tc)
			})
		}
	}
}

func hybridMatchesReference(t *testing.T, tc familyCase) {
	dir := t.TempDir()
	writeRandom(t, dir, galleryConfig(t, tc.stem, tc.set), "F32", 5)
	m, err := modelio.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	units, err := modelio.MLPUnits(m)
	if err != nil {
		t.Fatal(err)
	}
	norms := make([][]float64, len(units))
	for i, u := range units {
		norms[i] = make([]float64, u.Width)
		for j := range norms[i] {
			norms[i][j] = 0.5 + float64((j*7+i*3)%11)
		}
	}
	act, err := neurons.ScoreActivations(context.Background(), m, neurons.Activation, norms, nil)
	if err != nil || act.Score[1][5] != norms[1][5] {
		t.Fatalf("activation: %v", err)
	}
	s, err := neurons.ScoreActivations(context.Background(), m, neurons.Hybrid, norms, nil)
	if err != nil {
		t.Fatal(err)
	}
	ptp := func(v []float64) float64 { return slices.Max(v) + math.Abs(slices.Min(v)) }
	for i, u := range units {
		a, b := tc.layout.vectors(t, dir, u.Block)
		terms := [][][]float64{a, b}
		if tc.layout.kind == "glu" || tc.layout.kind == "fused" {
			down := matrix(t, dir, fmt.Sprintf(strings.Replace(strings.Replace(tc.layout.a, "gate_up_proj", "down_proj", 1), "gate_proj", "down_proj", 1), u.Block))
			cols := make([][]float64, u.Width)
			for j := range cols {
				cols[j] = column(down, j)
			}
			terms = append(terms, cols)
		}
		want := make([]float64, u.Width)
		for _, term := range terms {
			top := math.Inf(-1)
			for _, v := range term {
				top = max(top, ptp(v))
			}
			for j, v := range term {
				want[j] += ptp(v) / (top + 1e-8)
			}
		}
		for j := range want {
			w := want[j] * norms[i][j]
			if d := math.Abs(s.Score[i][j] - w); d > 1e-9*w {
				t.Fatalf("%s neuron %d: %.15g, reference %.15g", u.Path, j, s.Score[i][j], w)
			}
		}
	}
}
