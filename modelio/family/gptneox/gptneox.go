// Package gptneox describes EleutherAI's GPT-NeoX (GPT-NeoX-20B and the Pythia suite): partial rotary
// embeddings, a fused query_key_value projection, LayerNorm, and by default the parallel residual
// (attention and MLP read the same input and add to the residual together).
package gptneox

import (
	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/config"
	"github.com/layerscope/layerscope/modelio/family/hfconfig"
)

// Defaults of transformers 4.55 GPTNeoXConfig (those of GPT-NeoX-20B), used for absent keys.
const (
	defaultVocab        = 50432
	defaultHidden       = 6144
	defaultLayers       = 44
	defaultHeads        = 64
	defaultIntermediate = 24576
	defaultAct          = "gelu"
	defaultRotaryPct    = 0.25
	defaultRotaryBase   = 10000
	defaultPositions    = 2048
	defaultEps          = 1e-5
	defaultDropout      = 0.0
)

func init() { arch.Register("gpt_neox", family{}) }

type family struct{}

// Build returns the module tree of GPTNeoXForCausalLM, in the registration order of transformers 4.55.
func (family) Build(cfg *config.Config) (*arch.Spec, error) {
	h := arch.Hyper{
		Layers:         cfg.Int("num_hidden_layers", defaultLayers),
		Hidden:         cfg.Int("hidden_size", defaultHidden),
		Heads:          cfg.Int("num_attention_heads", defaultHeads),
		Intermediate:   cfg.Int("intermediate_size", defaultIntermediate),
		Vocab:          cfg.Int("vocab_size", defaultVocab),
		MaxPositions:   cfg.Int("max_position_embeddings", defaultPositions),
		MLP:            arch.MLPClassic,
		Activation:     cfg.String("hidden_act", defaultAct),
		Norm:           arch.NormLayer,
		NormsPerBlock:  2,
		ParallelBlock:  cfg.Bool("use_parallel_residual", true),
		TiedEmbeddings: cfg.Bool("tie_word_embeddings", false),
		AttentionBias:  cfg.Bool("attention_bias", true),
		MLPBias:        true, // GPTNeoXMLP's Linears always have a bias
	}
	h.KVHeads = h.Heads
	hfconfig.Rope(cfg, &h, defaultRotaryBase)
	// GPTNeoXConfig sets rope_theta and partial_rotary_factor from rotary_emb_base and rotary_pct after
	// PretrainedConfig has stored the other keys, so the copies a later transformers saves alongside are
	// overridden. Set here, after Rope, so rotary_pct 0 stays 0.
	h.RopeTheta = cfg.Float("rotary_emb_base", defaultRotaryBase)
	h.RotaryFraction = cfg.Float("rotary_pct", defaultRotaryPct)
	eps := cfg.Float("layer_norm_eps", defaultEps)
	dropout := cfg.Float("hidden_dropout", defaultDropout)

	for _, c := range []struct {
		key string
		v   int
	}{
		{"num_hidden_layers", h.Layers}, {"hidden_size", h.Hidden}, {"num_attention_heads", h.Heads},
		{"intermediate_size", h.Intermediate}, {"vocab_size", h.Vocab}, {"max_position_embeddings", h.MaxPositions},
	} {
		hfconfig.Positive(cfg, c.key, c.v)
	}
	if h.RotaryFraction < 0 || h.RotaryFraction > 1 {
		cfg.Errorf("rotary_pct must be between 0 and 1, got %v", h.RotaryFraction)
	}
	if cfg.Err() == nil {
		// GPTNeoXConfig raises on this ("The hidden size is not divisible by the number of attention heads").
		if h.Hidden%h.Heads != 0 {
			cfg.Errorf("hidden_size (%d) must be divisible by num_attention_heads (%d)", h.Hidden, h.Heads)
		}
		h.HeadDim = h.Hidden / h.Heads
	}
	act := hfconfig.Activation(cfg, "hidden_act", h.Activation)
	if err := cfg.Err(); err != nil {
		return nil, err
	}

	H, I := int64(h.Hidden), int64(h.Intermediate)
	layers := make([]*arch.Module, h.Layers)
	for i := range layers {
		attn := arch.Container("GPTNeoXAttention", arch.RoleAttention).
			Add("query_key_value", arch.Linear(H, 3*H, h.AttentionBias, arch.RoleQKV)).
			Add("dense", arch.Linear(H, H, h.AttentionBias, arch.RoleO))
		mlp := arch.Container("GPTNeoXMLP", arch.RoleMLP).SetAttr(arch.AttrWidthKey, "intermediate_size").
			Add("dense_h_to_4h", arch.Linear(H, I, true, arch.RoleUp)).
			Add("dense_4h_to_h", arch.Linear(I, H, true, arch.RoleDown)).
			Add("act", act)
		// GPTNeoXLayer registers its norms and dropouts before attention and mlp.
		layers[i] = arch.Container("GPTNeoXLayer", arch.RoleBlock).
			Add("input_layernorm", arch.LayerNorm(H, eps, arch.RoleNorm)).
			Add("post_attention_layernorm", arch.LayerNorm(H, eps, arch.RoleNorm)).
			Add("post_attention_dropout", arch.Dropout(dropout)).
			Add("post_mlp_dropout", arch.Dropout(dropout)).
			Add("attention", attn).
			Add("mlp", mlp)
	}
	model := arch.Container("GPTNeoXModel", arch.RoleModel).
		Add("embed_in", arch.Embedding("", int64(h.Vocab), H, -1, arch.RoleTokenEmbedding)).
		Add("emb_dropout", arch.Dropout(dropout)).
		Add("layers", arch.List(arch.RoleBlocks, layers...)).
		Add("final_layer_norm", arch.LayerNorm(H, eps, arch.RoleFinalNorm)).
		Add("rotary_emb", arch.Rotary("GPTNeoXRotaryEmbedding"))
	embedOut := arch.Linear(H, int64(h.Vocab), false, arch.RoleLMHead)
	embedOut.Tied = h.TiedEmbeddings
	root := arch.Container("GPTNeoXForCausalLM", arch.RoleNone).
		Add("gpt_neox", model).
		Add("embed_out", embedOut)
	return &arch.Spec{Family: "gpt_neox", Root: root, BasePath: "gpt_neox", Hyper: h}, nil
}
