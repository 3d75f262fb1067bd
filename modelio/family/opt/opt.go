// Package opt describes Meta's OPT: learned absolute positions with fairseq's offset of 2, plain
// multi-head attention with biases, a ReLU MLP, and for some sizes a down-projected word embedding
// (opt-350m) and post-LayerNorm blocks.
package opt

import (
	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/config"
	"github.com/layerscope/layerscope/modelio/family/hfconfig"
)

// Defaults of transformers 4.55 OPTConfig, used for absent keys.
const (
	defaultVocab     = 50272
	defaultHidden    = 768
	defaultLayers    = 12
	defaultFFN       = 3072
	defaultPositions = 2048
	defaultHeads     = 12
	defaultAct       = "relu"
	defaultPad       = 1
	// layerNormEps: OPT builds nn.LayerNorm without an eps argument, so torch's default applies.
	layerNormEps = 1e-5
	// positionOffset: OPTLearnedPositionalEmbedding keeps fairseq's offset of 2 and allocates
	// max_position_embeddings + 2 rows.
	positionOffset = 2
)

func init() { arch.Register("opt", family{}) }

type family struct{}

// Build returns the module tree of OPTForCausalLM, in the registration order of transformers 4.55.
func (family) Build(cfg *config.Config) (*arch.Spec, error) {
	h := arch.Hyper{
		Layers:         cfg.Int("num_hidden_layers", defaultLayers),
		Hidden:         cfg.Int("hidden_size", defaultHidden),
		Heads:          cfg.Int("num_attention_heads", defaultHeads),
		Intermediate:   cfg.Int("ffn_dim", defaultFFN),
		Vocab:          cfg.Int("vocab_size", defaultVocab),
		MaxPositions:   cfg.Int("max_position_embeddings", defaultPositions),
		MLP:            arch.MLPClassic,
		Activation:     cfg.String("activation_function", defaultAct),
		Norm:           arch.NormLayer,
		NormsPerBlock:  2,
		Positional:     arch.PosLearned,
		TiedEmbeddings: cfg.Bool("tie_word_embeddings", true),
	}
	h.KVHeads = h.Heads
	bias := cfg.Bool("enable_bias", true)
	h.AttentionBias, h.MLPBias = bias, bias
	// word_embed_proj_dim defaults to hidden_size; when it differs, project_in/project_out map between them.
	wordDim := cfg.Int("word_embed_proj_dim", h.Hidden)
	normBefore := cfg.Bool("do_layer_norm_before", true)
	finalNorm := normBefore && !cfg.Bool("_remove_final_layer_norm", false)
	affine := cfg.Bool("layer_norm_elementwise_affine", true)

	for _, c := range []struct {
		key string
		v   int
	}{
		{"num_hidden_layers", h.Layers}, {"hidden_size", h.Hidden}, {"num_attention_heads", h.Heads},
		{"ffn_dim", h.Intermediate}, {"vocab_size", h.Vocab}, {"max_position_embeddings", h.MaxPositions},
		{"word_embed_proj_dim", wordDim},
	} {
		hfconfig.Positive(cfg, c.key, c.v)
	}
	if cfg.Err() == nil {
		// OPTAttention raises on this: q, k and v are split into equal heads.
		if h.Hidden%h.Heads != 0 {
			cfg.Errorf("hidden_size (%d) must be divisible by num_attention_heads (%d)", h.Hidden, h.Heads)
		}
		h.HeadDim = h.Hidden / h.Heads
	}
	if !affine {
		// nn.LayerNorm(elementwise_affine=False) has no parameters and prints differently; the module
		// tree has no way to say so yet, and no released OPT checkpoint uses it.
		cfg.Errorf("layer_norm_elementwise_affine false is not supported")
	}
	// OPTConfig's pad_token_id defaults to 1 and goes to nn.Embedding unchecked. A config.json that sets it
	// to null is read like an absent key here (no released OPT config does).
	pad := int64(defaultPad)
	if cfg.Has("pad_token_id") {
		pad = hfconfig.PadIndex(cfg, h.Vocab)
	}
	act := hfconfig.Activation(cfg, "activation_function", h.Activation)
	if err := cfg.Err(); err != nil {
		return nil, err
	}

	var notes []string
	if !normBefore {
		notes = append(notes, "do_layer_norm_before is false: each block normalises after attention and after the MLP (post-LN), and the decoder has no final layer norm")
	} else if !finalNorm {
		notes = append(notes, "_remove_final_layer_norm is true: the decoder has no final layer norm")
	}

	H, I, W := int64(h.Hidden), int64(h.Intermediate), int64(wordDim)
	layers := make([]*arch.Module, h.Layers)
	for i := range layers {
		attn := arch.Container("OPTAttention", arch.RoleAttention).
			Add("k_proj", arch.Linear(H, H, bias, arch.RoleK)).
			Add("v_proj", arch.Linear(H, H, bias, arch.RoleV)).
			Add("q_proj", arch.Linear(H, H, bias, arch.RoleQ)).
			Add("out_proj", arch.Linear(H, H, bias, arch.RoleO))
		// OPTDecoderLayer has no MLP module: fc1 and fc2 hang off the layer itself, after the
		// activation and the attention norm.
		layers[i] = arch.Container("OPTDecoderLayer", arch.RoleBlock).SetAttr(arch.AttrWidthKey, "ffn_dim").
			Add("self_attn", attn).
			Add("activation_fn", act).
			Add("self_attn_layer_norm", arch.LayerNorm(H, layerNormEps, arch.RoleNorm)).
			Add("fc1", arch.Linear(H, I, bias, arch.RoleUp)).
			Add("fc2", arch.Linear(I, H, bias, arch.RoleDown)).
			Add("final_layer_norm", arch.LayerNorm(H, layerNormEps, arch.RoleNorm))
	}
	decoder := arch.Container("OPTDecoder", arch.RoleNone).
		Add("embed_tokens", arch.Embedding("", int64(h.Vocab), W, pad, arch.RoleTokenEmbedding)).
		Add("embed_positions", arch.Embedding("OPTLearnedPositionalEmbedding", int64(h.MaxPositions+positionOffset), H, -1, arch.RolePosEmbedding))
	if W != H {
		// project_out is registered before project_in, though it runs last.
		decoder.Add("project_out", arch.Linear(H, W, false, arch.RoleNone)).
			Add("project_in", arch.Linear(W, H, false, arch.RoleNone))
	}
	if finalNorm {
		decoder.Add("final_layer_norm", arch.LayerNorm(H, layerNormEps, arch.RoleFinalNorm))
	}
	decoder.Add("layers", arch.List(arch.RoleBlocks, layers...))
	model := arch.Container("OPTModel", arch.RoleModel).Add("decoder", decoder)
	lmHead := arch.Linear(W, int64(h.Vocab), false, arch.RoleLMHead)
	lmHead.Tied = h.TiedEmbeddings
	root := arch.Container("OPTForCausalLM", arch.RoleNone).
		Add("model", model).
		Add("lm_head", lmHead)
	return &arch.Spec{Family: "opt", Root: root, BasePath: "model", Hyper: h, Notes: notes}, nil
}
