package gemma3

import "github.com/layerscope/layerscope/modelio/ggufarch"

// Gemma 3's GGUF form (convert_hf_to_gguf.py's Gemma3Model). llama.cpp stores the norms' weights plus
// one (Gemma's RMSNorm scales by 1 + w), which keeps their shapes. What the metadata does not carry is
// what llama.cpp itself assumes: full attention every 6th layer, a local RoPE base of 10000, and the
// attention scale 1/sqrt(head_dim) except in the 62-layer 27B model, where it is 1/sqrt(hidden/heads).
func init() {
	block := ggufarch.LlamaBlock()
	block["attn_q_norm"] = "self_attn.q_norm"
	block["attn_k_norm"] = "self_attn.k_norm"
	block["post_attention_norm"] = "post_attention_layernorm"
	block["ffn_norm"] = "pre_feedforward_layernorm"
	block["post_ffw_norm"] = "post_feedforward_layernorm"
	ggufarch.Register(ggufarch.Mapping{
		Arch: "gemma3", ModelType: "gemma3_text", Class: "Gemma3ForCausalLM",
		Config: func(md ggufarch.Metadata, info ggufarch.Info) map[string]any {
			cfg := ggufarch.Common(md, info, "gemma3")
			if hd, ok := md.Int("gemma3.attention.key_length"); ok {
				cfg["query_pre_attn_scalar"] = hd
			}
			layers, _ := md.Int("gemma3.block_count")
			hidden, _ := md.Int("gemma3.embedding_length")
			heads, _ := md.Int("gemma3.attention.head_count")
			if layers == 62 && heads > 0 {
				cfg["query_pre_attn_scalar"] = hidden / heads
			}
			if t, ok := md.String("gemma3.rope.scaling.type"); ok && t != "none" {
				f, _ := md.Float("gemma3.rope.scaling.factor")
				cfg["rope_scaling"] = map[string]any{"rope_type": t, "factor": f}
			}
			if p, ok := md.Int("gemma3.attention.sliding_window_pattern"); ok {
				cfg["sliding_window_pattern"] = p
			}
			return cfg
		},
		Names: ggufarch.Names{Top: ggufarch.LlamaTop(), BlockPrefix: "model.layers.", Block: block},
	})
}
