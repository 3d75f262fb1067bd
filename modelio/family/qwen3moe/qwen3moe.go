// Package qwen3moe describes Qwen3-MoE (model_type "qwen3_moe"): the Qwen3 block (q_norm and k_norm over
// each head) whose MLP is, on most layers, a sparse mixture of many narrow SwiGLU experts, of which a
// router (gate) picks num_experts_per_tok per token. Layers named in mlp_only_layers, or off the
// decoder_sparse_step, keep a dense MLP of intermediate_size.
package qwen3moe

import (
	"strconv"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/config"
	"github.com/layerscope/layerscope/modelio/family/hfconfig"
)

// Defaults of transformers 4.55's Qwen3MoeConfig, used for absent keys. Unlike Qwen3Config it has no
// head_dim default (hidden/heads applies) and defaults num_key_value_heads to 4.
const (
	defaultVocab           = 151936
	defaultHidden          = 2048
	defaultIntermediate    = 6144
	defaultLayers          = 24
	defaultHeads           = 32
	defaultKVHeads         = 4
	defaultMaxPositions    = 32768
	defaultEps             = 1e-6
	defaultTheta           = 10000
	defaultSlidingWindow   = 4096
	defaultSparseStep      = 1
	defaultExpertWidth     = 768
	defaultExperts         = 128
	defaultExpertsPerToken = 8
)

// prefix starts every class name Qwen3-MoE prints: Qwen3MoeForCausalLM, Qwen3MoeRMSNorm, ...
const prefix = "Qwen3Moe"

func init() {
	arch.Register("qwen3_moe", family{})
}

type family struct{}

// Build returns the module tree of Qwen3MoeForCausalLM in transformers 4.55's registration order.
func (family) Build(cfg *config.Config) (*arch.Spec, error) {
	def := hfconfig.Attention{Hidden: defaultHidden, Heads: defaultHeads, KVHeads: defaultKVHeads}
	if cfg.Present("num_key_value_heads") {
		// Qwen3MoeConfig turns an explicit null into num_attention_heads; only an absent key gets 4.
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
	experts := cfg.Int("num_experts", defaultExperts)
	topK := cfg.Int("num_experts_per_tok", defaultExpertsPerToken)
	expertWidth := cfg.Int("moe_intermediate_size", defaultExpertWidth)
	step := cfg.Int("decoder_sparse_step", defaultSparseStep)
	mlpOnly := cfg.Ints("mlp_only_layers")
	hfconfig.NonNegative(cfg, "num_experts", experts)
	if experts > 0 {
		hfconfig.Positive(cfg, "num_experts_per_tok", topK)
		hfconfig.Positive(cfg, "moe_intermediate_size", expertWidth)
		// Qwen3MoeDecoderLayer takes (layer_idx + 1) % decoder_sparse_step.
		hfconfig.Positive(cfg, "decoder_sparse_step", step)
		if cfg.Err() == nil && topK > experts {
			// torch.topk would fail on the first forward pass; say so while reading.
			cfg.Errorf("num_experts_per_tok (%d) must not exceed num_experts (%d)", topK, experts)
		}
	}
	hfconfig.Rope(cfg, &h, defaultTheta)
	eps := cfg.Float("rms_norm_eps", defaultEps)
	// Qwen3MoeConfig forces sliding_window to None unless use_sliding_window; Qwen3MoeAttention then
	// hands it to every layer alike. An explicit null means none; an absent key, 4096.
	if cfg.Bool("use_sliding_window", false) && (cfg.Has("sliding_window") || !cfg.Present("sliding_window")) {
		h.SlidingWindow = cfg.Int("sliding_window", defaultSlidingWindow)
		hfconfig.NonNegative(cfg, "sliding_window", h.SlidingWindow)
	}
	pad := hfconfig.PadIndex(cfg, h.Vocab)
	act := hfconfig.Activation(cfg, "hidden_act", h.Activation)
	if err := cfg.Err(); err != nil {
		return nil, err
	}

	var notes []string
	dense := map[int]bool{}
	for _, i := range mlpOnly {
		if i < 0 || i >= h.Layers {
			notes = append(notes, "mlp_only_layers names layer "+strconv.Itoa(i)+", which does not exist ("+
				strconv.Itoa(h.Layers)+" layers); it is ignored")
		}
		dense[i] = true
	}
	sparse := make([]bool, h.Layers)
	for i := range sparse {
		// The condition of Qwen3MoeDecoderLayer.__init__, word for word.
		sparse[i] = !dense[i] && experts > 0 && (i+1)%step == 0
		if sparse[i] {
			h.MoELayers++
		}
	}
	if h.MoELayers > 0 {
		h.Experts, h.ExpertsPerToken, h.ExpertIntermediate = experts, topK, expertWidth
	}
	if h.MoELayers == h.Layers {
		notes = append(notes, "intermediate_size ("+strconv.Itoa(h.Intermediate)+
			") is unused: every layer is a sparse MoE block of moe_intermediate_size experts")
	}

	H, I, Ie := int64(h.Hidden), int64(h.Intermediate), int64(expertWidth)
	q, kv, hd := int64(h.Heads*h.HeadDim), int64(h.KVHeads*h.HeadDim), int64(h.HeadDim)
	norm := func(dim int64, role arch.Role) *arch.Module { return arch.RMSNorm(prefix+"RMSNorm", dim, eps, role) }
	// Qwen3MoeMLP serves as the dense MLP (intermediate_size) and as each expert (moe_intermediate_size).
	mlp := func(width int64, role arch.Role) *arch.Module {
		key := "intermediate_size"
		if role == arch.RoleExpert {
			key = "moe_intermediate_size"
		}
		return arch.Container(prefix+"MLP", role).SetAttr(arch.AttrWidthKey, key).
			Add("gate_proj", arch.Linear(H, width, false, arch.RoleGate)).
			Add("up_proj", arch.Linear(H, width, false, arch.RoleUp)).
			Add("down_proj", arch.Linear(width, H, false, arch.RoleDown)).
			Add("act_fn", arch.Activation(act.Class))
	}
	layers := make([]*arch.Module, h.Layers)
	for i := range layers {
		attn := arch.Container(prefix+"Attention", arch.RoleAttention).
			Add("q_proj", arch.Linear(H, q, h.AttentionBias, arch.RoleQ)).
			Add("k_proj", arch.Linear(H, kv, h.AttentionBias, arch.RoleK)).
			Add("v_proj", arch.Linear(H, kv, h.AttentionBias, arch.RoleV)).
			Add("o_proj", arch.Linear(q, H, h.AttentionBias, arch.RoleO)).
			Add("q_norm", norm(hd, arch.RoleNorm)).
			Add("k_norm", norm(hd, arch.RoleNorm))
		var ffn *arch.Module
		if sparse[i] {
			list := make([]*arch.Module, experts)
			for e := range list {
				list[e] = mlp(Ie, arch.RoleExpert)
			}
			ffn = arch.Container(prefix+"SparseMoeBlock", arch.RoleMoE).
				SetAttr(arch.AttrTopK, strconv.Itoa(topK)).
				Add("gate", arch.Linear(H, int64(experts), false, arch.RoleRouter)).
				Add("experts", arch.List(arch.RoleExperts, list...))
		} else {
			ffn = mlp(I, arch.RoleMLP)
		}
		layer := arch.Container(prefix+"DecoderLayer", arch.RoleBlock).
			Add("self_attn", attn).
			Add("mlp", ffn).
			Add("input_layernorm", norm(H, arch.RoleNorm)).
			Add("post_attention_layernorm", norm(H, arch.RoleNorm))
		if h.SlidingWindow > 0 {
			layer.SetAttr(arch.AttrAttention, "sliding").SetAttr(arch.AttrWindow, strconv.Itoa(h.SlidingWindow))
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
	return &arch.Spec{Family: "qwen3_moe", Root: root, BasePath: "model", Hyper: h, Notes: notes}, nil
}
