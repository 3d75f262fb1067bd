package gpt2

import "github.com/layerscope/layerscope/modelio/ggufarch"

// GPT-2's GGUF form (convert_hf_to_gguf.py's GPT2Model): the Conv1D weights are transposed to [out, in]
// on conversion, and lm_head is written as a copy of wte, which transformers ties; the copy is not a
// tensor of GPT2LMHeadModel and is left out.
func init() {
	ggufarch.Register(ggufarch.Mapping{
		Arch: "gpt2", ModelType: "gpt2", Class: "GPT2LMHeadModel",
		Config: func(md ggufarch.Metadata, info ggufarch.Info) map[string]any {
			cfg := map[string]any{"vocab_size": info.Vocab}
			for hf, key := range map[string]string{
				"n_embd": "gpt2.embedding_length", "n_layer": "gpt2.block_count", "n_head": "gpt2.attention.head_count",
				"n_positions": "gpt2.context_length", "n_inner": "gpt2.feed_forward_length",
				"layer_norm_epsilon": "gpt2.attention.layer_norm_epsilon",
			} {
				if v, ok := md[key]; ok {
					cfg[hf] = v
				}
			}
			return cfg
		},
		Names: ggufarch.Names{
			Top: map[string]string{"token_embd": "transformer.wte", "position_embd": "transformer.wpe",
				"output_norm": "transformer.ln_f"},
			BlockPrefix: "transformer.h.",
			Block: map[string]string{
				"attn_norm": "ln_1", "attn_qkv": "attn.c_attn", "attn_output": "attn.c_proj",
				"ffn_norm": "ln_2", "ffn_up": "mlp.c_fc", "ffn_down": "mlp.c_proj",
			},
			Transposed: map[string]bool{"attn_qkv": true, "attn_output": true, "ffn_up": true, "ffn_down": true},
			Ignore:     map[string]bool{"output": true},
		},
	})
}
