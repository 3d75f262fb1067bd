package llama

import "github.com/layerscope/layerscope/modelio/ggufarch"

// The GGUF forms of Llama and Qwen2 (convert_hf_to_gguf.py's LlamaModel and Qwen2Model). llama.cpp
// permutes q/k rows for its RoPE layout, which keeps their shapes. Llama 3's rope scaling is baked into
// a rope_freqs tensor without its factor, so the description shows plain RoPE.
func init() {
	for _, v := range []struct{ arch, modelType, class string }{
		{"llama", "llama", "LlamaForCausalLM"},
		{"qwen2", "qwen2", "Qwen2ForCausalLM"},
	} {
		ggufarch.Register(ggufarch.Mapping{
			Arch: v.arch, ModelType: v.modelType, Class: v.class,
			Config: func(md ggufarch.Metadata, info ggufarch.Info) map[string]any {
				cfg := ggufarch.Common(md, info, v.arch)
				cfg["hidden_act"] = "silu"
				delete(cfg, "sliding_window") // neither family's GGUF form carries one that applies
				return cfg
			},
			Names: ggufarch.Names{
				Top: ggufarch.LlamaTop(), BlockPrefix: "model.layers.", Block: ggufarch.LlamaBlock(),
				Ignore: map[string]bool{"rope_freqs": true},
			},
		})
	}
}
