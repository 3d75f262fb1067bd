// Package phi describes Phi-1, Phi-1.5 and Phi-2 (model_type "phi", transformers' native PhiForCausalLM,
// not the older "phi-msft" remote code): one LayerNorm per block feeding attention and a classic GELU
// MLP in parallel, biases everywhere (the LM head too), partial RoPE, and optional LayerNorms over each
// head of q and k.
package phi

import (
	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/config"
	"github.com/layerscope/layerscope/modelio/family/hfconfig"
)

// Defaults of transformers 4.55's PhiConfig (those of microsoft/phi-1), used for absent keys.
const (
	defaultVocab         = 51200
	defaultHidden        = 2048
	defaultIntermediate  = 8192
	defaultLayers        = 24
	defaultHeads         = 32
	defaultMaxPositions  = 2048
	defaultEps           = 1e-5
	defaultTheta         = 10000
	defaultPartialRotary = 0.5
)

// prefix starts every class name Phi prints: PhiForCausalLM, PhiDecoderLayer, ...
const prefix = "Phi"

func init() {
	arch.Register("phi", family{})
}

type family struct{}

// Build returns the module tree of PhiForCausalLM in transformers 4.55's registration order.
func (family) Build(cfg *config.Config) (*arch.Spec, error) {
	a := hfconfig.ReadAttention(cfg, defaultHidden, defaultHeads)
	h := arch.Hyper{
		Layers:       hfconfig.Layers(cfg, "num_hidden_layers", defaultLayers),
		Hidden:       a.Hidden,
		Heads:        a.Heads,
		KVHeads:      a.KVHeads,
		HeadDim:      a.HeadDim,
		Intermediate: cfg.Int("intermediate_size", defaultIntermediate),
		Vocab:        cfg.Int("vocab_size", defaultVocab),
		MaxPositions: cfg.Int("max_position_embeddings", defaultMaxPositions),
		MLP:          arch.MLPClassic,
		Activation:   cfg.String("hidden_act", "gelu_new"),
		Norm:         arch.NormLayer,
		// One input_layernorm feeds both branches; the q/k LayerNorms are counted by QKNorm.
		NormsPerBlock:  1,
		QKNorm:         cfg.Bool("qk_layernorm", false),
		ParallelBlock:  true,
		TiedEmbeddings: cfg.Bool("tie_word_embeddings", false),
		// q/k/v, dense, fc1, fc2 and lm_head are nn.Linear with their default bias=True.
		AttentionBias: true,
		MLPBias:       true,
	}
	hfconfig.Positive(cfg, "intermediate_size", h.Intermediate)
	hfconfig.Positive(cfg, "vocab_size", h.Vocab)
	h.RotaryFraction = cfg.Float("partial_rotary_factor", defaultPartialRotary)
	if f := h.RotaryFraction; !(f > 0 && f <= 1) {
		cfg.Errorf("partial_rotary_factor must be in (0, 1], got %v", f)
	}
	hfconfig.Rope(cfg, &h, defaultTheta)
	eps := cfg.Float("layer_norm_eps", defaultEps)
	embdDrop := cfg.Float("embd_pdrop", 0)
	residDrop := cfg.Float("resid_pdrop", 0)
	pad := hfconfig.PadIndex(cfg, h.Vocab)
	act := hfconfig.Activation(cfg, "hidden_act", h.Activation)
	if err := cfg.Err(); err != nil {
		return nil, err
	}

	H, I := int64(h.Hidden), int64(h.Intermediate)
	q, kv := int64(h.Heads*h.HeadDim), int64(h.KVHeads*h.HeadDim)
	// PhiAttention sizes the q/k LayerNorms by hidden_size / num_attention_heads, not head_dim.
	qkDim := int64(h.Hidden / h.Heads)
	layers := make([]*arch.Module, h.Layers)
	for i := range layers {
		attn := arch.Container(prefix+"Attention", arch.RoleAttention).
			Add("q_proj", arch.Linear(H, q, true, arch.RoleQ)).
			Add("k_proj", arch.Linear(H, kv, true, arch.RoleK)).
			Add("v_proj", arch.Linear(H, kv, true, arch.RoleV)).
			Add("dense", arch.Linear(q, H, true, arch.RoleO))
		if h.QKNorm {
			attn.Add("q_layernorm", arch.LayerNorm(qkDim, eps, arch.RoleNorm)).
				Add("k_layernorm", arch.LayerNorm(qkDim, eps, arch.RoleNorm))
		}
		// PhiMLP assigns its activation before fc1 and fc2, so it prints first.
		mlp := arch.Container(prefix+"MLP", arch.RoleMLP).SetAttr(arch.AttrWidthKey, "intermediate_size").
			Add("activation_fn", arch.Activation(act.Class)).
			Add("fc1", arch.Linear(H, I, true, arch.RoleUp)).
			Add("fc2", arch.Linear(I, H, true, arch.RoleDown))
		layers[i] = arch.Container(prefix+"DecoderLayer", arch.RoleBlock).
			Add("self_attn", attn).
			Add("mlp", mlp).
			Add("input_layernorm", arch.LayerNorm(H, eps, arch.RoleNorm)).
			Add("resid_dropout", arch.Dropout(residDrop))
	}
	// PhiModel registers rotary_emb and embed_dropout after the layers, and its final norm last.
	model := arch.Container(prefix+"Model", arch.RoleModel).
		Add("embed_tokens", arch.Embedding("", int64(h.Vocab), H, pad, arch.RoleTokenEmbedding)).
		Add("layers", arch.List(arch.RoleBlocks, layers...)).
		Add("rotary_emb", arch.Rotary(prefix+"RotaryEmbedding")).
		Add("embed_dropout", arch.Dropout(embdDrop)).
		Add("final_layernorm", arch.LayerNorm(H, eps, arch.RoleFinalNorm))
	lmHead := arch.Linear(H, int64(h.Vocab), true, arch.RoleLMHead)
	var notes []string
	if h.TiedEmbeddings {
		// A tied Linear owns no parameter here, so the head's own bias goes uncounted.
		lmHead.Tied = true
		notes = append(notes, "tie_word_embeddings: lm_head shares embed_tokens' weight but keeps a bias of its own, "+
			"which the parameter count leaves out")
	}
	root := arch.Container(prefix+"ForCausalLM", arch.RoleNone).
		Add("model", model).
		Add("lm_head", lmHead)
	return &arch.Spec{Family: "phi", Root: root, BasePath: "model", Hyper: h, Notes: notes}, nil
}
