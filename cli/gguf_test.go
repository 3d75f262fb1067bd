package cli_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/config"
	"github.com/layerscope/layerscope/modelio/gguf/gguftest"
	"github.com/layerscope/layerscope/modelio/quant/quanttest"
)

// tinyGGUF writes a two-layer Llama as a GGUF file and returns its path.
func tinyGGUF(t *testing.T) string {
	t.Helper()
	kvs := []gguftest.KV{
		{Key: "general.architecture", Value: "llama"}, {Key: "general.name", Value: "Tiny Llama"},
		{Key: "general.file_type", Value: uint32(7)},
		{Key: "llama.block_count", Value: uint32(2)}, {Key: "llama.embedding_length", Value: uint32(64)},
		{Key: "llama.feed_forward_length", Value: uint32(128)}, {Key: "llama.attention.head_count", Value: uint32(4)},
		{Key: "llama.attention.head_count_kv", Value: uint32(2)},
		{Key: "llama.attention.layer_norm_rms_epsilon", Value: float32(1e-6)},
	}
	ts := []gguftest.Tensor{{Name: "token_embd.weight", Type: gguftest.TQ8_0, Dims: []uint64{64, 100}}}
	for _, b := range []string{"blk.0.", "blk.1."} {
		for _, n := range []struct {
			name string
			dims []uint64
		}{
			{"attn_norm", []uint64{64}}, {"attn_q", []uint64{64, 64}}, {"attn_k", []uint64{64, 32}},
			{"attn_v", []uint64{64, 32}}, {"attn_output", []uint64{64, 64}}, {"ffn_norm", []uint64{64}},
			{"ffn_gate", []uint64{64, 128}}, {"ffn_up", []uint64{64, 128}}, {"ffn_down", []uint64{128, 64}},
		} {
			typ := uint32(gguftest.TQ8_0)
			if len(n.dims) == 1 {
				typ = gguftest.TF32
			}
			ts = append(ts, gguftest.Tensor{Name: b + n.name + ".weight", Type: typ, Dims: n.dims})
		}
	}
	ts = append(ts, gguftest.Tensor{Name: "output_norm.weight", Type: gguftest.TF32, Dims: []uint64{64}})
	path := filepath.Join(t.TempDir(), "tiny-Q8_0.gguf")
	gguftest.Write(t, path, kvs, ts)
	return path
}

func TestGGUFCommands(t *testing.T) {
	path := tinyGGUF(t)
	status, out, errs := run("tree", path)
	if status != 0 || !strings.Contains(out, "(q_proj): Linear(in_features=64, out_features=64, bias=False)") ||
		!strings.Contains(out, "(0-1): 2 x LlamaDecoderLayer(") {
		t.Errorf("tree: status %d\n%s\n%s", status, out, errs)
	}
	status, out, errs = run("facts", path)
	if status != 0 || !strings.Contains(out, "quantized") || !strings.Contains(out, "gguf Q8_0") {
		t.Errorf("facts: status %d\n%s\n%s", status, out, errs)
	}
	bad := filepath.Join(t.TempDir(), "bad.gguf")
	gguftest.WriteBytes(t, bad, []byte("GGUF\x07\x00\x00\x00"), 64)
	status, out, errs = run("facts", bad)
	if want := "layerscope: " + bad + ": GGUF version 7 is not one Layerscope reads (1 to 3)\n"; status != 1 || errs != want || out != "" {
		t.Errorf("bad GGUF: status %d, stderr %q, want %q", status, errs, want)
	}
}

func TestQuantizedCommands(t *testing.T) {
	cfg, err := config.Parse("config.json", []byte(llamaConfig))
	if err != nil {
		t.Fatal(err)
	}
	fam, _ := arch.Lookup("llama")
	spec, err := fam.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	qc := `"quantization_config": {"quant_method": "bitsandbytes", "load_in_4bit": true, "bnb_4bit_quant_type": "nf4"}`
	withQC := strings.Replace(llamaConfig, `"model_type"`, qc+`, "model_type"`, 1)

	dir := folder(t, map[string]string{"config.json": withQC})
	ck := quanttest.Specs(spec.Root, quanttest.Layout{Method: "bnb4", QuantType: "nf4", Blocksize: 64})
	ck.Write(t, filepath.Join(dir, "model.safetensors"))
	status, out, errs := run("tree", dir)
	if status != 0 || !strings.Contains(out, "(gate_proj): Linear4bit(in_features=64, out_features=128, bias=False)") || errs != "" {
		t.Errorf("tree: status %d\n%s\n%s", status, out, errs)
	}

	bad := folder(t, map[string]string{"config.json": withQC})
	ck.Replace("model.layers.1.mlp.up_proj.weight", 3, 1)
	ck.Write(t, filepath.Join(bad, "model.safetensors"))
	status, _, errs = run("facts", bad)
	if status != 1 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "model.layers.1.mlp.up_proj.weight is U8 [3 1]") ||
		!strings.Contains(errs, filepath.Join(bad, "model.safetensors")) {
		t.Errorf("bad checkpoint: status %d, stderr %q", status, errs)
	}
}
