// Package llama describes the Llama decoder and the families that share its block unchanged but for
// names and biases: Mistral and Qwen2 (q/k/v with bias). SmolLM2 and TinyLlama are llama configs.
package llama

import (
	"strconv"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/config"
	"github.com/layerscope/layerscope/modelio/family/hfconfig"
)

// Variant is one model_type built on the Llama block.
type Variant struct {
	ModelType string
	Prefix    string // class-name prefix: "Llama" gives LlamaForCausalLM, LlamaRMSNorm, ...
	// QKVBias: q/k/v always carry a bias and o_proj none, whatever attention_bias says (Qwen2).
	QKVBias bool
	// HasConfigBias: attention_bias and mlp_bias are read from config.json (Llama); Mistral has neither.
	HasConfigBias bool
	// Sliding: how sliding_window applies. "all": every layer (Mistral); "qwen2": only when
	// use_sliding_window, to layers from max_window_layers on.
	Sliding string
	// Defaults of the transformers config class, used for absent keys.
	DefaultHidden, DefaultHeads, DefaultLayers, DefaultIntermediate, DefaultVocab int
	DefaultEps, DefaultTheta                                                      float64
}

func init() {
	arch.Register("llama", Variant{ModelType: "llama", Prefix: "Llama", HasConfigBias: true,
		DefaultHidden: 4096, DefaultHeads: 32, DefaultLayers: 32, DefaultIntermediate: 11008, DefaultVocab: 32000,
		DefaultEps: 1e-6, DefaultTheta: 10000})
	arch.Register("mistral", Variant{ModelType: "mistral", Prefix: "Mistral", Sliding: "all",
		DefaultHidden: 4096, DefaultHeads: 32, DefaultLayers: 32, DefaultIntermediate: 14336, DefaultVocab: 32000,
		DefaultEps: 1e-6, DefaultTheta: 10000})
	arch.Register("qwen2", Variant{ModelType: "qwen2", Prefix: "Qwen2", QKVBias: true, Sliding: "qwen2",
		DefaultHidden: 4096, DefaultHeads: 32, DefaultLayers: 32, DefaultIntermediate: 22016, DefaultVocab: 151936,
		DefaultEps: 1e-6, DefaultTheta: 10000})
}

// Build returns the module tree of <Prefix>ForCausalLM, in the registration order of transformers 4.55.
func (v Variant) Build(cfg *config.Config) (*arch.Spec, error) {
	a := hfconfig.ReadAttention(cfg, v.DefaultHidden, v.DefaultHeads)
	h := arch.Hyper{
		Layers:         hfconfig.Layers(cfg, "num_hidden_layers", v.DefaultLayers),
		Hidden:         a.Hidden,
		Heads:          a.Heads,
		KVHeads:        a.KVHeads,
		HeadDim:        a.HeadDim,
		Intermediate:   cfg.Int("intermediate_size", v.DefaultIntermediate),
		Vocab:          cfg.Int("vocab_size", v.DefaultVocab),
		MaxPositions:   cfg.Int("max_position_embeddings", 2048),
		MLP:            arch.MLPGLU,
		Activation:     cfg.String("hidden_act", "silu"),
		Norm:           arch.NormRMS,
		NormsPerBlock:  2,
		TiedEmbeddings: cfg.Bool("tie_word_embeddings", false),
	}
	hfconfig.Positive(cfg, "intermediate_size", h.Intermediate)
	hfconfig.Positive(cfg, "vocab_size", h.Vocab)
	hfconfig.Rope(cfg, &h, v.DefaultTheta)
	eps := cfg.Float("rms_norm_eps", v.DefaultEps)

	qkvBias, oBias := v.QKVBias, false
	if v.HasConfigBias {
		qkvBias = cfg.Bool("attention_bias", false)
		oBias = qkvBias
		h.MLPBias = cfg.Bool("mlp_bias", false)
	}
	h.AttentionBias = qkvBias || oBias

	var layerTypes []string
	switch v.Sliding {
	case "all":
		h.SlidingWindow = cfg.Int("sliding_window", 0)
	case "qwen2":
		if cfg.Bool("use_sliding_window", false) && cfg.Int("sliding_window", 0) > 0 {
			h.SlidingWindow = cfg.Int("sliding_window", 0)
			mwl := cfg.Int("max_window_layers", h.Layers)
			for i := 0; i < h.Layers; i++ {
				t := "full_attention"
				if i >= mwl {
					t = "sliding_attention"
				}
				layerTypes = append(layerTypes, t)
			}
			h.LayerTypes = layerTypes
		}
	}
	pad := hfconfig.PadIndex(cfg, h.Vocab)
	act := hfconfig.Activation(cfg, "hidden_act", h.Activation)
	if err := cfg.Err(); err != nil {
		return nil, err
	}

	H, q, kv, I := int64(h.Hidden), int64(h.Heads*h.HeadDim), int64(h.KVHeads*h.HeadDim), int64(h.Intermediate)
	layers := make([]*arch.Module, h.Layers)
	for i := range layers {
		attn := arch.Container(v.Prefix+"Attention", arch.RoleAttention).
			Add("q_proj", arch.Linear(H, q, qkvBias, arch.RoleQ)).
			Add("k_proj", arch.Linear(H, kv, qkvBias, arch.RoleK)).
			Add("v_proj", arch.Linear(H, kv, qkvBias, arch.RoleV)).
			Add("o_proj", arch.Linear(q, H, oBias, arch.RoleO))
		mlp := arch.Container(v.Prefix+"MLP", arch.RoleMLP).SetAttr(arch.AttrWidthKey, "intermediate_size").
			Add("gate_proj", arch.Linear(H, I, h.MLPBias, arch.RoleGate)).
			Add("up_proj", arch.Linear(H, I, h.MLPBias, arch.RoleUp)).
			Add("down_proj", arch.Linear(I, H, h.MLPBias, arch.RoleDown)).
			Add("act_fn", act)
		layer := arch.Container(v.Prefix+"DecoderLayer", arch.RoleBlock).
			Add("self_attn", attn).
			Add("mlp", mlp).
			Add("input_layernorm", arch.RMSNorm(v.Prefix+"RMSNorm", H, eps, arch.RoleNorm)).
			Add("post_attention_layernorm", arch.RMSNorm(v.Prefix+"RMSNorm", H, eps, arch.RoleNorm))
		switch {
		case layerTypes != nil && layerTypes[i] == "sliding_attention", v.Sliding == "all" && h.SlidingWindow > 0:
			layer.SetAttr(arch.AttrAttention, "sliding").SetAttr(arch.AttrWindow, strconv.Itoa(h.SlidingWindow))
		}
		layers[i] = layer
	}
	model := arch.Container(v.Prefix+"Model", arch.RoleModel).
		Add("embed_tokens", arch.Embedding("", int64(h.Vocab), H, pad, arch.RoleTokenEmbedding)).
		Add("layers", arch.List(arch.RoleBlocks, layers...)).
		Add("norm", arch.RMSNorm(v.Prefix+"RMSNorm", H, eps, arch.RoleFinalNorm)).
		Add("rotary_emb", arch.Rotary(v.Prefix+"RotaryEmbedding"))
	lmHead := arch.Linear(H, int64(h.Vocab), false, arch.RoleLMHead)
	lmHead.Tied = h.TiedEmbeddings
	root := arch.Container(v.Prefix+"ForCausalLM", arch.RoleNone).
		Add("model", model).
		Add("lm_head", lmHead)
	return &arch.Spec{Family: v.ModelType, Root: root, BasePath: "model", Hyper: h}, nil
}
