// Package gpt2 describes OpenAI's GPT-2 (and distilgpt2, which is a gpt2 config with 6 layers): learned
// absolute positions, pre-LayerNorm blocks, and transformers' Conv1D layers with a fused c_attn.
package gpt2

import (
	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/config"
	"github.com/layerscope/layerscope/modelio/family/hfconfig"
)

// Defaults of transformers 4.55 GPT2Config, used for absent keys.
const (
	defaultVocab     = 50257
	defaultPositions = 1024
	defaultEmbd      = 768
	defaultLayers    = 12
	defaultHeads     = 12
	defaultAct       = "gelu_new"
	defaultPdrop     = 0.1
	defaultEps       = 1e-5
	// mlpRatio: n_inner null means an MLP 4 × n_embd wide (GPT2Block: "config.n_inner if not None else
	// 4 * hidden_size").
	mlpRatio = 4
)

func init() { arch.Register("gpt2", family{}) }

type family struct{}

// aliasedInt reads one of GPT2Config's aliased sizes. GPT2Config.attribute_map makes hidden_size an alias
// of n_embd (and so on); PretrainedConfig sets the extra kwargs after GPT2Config has stored its own, so the
// generic name wins when a config.json carries both. It returns the value and the key it came from, for
// error messages.
func aliasedInt(cfg *config.Config, own, generic string, def int) (int, string) {
	if cfg.Has(generic) {
		return cfg.Int(generic, def), generic
	}
	return cfg.Int(own, def), own
}

// Build returns the module tree of GPT2LMHeadModel, in the registration order of transformers 4.55.
func (family) Build(cfg *config.Config) (*arch.Spec, error) {
	embd, embdKey := aliasedInt(cfg, "n_embd", "hidden_size", defaultEmbd)
	heads, headsKey := aliasedInt(cfg, "n_head", "num_attention_heads", defaultHeads)
	layers, layersKey := aliasedInt(cfg, "n_layer", "num_hidden_layers", defaultLayers)
	positions, positionsKey := aliasedInt(cfg, "n_positions", "max_position_embeddings", defaultPositions)
	h := arch.Hyper{
		Layers:         layers,
		Hidden:         embd,
		Heads:          heads,
		KVHeads:        heads,
		Intermediate:   cfg.Int("n_inner", mlpRatio*embd),
		Vocab:          cfg.Int("vocab_size", defaultVocab),
		MaxPositions:   positions,
		MLP:            arch.MLPClassic,
		Activation:     cfg.String("activation_function", defaultAct),
		Norm:           arch.NormLayer,
		NormsPerBlock:  2,
		Positional:     arch.PosLearned,
		TiedEmbeddings: cfg.Bool("tie_word_embeddings", true), // PretrainedConfig's default; gpt2 configs omit it
		AttentionBias:  true,                                  // Conv1D always has a bias
		MLPBias:        true,
	}
	crossAttention := cfg.Bool("add_cross_attention", false)
	if crossAttention {
		h.NormsPerBlock = 3 // ln_1, ln_cross_attn, ln_2
	}
	eps := cfg.Float("layer_norm_epsilon", defaultEps)
	attnPdrop := cfg.Float("attn_pdrop", defaultPdrop)
	residPdrop := cfg.Float("resid_pdrop", defaultPdrop)
	embdPdrop := cfg.Float("embd_pdrop", defaultPdrop)

	hfconfig.Positive(cfg, embdKey, h.Hidden)
	hfconfig.Positive(cfg, headsKey, h.Heads)
	hfconfig.Positive(cfg, layersKey, h.Layers)
	hfconfig.Positive(cfg, positionsKey, h.MaxPositions)
	hfconfig.Positive(cfg, "n_inner", h.Intermediate)
	hfconfig.Positive(cfg, "vocab_size", h.Vocab)
	if cfg.Err() == nil {
		// GPT2Attention raises on this: its heads split c_attn's output evenly.
		if h.Hidden%h.Heads != 0 {
			cfg.Errorf("%s (%d) must be divisible by %s (%d)", embdKey, h.Hidden, headsKey, h.Heads)
		}
		h.HeadDim = h.Hidden / h.Heads
	}
	act := hfconfig.Activation(cfg, "activation_function", h.Activation)
	if err := cfg.Err(); err != nil {
		return nil, err
	}

	D, I := int64(h.Hidden), int64(h.Intermediate)
	attention := func(cross bool) *arch.Module {
		m := arch.Container("GPT2Attention", arch.RoleAttention)
		if cross {
			// Cross-attention reads keys and values from the encoder (c_attn, 2·D) and queries from the
			// decoder (q_attn).
			m.Add("c_attn", arch.Conv1D(D, 2*D, arch.RoleQKV)).
				Add("q_attn", arch.Conv1D(D, D, arch.RoleQ))
		} else {
			m.Add("c_attn", arch.Conv1D(D, 3*D, arch.RoleQKV))
		}
		return m.Add("c_proj", arch.Conv1D(D, D, arch.RoleO)).
			Add("attn_dropout", arch.Dropout(attnPdrop)).
			Add("resid_dropout", arch.Dropout(residPdrop))
	}
	blocks := make([]*arch.Module, h.Layers)
	for i := range blocks {
		b := arch.Container("GPT2Block", arch.RoleBlock).
			Add("ln_1", arch.LayerNorm(D, eps, arch.RoleNorm)).
			Add("attn", attention(false)).
			Add("ln_2", arch.LayerNorm(D, eps, arch.RoleNorm))
		if crossAttention {
			b.Add("crossattention", attention(true)).
				Add("ln_cross_attn", arch.LayerNorm(D, eps, arch.RoleNorm))
		}
		mlp := arch.Container("GPT2MLP", arch.RoleMLP).SetAttr(arch.AttrWidthKey, "n_inner").
			Add("c_fc", arch.Conv1D(D, I, arch.RoleUp)).
			Add("c_proj", arch.Conv1D(I, D, arch.RoleDown)).
			Add("act", act).
			Add("dropout", arch.Dropout(residPdrop))
		blocks[i] = b.Add("mlp", mlp)
	}
	transformer := arch.Container("GPT2Model", arch.RoleModel).
		Add("wte", arch.Embedding("", int64(h.Vocab), D, -1, arch.RoleTokenEmbedding)).
		Add("wpe", arch.Embedding("", int64(h.MaxPositions), D, -1, arch.RolePosEmbedding)).
		Add("drop", arch.Dropout(embdPdrop)).
		Add("h", arch.List(arch.RoleBlocks, blocks...)).
		Add("ln_f", arch.LayerNorm(D, eps, arch.RoleFinalNorm))
	lmHead := arch.Linear(D, int64(h.Vocab), false, arch.RoleLMHead)
	lmHead.Tied = h.TiedEmbeddings
	root := arch.Container("GPT2LMHeadModel", arch.RoleNone).
		Add("transformer", transformer).
		Add("lm_head", lmHead)
	return &arch.Spec{Family: "gpt2", Root: root, BasePath: "transformer", Hyper: h}, nil
}
