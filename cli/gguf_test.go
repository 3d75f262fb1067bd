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
	kvs, ts := gguftest.TinyLlama()
	path := filepath.Join(t.TempDir(), "tiny-Q8_0.gguf")
	gguftest.Write(t, path, append(kvs, gguftest.KV{Key: "general.name", Value: "Tiny Llama"}), ts)
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
