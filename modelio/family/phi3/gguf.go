package phi3

import "github.com/layerscope/layerscope/modelio/ggufarch"

// Phi-3's GGUF form (convert_hf_to_gguf.py's Phi3MiniModel): q, k and v stay fused in attn_qkv and gate
// and up in ffn_up, as in the Hugging Face checkpoint. Partial RoPE comes from rope.dimension_count.
// LongRoPE's factor lists are stored as rope_factors_long/short tensors, whose values are not read,
// so the description shows plain RoPE.
func init() {
	ggufarch.Register(ggufarch.Mapping{
		Arch: "phi3", ModelType: "phi3", Class: "Phi3ForCausalLM",
		Config: func(md ggufarch.Metadata, info ggufarch.Info) map[string]any {
			cfg := ggufarch.Common(md, info, "phi3")
			cfg["hidden_act"] = "silu"
			hidden, _ := md.Int("phi3.embedding_length")
			heads, _ := md.Int("phi3.attention.head_count")
			if rot, ok := md.Int("phi3.rope.dimension_count"); ok && heads > 0 && hidden/heads > 0 && rot != hidden/heads {
				cfg["partial_rotary_factor"] = float64(rot) / float64(hidden/heads)
			}
			if orig, ok := md.Int("phi3.rope.scaling.original_context_length"); ok {
				cfg["original_max_position_embeddings"] = orig
			}
			return cfg
		},
		Names: ggufarch.Names{
			Top:         ggufarch.LlamaTop(),
			BlockPrefix: "model.layers.",
			Block: map[string]string{
				"attn_norm":   "input_layernorm",
				"attn_qkv":    "self_attn.qkv_proj",
				"attn_output": "self_attn.o_proj",
				"ffn_norm":    "post_attention_layernorm",
				"ffn_up":      "mlp.gate_up_proj",
				"ffn_down":    "mlp.down_proj",
			},
			Ignore: map[string]bool{"rope_factors_long": true, "rope_factors_short": true},
		},
	})
}
