package modelio_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/gguf/gguftest"
	"github.com/layerscope/layerscope/modelio/weights/weightstest"
)

// ggufNames is the test's own table of llama.cpp's tensor names (gguf-py's tensor_mapping.py), from
// Hugging Face to GGUF, so the reader's table is checked against an independent one.
var ggufNames = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`^(model\.embed_tokens|transformer\.wte)\.`), "token_embd."},
	{regexp.MustCompile(`^transformer\.wpe\.`), "position_embd."},
	{regexp.MustCompile(`^(model\.norm|transformer\.ln_f)\.`), "output_norm."},
	{regexp.MustCompile(`^lm_head\.`), "output."},
	{regexp.MustCompile(`^(?:model\.layers|transformer\.h)\.(\d+)\.(.*)$`), "blk.$1.$2"},
}

var ggufBlockNames = map[string]string{
	"input_layernorm": "attn_norm", "ln_1": "attn_norm",
	"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
	"self_attn.o_proj": "attn_output", "self_attn.qkv_proj": "attn_qkv", "attn.c_attn": "attn_qkv",
	"attn.c_proj": "attn_output", "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm",
	"post_attention_layernorm": "ffn_norm", "ln_2": "ffn_norm",
	"pre_feedforward_layernorm": "ffn_norm", "post_feedforward_layernorm": "post_ffw_norm",
	"mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
	"mlp.gate_up_proj": "ffn_up", "mlp.c_fc": "ffn_up", "mlp.c_proj": "ffn_down",
}

// toGGUF converts a Hugging Face tensor as convert_hf_to_gguf.py would: its name, its dimensions
// (fastest first) and a type as a Q4_K_M quantization picks them (Q4_K where rows allow, Q8_0, F16;
// norms stay F32).
func toGGUF(t *testing.T, family, name string, shape []int64) gguftest.Tensor {
	t.Helper()
	g := name
	for _, m := range ggufNames {
		if m.re.MatchString(g) {
			g = m.re.ReplaceAllString(g, m.repl)
			break
		}
	}
	if rest, ok := strings.CutPrefix(g, "blk."); ok {
		idx, part, _ := strings.Cut(rest, ".")
		stem, suffix := part[:strings.LastIndexByte(part, '.')], part[strings.LastIndexByte(part, '.'):]
		short, ok := ggufBlockNames[stem]
		if family == "gemma3_text" && stem == "post_attention_layernorm" {
			short = "post_attention_norm"
		}
		if !ok {
			t.Fatalf("no GGUF name for %s", name)
		}
		g = "blk." + idx + "." + short + suffix
	}
	dims := make([]uint64, len(shape))
	for i, d := range shape {
		dims[len(shape)-1-i] = uint64(d)
	}
	// GPT-2's Conv1D weights are transposed on conversion: [in, out] becomes torch [out, in].
	if family == "gpt2" && len(shape) == 2 && strings.Contains(name, "transformer.h.") {
		dims = []uint64{uint64(shape[0]), uint64(shape[1])}
	}
	typ := uint32(gguftest.TF32)
	if len(dims) == 2 {
		switch {
		case dims[0]%256 == 0:
			typ = gguftest.TQ4_K
		case dims[0]%32 == 0:
			typ = gguftest.TQ8_0
		default:
			typ = gguftest.TF16
		}
	}
	return gguftest.Tensor{Name: g, Type: typ, Dims: dims}
}

// ggufMetadata writes the keys convert_hf_to_gguf.py writes for the config.
func ggufMetadata(a string, cfg map[string]any, extra ...gguftest.KV) []gguftest.KV {
	u := func(k string) uint32 { return uint32(cfg[k].(float64)) }
	kvs := []gguftest.KV{
		{Key: "general.architecture", Value: a},
		{Key: "general.name", Value: "Test " + a},
		{Key: "general.file_type", Value: uint32(15)}, // MOSTLY_Q4_K_M
	}
	add := func(k string, v any) { kvs = append(kvs, gguftest.KV{Key: a + "." + k, Value: v}) }
	if a == "gpt2" {
		add("context_length", u("n_positions"))
		add("embedding_length", u("n_embd"))
		add("feed_forward_length", 4*u("n_embd"))
		add("block_count", u("n_layer"))
		add("attention.head_count", u("n_head"))
		add("attention.layer_norm_epsilon", float32(cfg["layer_norm_epsilon"].(float64)))
		vocab := make([]string, int(u("vocab_size")))
		for i := range vocab {
			vocab[i] = fmt.Sprint(i)
		}
		kvs = append(kvs, gguftest.KV{Key: "tokenizer.ggml.tokens", Value: vocab})
		return append(kvs, extra...)
	}
	add("context_length", u("max_position_embeddings"))
	add("embedding_length", u("hidden_size"))
	add("feed_forward_length", u("intermediate_size"))
	add("block_count", u("num_hidden_layers"))
	add("attention.head_count", u("num_attention_heads"))
	add("attention.head_count_kv", u("num_key_value_heads"))
	add("attention.layer_norm_rms_epsilon", float32(cfg["rms_norm_eps"].(float64)))
	add("rope.freq_base", float32(cfg["rope_theta"].(float64)))
	if _, ok := cfg["head_dim"]; ok {
		add("attention.key_length", u("head_dim"))
		add("attention.value_length", u("head_dim"))
	}
	if v, ok := cfg["pad_token_id"].(float64); ok {
		kvs = append(kvs, gguftest.KV{Key: "tokenizer.ggml.padding_token_id", Value: uint32(v)})
	}
	return append(kvs, extra...)
}

// comparable strips from facts what differs by storage alone.
func comparable(t *testing.T, m *modelio.Model) string {
	t.Helper()
	f := m.Facts()
	f.Name, f.Memory.Stored, f.Quantization, f.Warnings = "", nil, nil, nil
	data, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestGGUFMatchesSafetensors writes each mapped family as safetensors and as GGUF from the same
// config, and checks that both open to the same module tree, facts and stack.
func TestGGUFMatchesSafetensors(t *testing.T) {
	tests := []struct {
		gallery, arch string
		drop          []string // config keys the GGUF form cannot carry (see each family's gguf.go)
		extra         []gguftest.KV
		ignored       []gguftest.Tensor // tensors llama.cpp adds that have no Hugging Face counterpart
		outputCopy    bool              // GPT-2: lm_head written as a copy of wte
	}{
		{gallery: "meta-llama__Llama-3.2-1B", arch: "llama", drop: []string{"rope_scaling"},
			ignored: []gguftest.Tensor{{Name: "rope_freqs.weight", Type: gguftest.TF32, Dims: []uint64{32}}}},
		{gallery: "Qwen__Qwen2.5-0.5B", arch: "qwen2"},
		{gallery: "Qwen__Qwen3-0.6B", arch: "qwen3"},
		{gallery: "google__gemma-3-270m", arch: "gemma3",
			extra: []gguftest.KV{{Key: "gemma3.attention.sliding_window", Value: uint32(512)}}},
		{gallery: "microsoft__Phi-4-mini-instruct", arch: "phi3", drop: []string{"rope_scaling"},
			extra: []gguftest.KV{{Key: "phi3.rope.dimension_count", Value: uint32(96)},
				{Key: "phi3.attention.sliding_window", Value: uint32(262144)},
				{Key: "phi3.rope.scaling.original_context_length", Value: uint32(4096)}},
			ignored: []gguftest.Tensor{{Name: "rope_factors_long.weight", Type: gguftest.TF32, Dims: []uint64{48}},
				{Name: "rope_factors_short.weight", Type: gguftest.TF32, Dims: []uint64{48}}}},
		{gallery: "openai-community__gpt2", arch: "gpt2", outputCopy: true},
	}
	for _, tc := range tests {
		t.Run(tc.arch, func(t *testing.T) {
			cfg := galleryConfig(t, tc.gallery)
			for _, k := range tc.drop {
				delete(cfg, k)
			}
			stDir, ggDir := t.TempDir(), t.TempDir()
			writeJSON(t, filepath.Join(stDir, "config.json"), cfg)
			specs := expectedTensors(t, cfg, "BF16")
			weightstest.WriteSparse(t, filepath.Join(stDir, "model.safetensors"), specs)
			st, err := modelio.Open(stDir)
			if err != nil {
				t.Fatal(err)
			}

			family := cfg["model_type"].(string)
			var tensors []gguftest.Tensor
			for _, s := range specs {
				tensors = append(tensors, toGGUF(t, family, s.Name, s.Shape))
				if tc.outputCopy && s.Name == "transformer.wte.weight" {
					out := toGGUF(t, family, s.Name, s.Shape)
					out.Name = "output.weight"
					tensors = append(tensors, out)
				}
			}
			tensors = append(tensors, tc.ignored...)
			path := filepath.Join(ggDir, "model-Q4_K_M.gguf")
			gguftest.Write(t, path, ggufMetadata(tc.arch, cfg, tc.extra...), tensors)

			for _, open := range []string{path, ggDir} {
				gg, err := modelio.Open(open)
				if err != nil {
					t.Fatal(err)
				}
				if len(gg.Warnings) > 0 {
					t.Errorf("GGUF warnings: %q", gg.Warnings)
				}
				if a, b := arch.Repr(st.Spec.Root), arch.Repr(gg.Spec.Root); a != b {
					t.Errorf("trees differ:\nsafetensors:\n%s\nGGUF:\n%s", a, b)
				}
				if a, b := comparable(t, st), comparable(t, gg); a != b {
					t.Errorf("facts differ:\nsafetensors:\n%s\nGGUF:\n%s", a, b)
				}
				if !reflect.DeepEqual(blockShapes(st.Arch), blockShapes(gg.Arch)) {
					t.Errorf("stacks differ")
				}
				q := gg.Facts().Quantization
				if q == nil || q.Method != "gguf" || q.Format != "Q4_K_M" || q.BitsPerWeight < 4 || q.BitsPerWeight > 17 {
					t.Errorf("quantization %+v", q)
				}
				types := map[string]bool{}
				for _, p := range gg.Arch.Blocks[0].Parts {
					types[p.DType] = true
				}
				if !types["F32"] || !(types["Q4_K"] || types["Q8_0"]) {
					t.Errorf("block 0's GGUF types %v: want F32 norms and Q4_K/Q8_0 projections", types)
				}
				if err := gg.ComputeError(); err == nil || !strings.Contains(err.Error(), "does not compute with GGUF weights") {
					t.Errorf("ComputeError = %v", err)
				}
				if gg.Name != "Test "+tc.arch {
					t.Errorf("name %q", gg.Name)
				}
			}
		})
	}
}

func blockShapes(a *arch.Architecture) []string {
	var out []string
	for _, b := range a.Blocks {
		s := b.Class
		for _, p := range b.Parts {
			s += fmt.Sprintf(" %s:%dx%d", p.Name, p.In, p.Out)
		}
		out = append(out, s+" "+b.Attention)
	}
	return out
}
