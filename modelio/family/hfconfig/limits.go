package hfconfig

import (
	"math"
	"sort"
	"strconv"

	"github.com/layerscope/layerscope/modelio/config"
)

// Limits on the sizes a config.json may state, checked by CheckSizes before any family builds a
// module tree from them: a config.json from a stranger with num_hidden_layers 1e9 would otherwise
// allocate gigabytes of modules. Each limit is several times the largest real model's value, so no
// real model is refused.
const (
	// MaxLayers: the deepest real decoders have 96-126 blocks (GPT-3 175B, Llama 3.1 405B).
	MaxLayers = 1024
	// MaxHidden: the widest real models have hidden sizes of 16,384-25,600.
	MaxHidden = 1 << 17
	// MaxIntermediate: the widest real MLPs are 53,248-73,728 (Llama 3.1 405B, PaLM 540B).
	MaxIntermediate = 1 << 20
	// MaxVocab: the largest real vocabularies are 256,000-262,144 (Gemma 3).
	MaxVocab = 1 << 22
	// MaxHeads bounds attention and key-value head counts and head_dim (real: at most 128 and 256).
	MaxHeads = 1 << 14
	// MaxPositions bounds the context length (real: up to 10,485,760, Llama 4 Scout).
	MaxPositions = 1 << 27
	// MaxExperts bounds the experts of a MoE layer (real: at most 384, Kimi K2).
	MaxExperts = 1 << 13
	// MaxExpertLayers bounds layers × experts, the modules a MoE tree holds (real: at most 61 × 384).
	MaxExpertLayers = 1 << 16
)

// sizeLimits maps every config.json key a family reads a size from to its limit.
var sizeLimits = map[string]int64{
	"num_hidden_layers": MaxLayers, "n_layer": MaxLayers, "num_layers": MaxLayers, "n_layers": MaxLayers,
	"hidden_size": MaxHidden, "n_embd": MaxHidden, "d_model": MaxHidden, "word_embed_proj_dim": MaxHidden,
	"intermediate_size": MaxIntermediate, "n_inner": MaxIntermediate, "ffn_dim": MaxIntermediate,
	"moe_intermediate_size": MaxIntermediate, "shared_expert_intermediate_size": MaxIntermediate,
	"vocab_size":          MaxVocab,
	"num_attention_heads": MaxHeads, "n_head": MaxHeads, "num_heads": MaxHeads, "n_heads": MaxHeads,
	"num_key_value_heads": MaxHeads, "num_kv_heads": MaxHeads, "n_kv_heads": MaxHeads, "n_head_kv": MaxHeads,
	"head_dim":                MaxHeads,
	"max_position_embeddings": MaxPositions, "n_positions": MaxPositions, "original_max_position_embeddings": MaxPositions,
	"sliding_window":    MaxPositions,
	"num_local_experts": MaxExperts, "num_experts": MaxExperts, "n_routed_experts": MaxExperts,
	"num_experts_per_tok": MaxExperts, "num_experts_per_token": MaxExperts, "moe_top_k": MaxExperts,
}

// CheckSizes records an error in cfg for the first size over its limit (in key order, so the error
// does not depend on map order), at the top level and in a nested text_config, and for a layer
// count × expert count over MaxExpertLayers. It reads the raw numbers, so that 1e9 or 2^40 written as
// a float is caught too. modelio.Open runs it before any family's Build, so no family needs to.
func CheckSizes(cfg *config.Config) {
	for _, c := range []*config.Config{cfg, cfg.Sub("text_config")} {
		if c == nil {
			continue
		}
		keys := make([]string, 0, len(sizeLimits))
		for k := range sizeLimits {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		layers, experts := int64(0), int64(0)
		for _, k := range keys {
			v, ok := number(c.Raw(k))
			if !ok {
				continue
			}
			if limit := sizeLimits[k]; v > float64(limit) {
				c.Errorf("%s is %s, beyond any real model (Layerscope reads at most %d)", k, format(v), limit)
				return
			}
			switch sizeLimits[k] {
			case MaxLayers:
				layers = max(layers, int64(v))
			case MaxExperts:
				if k != "num_experts_per_tok" && k != "num_experts_per_token" && k != "moe_top_k" {
					experts = max(experts, int64(v))
				}
			}
		}
		if layers*experts > MaxExpertLayers {
			c.Errorf("%d layers of %d experts each are beyond any real model (Layerscope reads at most %d experts in all)",
				layers, experts, MaxExpertLayers)
			return
		}
	}
}

// number returns a JSON number's value; false for anything else.
func number(v any) (float64, bool) {
	n, ok := v.(interface{ Float64() (float64, error) })
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	if err != nil && !math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// format writes a size as config.json would: 1000000000, or 1.1e+12 when huge.
func format(v float64) string {
	if v < 1e15 && v == math.Trunc(v) {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}
