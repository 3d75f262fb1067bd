package modelio_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/config"
	"github.com/layerscope/layerscope/modelio/weights/weightstest"
)

// tinyLlama is a llama config small enough to write real weights for in a test.
func tinyLlama(layers int) map[string]any {
	return map[string]any{
		"architectures": []string{"LlamaForCausalLM"}, "model_type": "llama",
		"hidden_size": 64, "intermediate_size": 160, "num_hidden_layers": layers,
		"num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100,
		"rms_norm_eps": 1e-05, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// expectedTensors lists the tensors transformers would save for cfg, as the family builds them.
func expectedTensors(t *testing.T, cfg map[string]any, dtype string) []weightstest.Spec {
	t.Helper()
	data, _ := json.Marshal(cfg)
	c, err := config.Parse("config.json", data)
	if err != nil {
		t.Fatal(err)
	}
	fam, ok := arch.Lookup(c.String("model_type", ""))
	if !ok {
		t.Fatal("no family")
	}
	spec, err := fam.Build(c)
	if err != nil {
		t.Fatal(err)
	}
	var out []weightstest.Spec
	for _, p := range spec.Root.Params("") {
		out = append(out, weightstest.T(p.Name, dtype, p.Shape...))
	}
	return out
}

// modelFolder writes config.json and model.safetensors, letting edit change the tensor list first.
func modelFolder(t *testing.T, cfg map[string]any, edit func([]weightstest.Spec) []weightstest.Spec) string {
	t.Helper()
	dir := t.TempDir()
	writeJSON(t, filepath.Join(dir, "config.json"), cfg)
	specs := expectedTensors(t, cfg, "BF16")
	if edit != nil {
		specs = edit(specs)
	}
	weightstest.WriteFile(t, filepath.Join(dir, "model.safetensors"), specs)
	return dir
}

// narrowMLP gives layer's MLP an intermediate width of width, as width pruning does.
func narrowMLP(layer int, width int64) func([]weightstest.Spec) []weightstest.Spec {
	prefix := "model.layers." + strconv.Itoa(layer) + ".mlp."
	return func(specs []weightstest.Spec) []weightstest.Spec {
		for i, s := range specs {
			switch s.Name {
			case prefix + "gate_proj.weight", prefix + "up_proj.weight":
				specs[i].Shape = []int64{width, s.Shape[1]}
			case prefix + "down_proj.weight":
				specs[i].Shape = []int64{s.Shape[0], width}
			}
		}
		return specs
	}
}

func TestOpenFolderMatchesConfig(t *testing.T) {
	cfg := tinyLlama(4)
	dir := modelFolder(t, cfg, nil)
	m, err := modelio.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Warnings) != 0 {
		t.Errorf("warnings for a faithful checkpoint: %q", m.Warnings)
	}
	var stored int64
	for _, tn := range m.Weights.Tensors {
		stored += arch.NumElements(tn.Shape)
	}
	if got := m.Spec.Root.NumParams(); got != stored {
		t.Errorf("parameters %d, tensors hold %d", got, stored)
	}
	if m.Arch.Blocks[0].Parts[0].DType != "BF16" {
		t.Errorf("dtype not taken from the weights: %+v", m.Arch.Blocks[0].Parts[0])
	}
	configOnly, err := modelio.Open(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := arch.Repr(m.Spec.Root), arch.Repr(configOnly.Spec.Root); a != b {
		t.Errorf("tree from weights differs from tree from config:\n%s\n---\n%s", a, b)
	}
	file, err := modelio.Open(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if file.Spec.Root.NumParams() != stored || file.Config == nil {
		t.Errorf("opening the .safetensors file: params %d, config %v", file.Spec.Root.NumParams(), file.Config != nil)
	}
}

// A width-pruned layer 7 of 16 splits the print into three groups, as torch prints it.
func TestOpenPrunedCheckpoint(t *testing.T) {
	dir := modelFolder(t, tinyLlama(16), narrowMLP(7, 96))
	m, err := modelio.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	tree := arch.Repr(m.Spec.Root)
	for _, want := range []string{
		"(0-6): 7 x LlamaDecoderLayer(",
		"(7): LlamaDecoderLayer(",
		"(gate_proj): Linear(in_features=64, out_features=96, bias=False)",
		"(8-15): 8 x LlamaDecoderLayer(",
	} {
		if !strings.Contains(tree, want) {
			t.Errorf("tree lacks %q:\n%s", want, tree)
		}
	}
	if got := len(m.Arch.FoldGroups()); got != 3 {
		t.Errorf("diagram groups = %d, want 3", got)
	}
	joined := strings.Join(m.Warnings, "\n")
	if !strings.Contains(joined, "model.layers.7.mlp.gate_proj.weight is [96 64] in the weights; config.json implies [160 64]") {
		t.Errorf("pruning not reported as a warning: %q", m.Warnings)
	}
	want := int64(16*(2*64+64*64*2+64*32*2+3*64*160)+100*64+64) - 3*64*(160-96)
	if got := m.Spec.Root.NumParams(); got != want {
		t.Errorf("parameters = %d, want %d", got, want)
	}
}

func TestOpenDepthPrunedCheckpoint(t *testing.T) {
	dir := modelFolder(t, tinyLlama(4), func(specs []weightstest.Spec) []weightstest.Spec {
		var kept []weightstest.Spec
		for _, s := range specs {
			if !strings.HasPrefix(s.Name, "model.layers.3.") {
				kept = append(kept, s)
			}
		}
		return kept
	})
	m, err := modelio.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Arch.Blocks) != 3 {
		t.Errorf("blocks = %d, want the 3 the weights hold", len(m.Arch.Blocks))
	}
	if !strings.Contains(strings.Join(m.Warnings, "\n"), "config.json says 4 layers; the weights hold 3") {
		t.Errorf("warnings: %q", m.Warnings)
	}
}

func TestOpenReportsExtraAndMissingTensors(t *testing.T) {
	dir := modelFolder(t, tinyLlama(2), func(specs []weightstest.Spec) []weightstest.Spec {
		var out []weightstest.Spec
		for _, s := range specs {
			if s.Name != "model.norm.weight" {
				out = append(out, s)
			}
		}
		return append(out, weightstest.T("model.layers.0.self_attn.rotary.inv_freq", "F32", 8),
			weightstest.T("model.layers.1.self_attn.rotary.inv_freq", "F32", 8))
	})
	m, err := modelio.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(m.Warnings, "\n")
	for _, want := range []string{
		"missing tensor model.norm.weight",
		"2 tensors model.layers.N.self_attn.rotary.inv_freq in the weights are not part of LlamaForCausalLM",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("warnings lack %q: %q", want, m.Warnings)
		}
	}
}

func TestOpenShardedFolder(t *testing.T) {
	cfg := tinyLlama(4)
	dir := t.TempDir()
	writeJSON(t, filepath.Join(dir, "config.json"), cfg)
	specs := expectedTensors(t, cfg, "F16")
	half := len(specs) / 2
	names := weightstest.WriteSharded(t, dir, [][]weightstest.Spec{specs[:half], specs[half:]})
	weightMap := map[string]string{}
	for i, part := range [][]weightstest.Spec{specs[:half], specs[half:]} {
		for _, s := range part {
			weightMap[s.Name] = filepath.Base(names[i])
		}
	}
	weightstest.WriteIndex(t, dir, weightMap)
	m, err := modelio.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Weights.Files) != 2 || len(m.Warnings) != 0 {
		t.Errorf("files %v, warnings %q", m.Weights.Files, m.Warnings)
	}
}

func TestOpenUnknownFamilyFromTensors(t *testing.T) {
	cfg := tinyLlama(3)
	specs := expectedTensors(t, cfg, "BF16")
	cfg["model_type"] = "brandnew"
	cfg["architectures"] = []string{"BrandNewForCausalLM"}
	dir := t.TempDir()
	writeJSON(t, filepath.Join(dir, "config.json"), cfg)
	weightstest.WriteFile(t, filepath.Join(dir, "model.safetensors"), specs)
	m, err := modelio.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Generic || len(m.Arch.Blocks) != 3 {
		t.Errorf("generic %v, blocks %d", m.Generic, len(m.Arch.Blocks))
	}
	if !strings.Contains(strings.Join(m.Notes, "\n"), `model_type "brandnew" is not a family Layerscope knows`) {
		t.Errorf("notes: %q", m.Notes)
	}
}

// The reference fixtures were saved by transformers itself: every one must open with no warning and
// count exactly the parameters its tensors hold.
func TestOpenTransformersFixtures(t *testing.T) {
	dirs, _ := filepath.Glob("../testdata/fixtures/*")
	if len(dirs) < 7 {
		t.Fatalf("found %d fixture folders", len(dirs))
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m, err := modelio.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			if m.Generic || len(m.Warnings) != 0 {
				t.Errorf("generic %v, warnings %q", m.Generic, m.Warnings)
			}
			var stored int64
			for _, tn := range m.Weights.Tensors {
				stored += arch.NumElements(tn.Shape)
			}
			if got := m.Spec.Root.NumParams(); got != stored {
				t.Errorf("parameters %d, tensors hold %d", got, stored)
			}
		})
	}
}

// Opening never writes: the folder's names, sizes and times are the same afterwards.
func TestOpenWritesNothing(t *testing.T) {
	dir := modelFolder(t, tinyLlama(2), nil)
	before := snapshot(t, dir)
	if _, err := modelio.Open(dir); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(t, dir); after != before {
		t.Errorf("folder changed:\n%s\n---\n%s", before, after)
	}
}

func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		b.WriteString(p + " " + info.Mode().String() + " " + info.ModTime().String() + " " + strconv.FormatInt(info.Size(), 10) + "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// MoE checkpoints store one tensor per expert projection; they must all be placed.
func TestOpenMoECheckpoint(t *testing.T) {
	cfg := map[string]any{
		"architectures": []string{"Qwen3MoeForCausalLM"}, "model_type": "qwen3_moe",
		"hidden_size": 64, "intermediate_size": 160, "moe_intermediate_size": 32, "num_hidden_layers": 2,
		"num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 100,
		"num_experts": 4, "num_experts_per_tok": 2, "tie_word_embeddings": false,
	}
	dir := modelFolder(t, cfg, nil)
	m, err := modelio.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Warnings) != 0 {
		t.Errorf("warnings: %q", m.Warnings)
	}
	e := m.Arch.Blocks[0].Experts
	if e == nil || e.Count != 4 || e.TopK != 2 || !e.Uniform {
		t.Fatalf("experts = %+v", e)
	}
	if n := len(m.Weights.Tensors); n != 2*(4*3+1+4+2+2)+3 {
		t.Errorf("%d tensors written", n)
	}
}
