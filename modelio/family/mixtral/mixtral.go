// Package mixtral describes Mixtral (model_type "mixtral"): Mistral's attention with every MLP replaced
// by a sparse mixture of experts, where a router (gate) picks num_experts_per_tok of num_local_experts
// SwiGLU experts for each token.
package mixtral

import (
	"strconv"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/config"
	"github.com/layerscope/layerscope/modelio/family/hfconfig"
)

// Defaults of transformers 4.55's MixtralConfig (those of Mixtral-8x7B), used for absent keys.
const (
	defaultVocab        = 32000
	defaultHidden       = 4096
	defaultIntermediate = 14336
	defaultLayers       = 32
	defaultHeads        = 32
	defaultKVHeads      = 8
	defaultMaxPositions = 4096 * 32
	defaultEps          = 1e-5
	defaultTheta        = 1e6
	defaultExperts      = 8
	defaultTopK         = 2
)

// prefix starts every class name Mixtral prints: MixtralForCausalLM, MixtralRMSNorm, ...
const prefix = "Mixtral"

func init() {
	arch.Register("mixtral", family{})
}

type family struct{}

// Build returns the module tree of MixtralForCausalLM in transformers 4.55's registration order.
func (family) Build(cfg *config.Config) (*arch.Spec, error) {
	def := hfconfig.Attention{Hidden: defaultHidden, Heads: defaultHeads, KVHeads: defaultKVHeads}
	if cfg.Present("num_key_value_heads") {
		// MixtralConfig turns an explicit null into num_attention_heads; only an absent key gets 8.
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
		TiedEmbeddings: cfg.Bool("tie_word_embeddings", false),
		// Every Mixtral layer is sparse, and each expert is intermediate_size wide.
		Experts:         cfg.Int("num_local_experts", defaultExperts),
		ExpertsPerToken: cfg.Int("num_experts_per_tok", defaultTopK),
	}
	h.ExpertIntermediate = h.Intermediate
	h.MoELayers = h.Layers
	hfconfig.Positive(cfg, "intermediate_size", h.Intermediate)
	hfconfig.Positive(cfg, "vocab_size", h.Vocab)
	hfconfig.Positive(cfg, "num_local_experts", h.Experts)
	hfconfig.Positive(cfg, "num_experts_per_tok", h.ExpertsPerToken)
	if cfg.Err() == nil && h.ExpertsPerToken > h.Experts {
		// torch.topk would fail on the first forward pass; say so while reading.
		cfg.Errorf("num_experts_per_tok (%d) must not exceed num_local_experts (%d)", h.ExpertsPerToken, h.Experts)
	}
	hfconfig.Rope(cfg, &h, defaultTheta)
	eps := cfg.Float("rms_norm_eps", defaultEps)
	// MixtralAttention hands config.sliding_window to every layer alike; null means none.
	h.SlidingWindow = cfg.Int("sliding_window", 0)
	hfconfig.NonNegative(cfg, "sliding_window", h.SlidingWindow)
	pad := hfconfig.PadIndex(cfg, h.Vocab)
	act := hfconfig.Activation(cfg, "hidden_act", h.Activation)
	if err := cfg.Err(); err != nil {
		return nil, err
	}

	H, I, E := int64(h.Hidden), int64(h.Intermediate), int64(h.Experts)
	q, kv := int64(h.Heads*h.HeadDim), int64(h.KVHeads*h.HeadDim)
	norm := func(role arch.Role) *arch.Module { return arch.RMSNorm(prefix+"RMSNorm", H, eps, role) }
	layers := make([]*arch.Module, h.Layers)
	for i := range layers {
		attn := arch.Container(prefix+"Attention", arch.RoleAttention).
			Add("q_proj", arch.Linear(H, q, false, arch.RoleQ)).
			Add("k_proj", arch.Linear(H, kv, false, arch.RoleK)).
			Add("v_proj", arch.Linear(H, kv, false, arch.RoleV)).
			Add("o_proj", arch.Linear(q, H, false, arch.RoleO))
		experts := make([]*arch.Module, h.Experts)
		for e := range experts {
			// MixtralBlockSparseTop2MLP computes w2(act(w1(x)) * w3(x)): w1 is the gate, w3 the up
			// projection, w2 the down projection, registered in that w1, w2, w3 order.
			experts[e] = arch.Container(prefix+"BlockSparseTop2MLP", arch.RoleExpert).SetAttr(arch.AttrWidthKey, "intermediate_size").
				Add("w1", arch.Linear(H, I, false, arch.RoleGate)).
				Add("w2", arch.Linear(I, H, false, arch.RoleDown)).
				Add("w3", arch.Linear(H, I, false, arch.RoleUp)).
				Add("act_fn", arch.Activation(act.Class))
		}
		moe := arch.Container(prefix+"SparseMoeBlock", arch.RoleMoE).
			SetAttr(arch.AttrTopK, strconv.Itoa(h.ExpertsPerToken)).
			Add("gate", arch.Linear(H, E, false, arch.RoleRouter)).
			Add("experts", arch.List(arch.RoleExperts, experts...))
		// transformers 4.55 names the MoE block block_sparse_moe (v5 renamed it mlp).
		layer := arch.Container(prefix+"DecoderLayer", arch.RoleBlock).
			Add("self_attn", attn).
			Add("block_sparse_moe", moe).
			Add("input_layernorm", norm(arch.RoleNorm)).
			Add("post_attention_layernorm", norm(arch.RoleNorm))
		if h.SlidingWindow > 0 {
			layer.SetAttr(arch.AttrAttention, "sliding").SetAttr(arch.AttrWindow, strconv.Itoa(h.SlidingWindow))
		}
		layers[i] = layer
	}
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
	return &arch.Spec{Family: "mixtral", Root: root, BasePath: "model", Hyper: h}, nil
}
