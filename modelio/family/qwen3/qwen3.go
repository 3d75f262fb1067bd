// Package qwen3 describes Qwen3 (model_type "qwen3"): the Llama block without biases, with an RMSNorm
// over each head of q and of k (q_norm, k_norm) before RoPE, and an optional sliding window on the
// layers from max_window_layers on.
package qwen3

import (
	"strconv"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/config"
	"github.com/layerscope/layerscope/modelio/family/hfconfig"
)

// Defaults of transformers 4.55's Qwen3Config, used for absent keys. head_dim and num_key_value_heads
// have defaults of their own (128 and 32), not hidden/heads and heads.
const (
	defaultVocab           = 151936
	defaultHidden          = 4096
	defaultIntermediate    = 22016
	defaultLayers          = 32
	defaultHeads           = 32
	defaultKVHeads         = 32
	defaultHeadDim         = 128
	defaultMaxPositions    = 32768
	defaultEps             = 1e-6
	defaultTheta           = 10000
	defaultSlidingWindow   = 4096
	defaultMaxWindowLayers = 28
)

// prefix starts every class name Qwen3 prints: Qwen3ForCausalLM, Qwen3RMSNorm, ...
const prefix = "Qwen3"

func init() {
	arch.Register("qwen3", family{})
}

type family struct{}

// Build returns the module tree of Qwen3ForCausalLM in transformers 4.55's registration order.
func (family) Build(cfg *config.Config) (*arch.Spec, error) {
	def := hfconfig.Attention{Hidden: defaultHidden, Heads: defaultHeads, KVHeads: defaultKVHeads, HeadDim: defaultHeadDim}
	if cfg.Present("num_key_value_heads") {
		// Qwen3Config turns an explicit null into num_attention_heads; only an absent key gets 32.
		def.KVHeads = 0
	}
	a := hfconfig.ReadAttentionDefaults(cfg, def)
	h := arch.Hyper{
		Layers:         hfconfig.Layers(cfg, "num_hidden_layers", defaultLayers),
		Hidden:         a.Hidden,
		Heads:          a.Heads,
		KVHeads:        a.KVHeads,
		HeadDim:        a.HeadDim,
		Intermediate:   cfg.Int("intermediate_size", defaultIntermediate),
		Vocab:          cfg.Int("vocab_size", defaultVocab),
		MaxPositions:   cfg.Int("max_position_embeddings", defaultMaxPositions),
		MLP:            arch.MLPGLU,
		Activation:     cfg.String("hidden_act", "silu"),
		Norm:           arch.NormRMS,
		NormsPerBlock:  2,
		QKNorm:         true,
		TiedEmbeddings: cfg.Bool("tie_word_embeddings", false),
		AttentionBias:  cfg.Bool("attention_bias", false),
	}
	hfconfig.Positive(cfg, "intermediate_size", h.Intermediate)
	hfconfig.Positive(cfg, "vocab_size", h.Vocab)
	hfconfig.Rope(cfg, &h, defaultTheta)
	eps := cfg.Float("rms_norm_eps", defaultEps)
	pad := hfconfig.PadIndex(cfg, h.Vocab)
	act := hfconfig.Activation(cfg, "hidden_act", h.Activation)
	if err := cfg.Err(); err != nil {
		return nil, err
	}
	window, layerTypes := slidingLayers(cfg, h.Layers)
	if err := cfg.Err(); err != nil {
		return nil, err
	}
	// A layer slides only where layer_types says so and a window is set (Qwen3Attention keeps
	// sliding_window None otherwise), so an inert layer_types list marks nothing.
	sliding := make([]bool, h.Layers)
	mixed := false
	for i := range sliding {
		sliding[i] = window > 0 && layerTypes[i] == "sliding_attention"
		mixed = mixed || sliding[i]
	}
	if mixed {
		h.SlidingWindow = window
		h.LayerTypes = layerTypes
	}

	H, q, kv, I := int64(h.Hidden), int64(h.Heads*h.HeadDim), int64(h.KVHeads*h.HeadDim), int64(h.Intermediate)
	hd := int64(h.HeadDim)
	norm := func(dim int64, role arch.Role) *arch.Module { return arch.RMSNorm(prefix+"RMSNorm", dim, eps, role) }
	layers := make([]*arch.Module, h.Layers)
	for i := range layers {
		attn := arch.Container(prefix+"Attention", arch.RoleAttention).
			Add("q_proj", arch.Linear(H, q, h.AttentionBias, arch.RoleQ)).
			Add("k_proj", arch.Linear(H, kv, h.AttentionBias, arch.RoleK)).
			Add("v_proj", arch.Linear(H, kv, h.AttentionBias, arch.RoleV)).
			Add("o_proj", arch.Linear(q, H, h.AttentionBias, arch.RoleO)).
			Add("q_norm", norm(hd, arch.RoleNorm)).
			Add("k_norm", norm(hd, arch.RoleNorm))
		mlp := arch.Container(prefix+"MLP", arch.RoleMLP).SetAttr(arch.AttrWidthKey, "intermediate_size").
			Add("gate_proj", arch.Linear(H, I, false, arch.RoleGate)).
			Add("up_proj", arch.Linear(H, I, false, arch.RoleUp)).
			Add("down_proj", arch.Linear(I, H, false, arch.RoleDown)).
			Add("act_fn", act)
		layer := arch.Container(prefix+"DecoderLayer", arch.RoleBlock).
			Add("self_attn", attn).
			Add("mlp", mlp).
			Add("input_layernorm", norm(H, arch.RoleNorm)).
			Add("post_attention_layernorm", norm(H, arch.RoleNorm))
		switch {
		case sliding[i]:
			layer.SetAttr(arch.AttrAttention, "sliding").SetAttr(arch.AttrWindow, strconv.Itoa(window))
		case mixed:
			layer.SetAttr(arch.AttrAttention, "full")
		}
		layers[i] = layer
	}
	model := arch.Container(prefix+"Model", arch.RoleModel).
		Add("embed_tokens", arch.Embedding("", int64(h.Vocab), H, pad, arch.RoleTokenEmbedding)).
		Add("layers", arch.List(arch.RoleBlocks, layers...)).
		Add("norm", norm(H, arch.RoleFinalNorm)).
		Add("rotary_emb", arch.Rotary(prefix+"RotaryEmbedding"))
	lmHead := arch.Linear(H, int64(h.Vocab), false, arch.RoleLMHead)
	lmHead.Tied = h.TiedEmbeddings
	root := arch.Container(prefix+"ForCausalLM", arch.RoleNone).
		Add("model", model).
		Add("lm_head", lmHead)
	return &arch.Spec{Family: "qwen3", Root: root, BasePath: "model", Hyper: h}, nil
}

// slidingLayers returns the sliding window (0 when off) and the type of every layer, as Qwen3Config
// settles them: sliding_window is forced to None unless use_sliding_window, and a missing layer_types
// slides the layers from max_window_layers on when a window is set. A layer_types of the wrong length
// is recorded in cfg and returned as is.
func slidingLayers(cfg *config.Config, layers int) (int, []string) {
	window := 0
	if cfg.Bool("use_sliding_window", false) && (cfg.Has("sliding_window") || !cfg.Present("sliding_window")) {
		window = cfg.Int("sliding_window", defaultSlidingWindow)
		hfconfig.NonNegative(cfg, "sliding_window", window)
	}
	types := cfg.Strings("layer_types")
	if types != nil {
		hfconfig.CheckLayerTypes(cfg, types, layers)
		return window, types
	}
	mwl := cfg.Int("max_window_layers", defaultMaxWindowLayers)
	types = make([]string, layers)
	for i := range types {
		types[i] = "full_attention"
		if window > 0 && i >= mwl {
			types[i] = "sliding_attention"
		}
	}
	return window, types
}
