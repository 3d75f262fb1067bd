// Package gemma3 describes the text decoder of Gemma 3 (model_type "gemma3_text", Gemma3ForCausalLM):
// embeddings scaled by sqrt(hidden), four RMSNorms around attention and MLP ("sandwich"), q/k norms,
// and sliding-window layers among full-attention ones, each kind with its own RoPE base. The
// multimodal model_type "gemma3" (a text_config inside) is another class and is not described here.
package gemma3

import (
	"math"
	"strconv"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/config"
	"github.com/layerscope/layerscope/modelio/family/hfconfig"
)

// Defaults of transformers 4.55's Gemma3TextConfig, used for absent keys. head_dim and
// num_key_value_heads have defaults of their own, not hidden/heads and heads.
const (
	defaultVocab              = 262208
	defaultHidden             = 2304
	defaultIntermediate       = 9216
	defaultLayers             = 26
	defaultHeads              = 8
	defaultKVHeads            = 4
	defaultHeadDim            = 256
	defaultActivation         = "gelu_pytorch_tanh"
	defaultMaxPositions       = 131072
	defaultEps                = 1e-6
	defaultPad                = 0
	defaultTheta              = 1e6 // full-attention layers
	defaultLocalTheta         = 1e4 // sliding layers: rope_local_base_freq
	defaultQueryPreAttnScalar = 256
	defaultSlidingWindow      = 4096
	// defaultSlidingPattern: without layer_types, every 6th layer is full attention, the rest slide.
	defaultSlidingPattern = 6
)

// prefix starts every class name Gemma 3 prints: Gemma3ForCausalLM, Gemma3RMSNorm, ...
const prefix = "Gemma3"

func init() {
	arch.Register("gemma3_text", family{})
}

type family struct{}

// Build returns the module tree of Gemma3ForCausalLM in transformers 4.55's registration order.
func (family) Build(cfg *config.Config) (*arch.Spec, error) {
	a := hfconfig.ReadAttentionDefaults(cfg, hfconfig.Attention{
		Hidden: defaultHidden, Heads: defaultHeads, KVHeads: defaultKVHeads, HeadDim: defaultHeadDim})
	h := arch.Hyper{
		Layers:             hfconfig.Layers(cfg, "num_hidden_layers", defaultLayers),
		Hidden:             a.Hidden,
		Heads:              a.Heads,
		KVHeads:            a.KVHeads,
		HeadDim:            a.HeadDim,
		Intermediate:       cfg.Int("intermediate_size", defaultIntermediate),
		Vocab:              cfg.Int("vocab_size", defaultVocab),
		MaxPositions:       cfg.Int("max_position_embeddings", defaultMaxPositions),
		MLP:                arch.MLPGLU,
		Activation:         cfg.String("hidden_activation", defaultActivation),
		Norm:               arch.NormRMS,
		NormsPerBlock:      4,
		QKNorm:             true,
		TiedEmbeddings:     cfg.Bool("tie_word_embeddings", true),
		AttentionBias:      cfg.Bool("attention_bias", false),
		EmbeddingScale:     math.Sqrt(float64(a.Hidden)),
		QueryPreAttnScalar: cfg.Float("query_pre_attn_scalar", defaultQueryPreAttnScalar),
		AttnLogitSoftcap:   cfg.Float("attn_logit_softcapping", 0),
		FinalLogitSoftcap:  cfg.Float("final_logit_softcapping", 0),
	}
	hfconfig.Positive(cfg, "intermediate_size", h.Intermediate)
	hfconfig.Positive(cfg, "vocab_size", h.Vocab)
	// rope_theta and rope_scaling are the full-attention layers'; the sliding ones use
	// rope_local_base_freq without scaling (transformers 5: rope_parameters.sliding_attention).
	hfconfig.Rope(cfg, &h, defaultTheta)
	h.RopeLocalTheta = hfconfig.RopeTheta(cfg, "rope_local_base_freq",
		hfconfig.RopeParameters(cfg, "sliding_attention"), defaultLocalTheta)
	eps := cfg.Float("rms_norm_eps", defaultEps)
	// pad_token_id defaults to 0; an explicit null means no padding_idx.
	pad := int64(defaultPad)
	if cfg.Present("pad_token_id") {
		pad = hfconfig.PadIndex(cfg, h.Vocab)
	}
	// sliding_window defaults to 4096; an explicit null leaves the sliding layers without a window.
	if cfg.Has("sliding_window") || !cfg.Present("sliding_window") {
		h.SlidingWindow = cfg.Int("sliding_window", defaultSlidingWindow)
		hfconfig.NonNegative(cfg, "sliding_window", h.SlidingWindow)
	}
	act := hfconfig.Activation(cfg, "hidden_activation", h.Activation)
	if err := cfg.Err(); err != nil {
		return nil, err
	}
	var notes []string
	h.LayerTypes, notes = layerTypes(cfg, h.Layers)
	if err := cfg.Err(); err != nil {
		return nil, err
	}
	if cfg.Bool("use_bidirectional_attention", false) {
		notes = append(notes, "use_bidirectional_attention is true: attention sees the whole sequence, not only the past (an embedding model)")
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
			Add("post_attention_layernorm", norm(H, arch.RoleNorm)).
			Add("pre_feedforward_layernorm", norm(H, arch.RoleNorm)).
			Add("post_feedforward_layernorm", norm(H, arch.RoleNorm))
		// Gemma3Attention keeps sliding_window only on sliding layers; without a window they attend fully.
		if h.LayerTypes[i] == "sliding_attention" && h.SlidingWindow > 0 {
			layer.SetAttr(arch.AttrAttention, "sliding").SetAttr(arch.AttrWindow, strconv.Itoa(h.SlidingWindow))
		} else {
			layer.SetAttr(arch.AttrAttention, "full")
		}
		layers[i] = layer
	}
	model := arch.Container(prefix+"TextModel", arch.RoleModel).
		Add("embed_tokens", arch.Embedding(prefix+"TextScaledWordEmbedding", int64(h.Vocab), H, pad, arch.RoleTokenEmbedding)).
		Add("layers", arch.List(arch.RoleBlocks, layers...)).
		Add("norm", norm(H, arch.RoleFinalNorm)).
		// v4.50-v4.57 build a second rotary module for the sliding layers (rope_local_base_freq);
		// transformers 5 folds both into rotary_emb.
		Add("rotary_emb", arch.Rotary(prefix+"RotaryEmbedding")).
		Add("rotary_emb_local", arch.Rotary(prefix+"RotaryEmbedding"))
	lmHead := arch.Linear(H, int64(h.Vocab), false, arch.RoleLMHead)
	lmHead.Tied = h.TiedEmbeddings
	root := arch.Container(prefix+"ForCausalLM", arch.RoleNone).
		Add("model", model).
		Add("lm_head", lmHead)
	return &arch.Spec{Family: "gemma3_text", Root: root, BasePath: "model", Hyper: h, Notes: notes}, nil
}

// layerTypes returns layer_types, or builds it as Gemma3TextConfig does when it is absent: layer i is
// full attention iff (i+1) % sliding_window_pattern == 0. transformers 4.55 reads the pattern from the
// sliding_window_pattern key only (kwargs.get("sliding_window_pattern", 6)); the
// "_sliding_window_pattern" it writes back is ignored on load, and so it is here, with a note where the
// two disagree.
func layerTypes(cfg *config.Config, layers int) ([]string, []string) {
	if types := cfg.Strings("layer_types"); types != nil {
		hfconfig.CheckLayerTypes(cfg, types, layers)
		return types, nil
	}
	pattern := cfg.Int("sliding_window_pattern", defaultSlidingPattern)
	hfconfig.Positive(cfg, "sliding_window_pattern", pattern)
	var notes []string
	if saved := cfg.Int("_sliding_window_pattern", pattern); saved != pattern {
		notes = append(notes, "_sliding_window_pattern ("+strconv.Itoa(saved)+") is ignored by transformers: "+
			"without layer_types every "+ordinal(pattern)+" layer is full attention (sliding_window_pattern)")
	}
	types := make([]string, layers)
	for i := range types {
		types[i] = "sliding_attention"
		if pattern > 0 && (i+1)%pattern == 0 {
			types[i] = "full_attention"
		}
	}
	return types, notes
}

// ordinal spells n as "6th", "2nd", "1st".
func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return strconv.Itoa(n) + suffix
}
