package qwen3

import "github.com/layerscope/layerscope/modelio/ggufarch"

// Qwen3's GGUF form (convert_hf_to_gguf.py's Qwen3Model): the Llama layout plus per-head q/k norms.
func init() {
	block := ggufarch.LlamaBlock()
	block["attn_q_norm"] = "self_attn.q_norm"
	block["attn_k_norm"] = "self_attn.k_norm"
	ggufarch.Register(ggufarch.Mapping{
		Arch: "qwen3", ModelType: "qwen3", Class: "Qwen3ForCausalLM",
		Config: func(md ggufarch.Metadata, info ggufarch.Info) map[string]any {
			cfg := ggufarch.Common(md, info, "qwen3")
			cfg["hidden_act"] = "silu"
			delete(cfg, "sliding_window")
			return cfg
		},
		Names: ggufarch.Names{Top: ggufarch.LlamaTop(), BlockPrefix: "model.layers.", Block: block},
	})
}
