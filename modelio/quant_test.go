package modelio_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/config"
	"github.com/layerscope/layerscope/modelio/quant/quanttest"
	"github.com/layerscope/layerscope/modelio/weights/weightstest"
)

// galleryConfig reads a gallery config.json as a map a test can edit.
func galleryConfig(t *testing.T, id string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("gallery", "configs", id+".config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	return raw
}

func buildRoot(t *testing.T, raw map[string]any) *arch.Module {
	t.Helper()
	data, _ := json.Marshal(raw)
	c, err := config.Parse("config.json", data)
	if err != nil {
		t.Fatal(err)
	}
	fam, _ := arch.Lookup(c.String("model_type", ""))
	spec, err := fam.Build(c)
	if err != nil {
		t.Fatal(err)
	}
	return spec.Root
}

// The quantization_config blocks below are as transformers 4.55 and the quantizers save them.
var (
	bnb4Config = map[string]any{
		"_load_in_4bit": true, "_load_in_8bit": false, "bnb_4bit_compute_dtype": "bfloat16",
		"bnb_4bit_quant_storage": "uint8", "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": true,
		"llm_int8_enable_fp32_cpu_offload": false, "llm_int8_has_fp16_weight": false,
		"llm_int8_skip_modules": nil, "llm_int8_threshold": 6.0, "load_in_4bit": true, "load_in_8bit": false,
		"quant_method": "bitsandbytes",
	}
	bnb8Config = map[string]any{
		"_load_in_4bit": false, "_load_in_8bit": true, "llm_int8_skip_modules": nil, "llm_int8_threshold": 6.0,
		"load_in_4bit": false, "load_in_8bit": true, "quant_method": "bitsandbytes",
	}
	gptqConfig = map[string]any{
		"bits": 4, "group_size": 128, "damp_percent": 0.01, "desc_act": false, "sym": true,
		"true_sequential": true, "quant_method": "gptq", "checkpoint_format": "gptq",
	}
	awqConfig = map[string]any{
		"bits": 4, "group_size": 128, "quant_method": "awq", "version": "gemm", "zero_point": true,
		"modules_to_not_convert": nil,
	}
)

// writeQuantized writes a quantized Llama-3.1-8B-shaped folder (a few kilobytes on disk).
func writeQuantized(t *testing.T, qc map[string]any, l quanttest.Layout, edit func(*quanttest.Checkpoint)) string {
	t.Helper()
	raw := galleryConfig(t, "meta-llama__Llama-3.1-8B")
	dir := t.TempDir()
	ck := quanttest.Specs(buildRoot(t, raw), l)
	if edit != nil {
		edit(ck)
	}
	if qc != nil {
		raw["quantization_config"] = qc
	}
	writeJSON(t, filepath.Join(dir, "config.json"), raw)
	ck.Write(t, filepath.Join(dir, "model.safetensors"))
	return dir
}

func TestOpenQuantized(t *testing.T) {
	const llama31Params = 8030261248 // Llama-3.1-8B, as published and as the BF16 gallery model counts
	tests := []struct {
		name     string
		qc       map[string]any
		layout   quanttest.Layout
		method   string
		format   string
		bits     int
		group    int
		dtype    string
		lines    []string // lines the module tree must hold
		bpwRange [2]float64
	}{
		{"bnb nf4 double-quant", bnb4Config, quanttest.Layout{Method: "bnb4", QuantType: "nf4", Blocksize: 64, Nested: true},
			"bitsandbytes", "nf4", 4, 64, "NF4",
			[]string{
				"(q_proj): Linear4bit(in_features=4096, out_features=4096, bias=False)",
				"(k_proj): Linear4bit(in_features=4096, out_features=1024, bias=False)",
				"(gate_proj): Linear4bit(in_features=4096, out_features=14336, bias=False)",
				"(down_proj): Linear4bit(in_features=14336, out_features=4096, bias=False)",
				"(lm_head): Linear(in_features=4096, out_features=128256, bias=False)",
			}, [2]float64{5, 6}},
		{"bnb fp4", map[string]any{"quant_method": "bitsandbytes", "load_in_4bit": true, "bnb_4bit_quant_type": "fp4"},
			quanttest.Layout{Method: "bnb4", QuantType: "fp4", Blocksize: 128},
			"bitsandbytes", "fp4", 4, 128, "FP4",
			[]string{"(o_proj): Linear4bit(in_features=4096, out_features=4096, bias=False)"}, [2]float64{5, 6}},
		{"bnb 8-bit", bnb8Config, quanttest.Layout{Method: "bnb8"}, "bitsandbytes", "int8", 8, 0, "INT8",
			[]string{
				"(up_proj): Linear8bitLt(in_features=4096, out_features=14336, bias=False)",
				"(lm_head): Linear(in_features=4096, out_features=128256, bias=False)",
			}, [2]float64{9, 10}},
		{"gptq 4-bit", gptqConfig, quanttest.Layout{Method: "gptq", Bits: 4, Group: 128}, "gptq", "", 4, 128, "GPTQ-INT4",
			[]string{"(o_proj): QuantLinear()", "(down_proj): QuantLinear()",
				"(lm_head): Linear(in_features=4096, out_features=128256, bias=False)"}, [2]float64{5, 6}},
		{"gptq 8-bit, one group", map[string]any{"quant_method": "gptq", "bits": 8, "group_size": -1},
			quanttest.Layout{Method: "gptq", Bits: 8, Group: -1}, "gptq", "", 8, 0, "GPTQ-INT8",
			[]string{"(gate_proj): QuantLinear()"}, [2]float64{9, 10}},
		{"awq gemm", awqConfig, quanttest.Layout{Method: "awq", Bits: 4, Group: 128}, "awq", "gemm", 4, 128, "AWQ-INT4",
			[]string{"(v_proj): WQLinear_GEMM(in_features=4096, out_features=1024, bias=False, w_bit=4, group_size=128)",
				"(down_proj): WQLinear_GEMM(in_features=14336, out_features=4096, bias=False, w_bit=4, group_size=128)"},
			[2]float64{5, 6}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := modelio.Open(writeQuantized(t, tc.qc, tc.layout, nil))
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Warnings) > 0 {
				t.Errorf("warnings: %q", m.Warnings)
			}
			tree := arch.Repr(m.Spec.Root)
			for _, line := range tc.lines {
				if !strings.Contains(tree, line) {
					t.Errorf("tree lacks %q:\n%s", line, tree)
				}
			}
			f := m.Facts()
			if f.Parameters.Total != llama31Params {
				t.Errorf("parameters %d, want %d", f.Parameters.Total, llama31Params)
			}
			q := f.Quantization
			if q == nil {
				t.Fatal("no quantization in the facts")
			}
			if q.Method != tc.method || q.Format != tc.format || q.Bits != tc.bits || q.GroupSize != tc.group {
				t.Errorf("quantization %+v, want %s %s %d-bit group %d", q, tc.method, tc.format, tc.bits, tc.group)
			}
			if len(q.Skipped) != 1 || q.Skipped[0] != "lm_head" {
				t.Errorf("skipped %q, want [lm_head]", q.Skipped)
			}
			if q.BitsPerWeight < tc.bpwRange[0] || q.BitsPerWeight > tc.bpwRange[1] {
				t.Errorf("bits per weight %.2f, want within %v", q.BitsPerWeight, tc.bpwRange)
			}
			b := m.Arch.Blocks[0]
			for _, p := range b.Parts {
				if p.Role == arch.RoleGate && (p.In != 4096 || p.Out != 14336 || p.DType != tc.dtype) {
					t.Errorf("gate part %dx%d %s, want 4096→14336 %s", p.In, p.Out, p.DType, tc.dtype)
				}
			}
			if err := m.ComputeError(); err == nil || !strings.Contains(err.Error(), "full-precision") {
				t.Errorf("ComputeError = %v", err)
			}
		})
	}
}

func TestOpenQuantizedDisagreements(t *testing.T) {
	// A skip list naming a layer the tensors hold quantized is a warning, as is a 4-bit file whose
	// config says 8-bit.
	qc := map[string]any{}
	for k, v := range bnb4Config {
		qc[k] = v
	}
	qc["llm_int8_skip_modules"] = []string{"lm_head", "o_proj"}
	qc["bnb_4bit_quant_type"] = "fp4"
	m, err := modelio.Open(writeQuantized(t, qc, quanttest.Layout{Method: "bnb4", QuantType: "nf4", Blocksize: 64}, nil))
	if err != nil {
		t.Fatal(err)
	}
	// A GPTQ config whose bits and group size the tensors contradict: the tensors win, with warnings.
	g, err := modelio.Open(writeQuantized(t, map[string]any{"quant_method": "gptq", "bits": 8, "group_size": 64},
		quanttest.Layout{Method: "gptq", Bits: 4, Group: 128}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if q := g.Facts().Quantization; q.Bits != 4 || q.GroupSize != 128 {
		t.Errorf("GPTQ read as %d-bit, groups of %d; the tensors are 4-bit, groups of 128", q.Bits, q.GroupSize)
	}
	all := strings.Join(append(m.Warnings, g.Warnings...), "\n")
	for _, want := range []string{
		`model.layers.0.self_attn.o_proj is stored quantized although quantization_config skips "o_proj"`,
		`bnb_4bit_quant_type "fp4" but the tensors are nf4`,
		"quantization_config.bits is 8 but the tensors are packed at 4 bits",
		"quantization_config.group_size is 64 but the tensors hold groups of 128",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}
}

// TestOpenQuantizedConv1D: GPT-2's Conv1D layers become Linear4bit, as transformers replaces them.
func TestOpenQuantizedConv1D(t *testing.T) {
	raw := galleryConfig(t, "openai-community__gpt2")
	ck := quanttest.Specs(buildRoot(t, raw), quanttest.Layout{Method: "bnb4", QuantType: "nf4", Blocksize: 64})
	raw["quantization_config"] = bnb4Config
	dir := t.TempDir()
	writeJSON(t, filepath.Join(dir, "config.json"), raw)
	ck.Write(t, filepath.Join(dir, "model.safetensors"))
	m, err := modelio.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Warnings) > 0 {
		t.Errorf("warnings %q", m.Warnings)
	}
	tree := arch.Repr(m.Spec.Root)
	for _, want := range []string{
		"(c_attn): Linear4bit(in_features=768, out_features=2304, bias=True)",
		"(c_fc): Linear4bit(in_features=768, out_features=3072, bias=True)",
		"(c_proj): Linear4bit(in_features=3072, out_features=768, bias=True)",
	} {
		if !strings.Contains(tree, want) {
			t.Errorf("tree lacks %s:\n%s", want, tree)
		}
	}
	if f := m.Facts(); f.Parameters.Total != 124439808 {
		t.Errorf("parameters %d, want GPT-2's 124439808", f.Parameters.Total)
	}
}

// TestOpenQuantizedGeneric: a quantized checkpoint of a family Layerscope does not know is grouped
// from its tensors at their real widths, with the quantized classes.
func TestOpenQuantizedGeneric(t *testing.T) {
	raw := galleryConfig(t, "meta-llama__Llama-3.1-8B")
	ck := quanttest.Specs(buildRoot(t, raw), quanttest.Layout{Method: "awq", Bits: 4, Group: 128})
	raw["model_type"], raw["architectures"], raw["quantization_config"] = "mystery", []string{"MysteryForCausalLM"}, awqConfig
	dir := t.TempDir()
	writeJSON(t, filepath.Join(dir, "config.json"), raw)
	ck.Write(t, filepath.Join(dir, "model.safetensors"))
	m, err := modelio.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Generic {
		t.Fatal("not generic")
	}
	tree := arch.Repr(m.Spec.Root)
	want := "WQLinear_GEMM(in_features=14336, out_features=4096, bias=False, w_bit=4, group_size=128)"
	if !strings.Contains(tree, want) || strings.Contains(tree, "qweight") {
		t.Errorf("tree lacks %s or shows packed tensors:\n%s", want, tree)
	}
	if f := m.Facts(); f.Parameters.Total != 8030261248 || f.Quantization == nil || f.Quantization.Method != "awq" {
		t.Errorf("parameters %d, quantization %+v", f.Parameters.Total, f.Quantization)
	}
}

// TestOpenQuantizedDense: a config that names a method whose tensors keep their shapes (fp8), or a
// bitsandbytes config over dense tensors, opens as stored; the latter with a warning.
func TestOpenQuantizedDense(t *testing.T) {
	for _, tc := range []struct {
		qc   map[string]any
		warn string
	}{
		{map[string]any{"quant_method": "fp8", "weight_block_size": []int{128, 128}}, ""},
		{bnb4Config, "quantization_config says bitsandbytes but no tensor is stored quantized"},
	} {
		raw := galleryConfig(t, "meta-llama__Llama-3.2-1B")
		raw["quantization_config"] = tc.qc
		dir := t.TempDir()
		writeJSON(t, filepath.Join(dir, "config.json"), raw)
		weightstest.WriteSparse(t, filepath.Join(dir, "model.safetensors"), expectedTensors(t, raw, "BF16"))
		m, err := modelio.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if m.Quant != nil || m.Facts().Quantization != nil || m.ComputeError() != nil {
			t.Errorf("%v: read as quantized: %+v", tc.qc["quant_method"], m.Quant)
		}
		if got := strings.Join(m.Warnings, "\n"); got != tc.warn {
			t.Errorf("%v: warnings %q, want %q", tc.qc["quant_method"], got, tc.warn)
		}
	}
}

func TestOpenQuantizedErrors(t *testing.T) {
	tests := []struct {
		name   string
		qc     map[string]any
		layout quanttest.Layout
		edit   func(*quanttest.Checkpoint)
		want   string
	}{
		{"unknown method", map[string]any{"quant_method": "hqq-ish", "bits": 4}, quanttest.Layout{Method: "gptq", Bits: 4, Group: 128}, nil,
			`quantization_config.quant_method "hqq-ish" is not one Layerscope reads`},
		{"pass-through method with packed tensors", map[string]any{"quant_method": "fp8"}, quanttest.Layout{Method: "awq", Bits: 4, Group: 128}, nil,
			`quantization_config.quant_method is "fp8", but the tensors are packed as GPTQ or AWQ`},
		{"packed without a method", nil, quanttest.Layout{Method: "gptq", Bits: 4, Group: 128}, nil,
			"no quantization_config.quant_method"},
		{"bnb4 packed size", bnb4Config, quanttest.Layout{Method: "bnb4", QuantType: "nf4", Blocksize: 64},
			func(c *quanttest.Checkpoint) { c.Replace("model.layers.3.mlp.up_proj.weight", 1000, 1) },
			"model.layers.3.mlp.up_proj.weight is U8 [1000 1]; a 4-bit [14336, 4096] weight packs into 29360128 U8 bytes"},
		{"bnb4 absmax", bnb4Config, quanttest.Layout{Method: "bnb4", QuantType: "nf4", Blocksize: 64},
			func(c *quanttest.Checkpoint) { c.Replace("model.layers.0.self_attn.q_proj.weight.absmax", 7) },
			"model.layers.0.self_attn.q_proj.weight.absmax has 7 elements"},
		{"bnb8 SCB", bnb8Config, quanttest.Layout{Method: "bnb8"},
			func(c *quanttest.Checkpoint) { c.Replace("model.layers.1.self_attn.k_proj.SCB", 4096) },
			"model.layers.1.self_attn.k_proj.SCB is [4096]"},
		{"gptq qweight rows", gptqConfig, quanttest.Layout{Method: "gptq", Bits: 4, Group: 128},
			func(c *quanttest.Checkpoint) { c.Replace("model.layers.0.mlp.down_proj.qweight", 1000, 4096) },
			"model.layers.0.mlp.down_proj.qweight is [1000 4096]; 14336 inputs at 4 bits pack into 1792 rows"},
		{"gptq layers packed differently", gptqConfig, quanttest.Layout{Method: "gptq", Bits: 4, Group: 128},
			func(c *quanttest.Checkpoint) { c.Replace("model.layers.5.self_attn.q_proj.qweight", 1024, 4096) },
			"model.layers.5.self_attn.q_proj.qweight is [1024 4096]; 4096 inputs at 4 bits pack into 512 rows"},
		{"awq qzeros", awqConfig, quanttest.Layout{Method: "awq", Bits: 4, Group: 128},
			func(c *quanttest.Checkpoint) { c.Replace("model.layers.2.self_attn.q_proj.qzeros", 32, 100) },
			"model.layers.2.self_attn.q_proj.qzeros is [32 100]; expected [32, 512]"},
		{"awq gemv", map[string]any{"quant_method": "awq", "bits": 4, "group_size": 128, "version": "gemv"}, quanttest.Layout{Method: "awq", Bits: 4, Group: 128}, nil,
			`quantization_config.version "gemv": Layerscope reads AWQ's GEMM packing only`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeQuantized(t, tc.qc, tc.layout, tc.edit)
			_, err := modelio.Open(dir)
			if err == nil {
				t.Fatal("opened")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") || !strings.Contains(msg, dir) {
				t.Errorf("error %q: want one line naming the folder's file and containing %q", msg, tc.want)
			}
		})
	}
}
