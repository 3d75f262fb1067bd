// Package phi3 describes Phi-3 and Phi-4-mini (model_type "phi3"): the Llama block with q, k and v fused
// into one qkv_proj and gate and up fused into one gate_up_proj, a dropout on each residual branch, and
// partial RoPE (Phi-4-mini rotates 96 of 128 head dims) with LongRoPE scaling for long contexts.
package phi3

import (
	"strconv"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/config"
	"github.com/layerscope/layerscope/modelio/family/hfconfig"
)

// Defaults of transformers 4.55's Phi3Config, used for absent keys.
const (
	defaultVocab            = 32064
	defaultHidden           = 3072
	defaultIntermediate     = 8192
	defaultLayers           = 32
	defaultHeads            = 32
	defaultMaxPositions     = 4096
	defaultOrigMaxPositions = 4096
	defaultEps              = 1e-5
	defaultTheta            = 10000
	defaultPartialRotary    = 1.0
	// defaultPad is Phi3Config's pad_token_id when the key is absent (Phi-3's <|endoftext|>); an
	// explicit null means no padding_idx.
	defaultPad = 32000
)

// prefix starts every class name Phi3 prints: Phi3ForCausalLM, Phi3RMSNorm, ...
const prefix = "Phi3"

func init() {
	arch.Register("phi3", family{})
}

type family struct{}

// Build returns the module tree of Phi3ForCausalLM in transformers 4.55's registration order.
func (family) Build(cfg *config.Config) (*arch.Spec, error) {
	a := hfconfig.ReadAttention(cfg, defaultHidden, defaultHeads)
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
		TiedEmbeddings: cfg.Bool("tie_word_embeddings", false),
	}
	hfconfig.Positive(cfg, "intermediate_size", h.Intermediate)
	hfconfig.Positive(cfg, "vocab_size", h.Vocab)
	hfconfig.Positive(cfg, "max_position_embeddings", h.MaxPositions)
	if err := cfg.Err(); err != nil {
		return nil, err
	}
	h.RotaryFraction = partialRotary(cfg)
	hfconfig.Rope(cfg, &h, defaultTheta)
	longRope(cfg, &h)
	eps := cfg.Float("rms_norm_eps", defaultEps)
	resid := cfg.Float("resid_pdrop", 0)
	pad := padIndex(cfg, h.Vocab)
	act := hfconfig.Activation(cfg, "hidden_act", h.Activation)
	// Phi3Attention hands config.sliding_window to every layer alike.
	h.SlidingWindow = cfg.Int("sliding_window", 0)
	hfconfig.NonNegative(cfg, "sliding_window", h.SlidingWindow)
	if err := cfg.Err(); err != nil {
		return nil, err
	}
	var notes []string
	if h.SlidingWindow > 0 && h.SlidingWindow >= h.MaxPositions {
		notes = append(notes, "sliding_window ("+strconv.Itoa(h.SlidingWindow)+") is not below max_position_embeddings ("+
			strconv.Itoa(h.MaxPositions)+"), so every layer attends to the whole context")
	}
	if cfg.Has("auto_map") {
		notes = append(notes, "config.json's auto_map names remote code; this is transformers' own Phi3ForCausalLM, "+
			"which from_pretrained builds unless trust_remote_code=True")
	}

	H, I := int64(h.Hidden), int64(h.Intermediate)
	q, kv := int64(h.Heads*h.HeadDim), int64(h.KVHeads*h.HeadDim)
	norm := func(role arch.Role) *arch.Module { return arch.RMSNorm(prefix+"RMSNorm", H, eps, role) }
	layers := make([]*arch.Module, h.Layers)
	for i := range layers {
		// Phi3Attention assigns o_proj before qkv_proj, so o_proj prints first.
		attn := arch.Container(prefix+"Attention", arch.RoleAttention).
			Add("o_proj", arch.Linear(q, H, false, arch.RoleO)).
			Add("qkv_proj", arch.Linear(H, q+2*kv, false, arch.RoleQKV))
		mlp := arch.Container(prefix+"MLP", arch.RoleMLP).SetAttr(arch.AttrWidthKey, "intermediate_size").
			Add("gate_up_proj", arch.Linear(H, 2*I, false, arch.RoleGateUp)).
			Add("down_proj", arch.Linear(I, H, false, arch.RoleDown)).
			Add("activation_fn", arch.Activation(act.Class))
		layer := arch.Container(prefix+"DecoderLayer", arch.RoleBlock).
			Add("self_attn", attn).
			Add("mlp", mlp).
			Add("input_layernorm", norm(arch.RoleNorm)).
			Add("post_attention_layernorm", norm(arch.RoleNorm)).
			Add("resid_attn_dropout", arch.Dropout(resid)).
			Add("resid_mlp_dropout", arch.Dropout(resid))
		if h.SlidingWindow > 0 && h.SlidingWindow < h.MaxPositions { // a window past the context never slides
			layer.SetAttr(arch.AttrAttention, "sliding").SetAttr(arch.AttrWindow, strconv.Itoa(h.SlidingWindow))
		}
		layers[i] = layer
	}
	// Phi3Model (4.55) has no embed_dropout: embd_pdrop is read into the config and never used.
	model := arch.Container(prefix+"Model", arch.RoleModel).
		Add("embed_tokens", arch.Embedding("", int64(h.Vocab), H, pad, arch.RoleTokenEmbedding)).
		Add("layers", arch.List(arch.RoleBlocks, layers...)).
		Add("norm", norm(arch.RoleFinalNorm)).
		Add("rotary_emb", arch.Rotary(prefix+"RotaryEmbedding"))
	lmHead := arch.Linear(H, int64(h.Vocab), false, arch.RoleLMHead)
	lmHead.Tied = h.TiedEmbeddings
	root := arch.Container(prefix+"ForCausalLM", arch.RoleNone).
		Add("model", model).
		Add("lm_head", lmHead)
	return &arch.Spec{Family: "phi3", Root: root, BasePath: "model", Hyper: h, Notes: notes}, nil
}

// partialRotary reads partial_rotary_factor, the share of each head's dims that RoPE rotates (top level
// in transformers 4, inside rope_parameters in configs saved by transformers 5).
func partialRotary(cfg *config.Config) float64 {
	f := defaultPartialRotary
	if rp := hfconfig.RopeParameters(cfg, "full_attention"); rp != nil && !cfg.Has("partial_rotary_factor") {
		f = rp.Float("partial_rotary_factor", f)
	}
	f = cfg.Float("partial_rotary_factor", f)
	if !(f > 0 && f <= 1) {
		cfg.Errorf("partial_rotary_factor must be in (0, 1], got %v", f)
		return defaultPartialRotary
	}
	return f
}

// padIndex is hfconfig.PadIndex with Phi3Config's default of 32000 for an absent pad_token_id.
func padIndex(cfg *config.Config, vocab int) int64 {
	if cfg.Present("pad_token_id") {
		return hfconfig.PadIndex(cfg, vocab)
	}
	if defaultPad >= vocab {
		// nn.Embedding rejects a padding_idx outside the table, as transformers would here.
		cfg.Errorf("pad_token_id is absent, and Phi3Config's default (%d) must be below vocab_size (%d)", defaultPad, vocab)
		return -1
	}
	return defaultPad
}

// longRope checks rope_scaling as Phi3Config does and records LongRoPE in h. Phi3 knows only "longrope"
// (older configs say "su" or "yarn", which Phi3Config renames), and its short_factor and long_factor
// carry one rescale factor per rotated frequency: int(hidden_size / num_attention_heads ×
// partial_rotary_factor) / 2 of them. The effective factor is max_position_embeddings /
// original_max_position_embeddings, as transformers' longrope initialisation computes it.
func longRope(cfg *config.Config, h *arch.Hyper) {
	rs, where := cfg.Sub("rope_scaling"), "rope_scaling"
	if rs == nil {
		if rs, where = hfconfig.RopeParameters(cfg, "full_attention"), "rope_parameters"; rs == nil {
			return
		}
	}
	typeKey := "type"
	if !rs.Has(typeKey) {
		typeKey = "rope_type"
	}
	kind := rs.String(typeKey, "")
	switch {
	case kind == "longrope" || kind == "su" || kind == "yarn":
	case kind == "default" && where == "rope_parameters":
		return // transformers 5 writes rope_parameters without scaling as rope_type "default"
	default:
		cfg.Errorf("%s.%s must be \"longrope\", got %q", where, typeKey, kind)
		return
	}
	// Phi3Config checks against hidden_size / num_attention_heads, not head_dim.
	rotated := int(float64(h.Hidden/h.Heads) * h.RotaryFraction)
	for _, key := range []string{"short_factor", "long_factor"} {
		if !rs.Has(key) {
			cfg.Errorf("%s.%s is missing: longrope needs short_factor and long_factor", where, key)
			return
		}
		factors := rs.Floats(key)
		if factors == nil {
			return // a type error, recorded by Floats
		}
		if len(factors) != rotated/2 {
			cfg.Errorf("%s.%s has %d entries, want %d: int(hidden_size / num_attention_heads (%d) × partial_rotary_factor (%v)) / 2",
				where, key, len(factors), rotated/2, h.Hidden/h.Heads, h.RotaryFraction)
			return
		}
	}
	orig := rs.Int("original_max_position_embeddings", cfg.Int("original_max_position_embeddings", defaultOrigMaxPositions))
	hfconfig.Positive(cfg, "original_max_position_embeddings", orig)
	if cfg.Err() != nil {
		return
	}
	h.RopeScaling = "longrope"
	h.RopeFactor = float64(h.MaxPositions) / float64(orig)
}
