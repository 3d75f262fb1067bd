// Package ggufarch holds what each family knows about its GGUF form: which llama.cpp architecture name
// it goes by, which config.json keys its metadata stands for, and which Hugging Face tensor each GGUF
// tensor is. Families register a Mapping from their own package (modelio/family/<f>/gguf.go); the
// reader in modelio/gguf uses it to describe a GGUF file with the family's own module tree, so the
// stack, facts and tree equal those of the safetensors original.
//
// The names follow llama.cpp's gguf-py (gguf/constants.py MODEL_TENSOR names, gguf/tensor_mapping.py)
// and convert_hf_to_gguf.py, which writes them; the package imports no GGUF parser, so a family
// depends only on these tables.
package ggufarch

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Metadata is a GGUF file's key-value metadata. Numbers come as float64 (float32 values already
// rounded to their shortest decimal, so 1e-05 stays 1e-05) or int64; arrays as []any with their
// length, or with Items nil when the reader skipped a large one.
type Metadata map[string]any

// Array is a metadata array.
type Array struct {
	Len   uint64
	Items []any // nil when skipped (token lists)
}

// Int returns an integer value.
func (md Metadata) Int(key string) (int64, bool) {
	switch v := md[key].(type) {
	case int64:
		return v, true
	case float64:
		if v == float64(int64(v)) {
			return int64(v), true
		}
	}
	return 0, false
}

// Float returns a number.
func (md Metadata) Float(key string) (float64, bool) {
	switch v := md[key].(type) {
	case int64:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}

// String returns a string value.
func (md Metadata) String(key string) (string, bool) {
	s, ok := md[key].(string)
	return s, ok
}

// Info is what a mapping's Config needs from the tensors.
type Info struct {
	Vocab int64 // rows of token_embd
	// Has reports whether the file holds a GGUF tensor ("output.weight").
	Has func(name string) bool
}

// Mapping is one family's GGUF form.
type Mapping struct {
	Arch      string // general.architecture: "llama"
	ModelType string // config.json model_type: "llama"
	Class     string // architectures[0]: "LlamaForCausalLM"
	// Config returns the config.json keys the metadata stands for (model_type and architectures are
	// added by the reader).
	Config func(md Metadata, info Info) map[string]any
	Names  Names
}

// Names maps GGUF tensor names to Hugging Face ones.
type Names struct {
	Top         map[string]string // "token_embd" → "model.embed_tokens"
	BlockPrefix string            // "model.layers."
	Block       map[string]string // "attn_q" → "self_attn.q_proj"
	// Transposed are GGUF names stored [out, in] where the Hugging Face tensor is [in, out]
	// (GPT-2's Conv1D, which convert_hf_to_gguf.py transposes).
	Transposed map[string]bool
	// Ignore are GGUF tensors with no Hugging Face tensor (rope_freqs: llama3 scaling baked in).
	Ignore map[string]bool
}

// Map returns the Hugging Face name and shape of a GGUF tensor: GGUF lists dimensions fastest first
// (ne[0] is a row's length), so a matrix [out, in] in PyTorch is [in, out] in GGUF.
func (n Names) Map(name string, dims []uint64) (hf string, shape []int64, ignore, ok bool) {
	stem, suffix := name, ""
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		stem, suffix = name[:i], name[i:]
	}
	var base string
	if rest, found := strings.CutPrefix(stem, "blk."); found {
		idx, part, _ := strings.Cut(rest, ".")
		if _, err := strconv.Atoi(idx); err != nil {
			return "", nil, false, false
		}
		if n.Ignore[part] {
			return "", nil, true, false
		}
		m, found := n.Block[part]
		if !found {
			return "", nil, false, false
		}
		hf, base = n.BlockPrefix+idx+"."+m+suffix, part
	} else {
		if n.Ignore[stem] {
			return "", nil, true, false
		}
		m, found := n.Top[stem]
		if !found {
			return "", nil, false, false
		}
		hf, base = m+suffix, stem
	}
	shape = make([]int64, len(dims))
	for i, d := range dims {
		if d > 1<<62 {
			return "", nil, false, false
		}
		if n.Transposed[base] {
			shape[i] = int64(d)
		} else {
			shape[len(dims)-1-i] = int64(d)
		}
	}
	return hf, shape, false, true
}

var registry = map[string]Mapping{}

// Register makes a family's GGUF form known under its llama.cpp architecture name. A duplicate
// name panics at start.
func Register(m Mapping) {
	if _, dup := registry[m.Arch]; dup {
		panic(fmt.Sprintf("ggufarch: architecture %q registered twice", m.Arch))
	}
	registry[m.Arch] = m
}

// Lookup returns the mapping of a llama.cpp architecture name.
func Lookup(arch string) (Mapping, bool) {
	m, ok := registry[arch]
	return m, ok
}

// Archs lists the registered architecture names, sorted.
func Archs() []string {
	out := make([]string, 0, len(registry))
	for k := range registry {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Common returns the config.json keys that llama.cpp's decoder-only architectures share
// (convert_hf_to_gguf.py's TextModel.set_gguf_parameters, read back): sizes, heads, eps, RoPE base,
// context, vocabulary, tied embeddings and the padding token.
func Common(md Metadata, info Info, arch string) map[string]any {
	cfg := map[string]any{"vocab_size": info.Vocab}
	set := func(hfKey, ggufKey string) {
		if v, ok := md[arch+"."+ggufKey]; ok {
			if _, isArr := v.(Array); !isArr {
				cfg[hfKey] = v
			}
		}
	}
	set("hidden_size", "embedding_length")
	set("num_hidden_layers", "block_count")
	set("intermediate_size", "feed_forward_length")
	set("num_attention_heads", "attention.head_count")
	set("num_key_value_heads", "attention.head_count_kv")
	set("max_position_embeddings", "context_length")
	set("rms_norm_eps", "attention.layer_norm_rms_epsilon")
	set("rope_theta", "rope.freq_base")
	set("sliding_window", "attention.sliding_window")
	if hd, ok := md.Int(arch + ".attention.key_length"); ok {
		cfg["head_dim"] = hd
	}
	if pad, ok := md.Int("tokenizer.ggml.padding_token_id"); ok {
		cfg["pad_token_id"] = pad
	}
	cfg["tie_word_embeddings"] = !info.Has("output.weight")
	return cfg
}

// LlamaBlock are the per-block names of the Llama layout, which Qwen2 and Qwen3 share
// (MODEL_TENSOR.ATTN_Q ... FFN_DOWN in gguf-py).
func LlamaBlock() map[string]string {
	return map[string]string{
		"attn_norm":   "input_layernorm",
		"attn_q":      "self_attn.q_proj",
		"attn_k":      "self_attn.k_proj",
		"attn_v":      "self_attn.v_proj",
		"attn_output": "self_attn.o_proj",
		"ffn_norm":    "post_attention_layernorm",
		"ffn_gate":    "mlp.gate_proj",
		"ffn_up":      "mlp.up_proj",
		"ffn_down":    "mlp.down_proj",
	}
}

// LlamaTop are the names outside the blocks in the Llama layout.
func LlamaTop() map[string]string {
	return map[string]string{"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}
}
