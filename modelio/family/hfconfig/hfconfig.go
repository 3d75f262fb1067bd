// Package hfconfig reads the config.json conventions that many families share (attention sizes, RoPE
// scaling, activation names) so each family states only what is its own.
package hfconfig

import (
	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/config"
)

// activationClasses maps a config activation name to the class transformers 4.55 prints (ACT2CLS).
// silu and swish are torch.nn.SiLU in 4.39-4.56; 4.57 renamed silu to SiLUActivation.
var activationClasses = map[string]string{
	"gelu":              "GELUActivation",
	"gelu_10":           "ClippedGELUActivation",
	"gelu_fast":         "FastGELUActivation",
	"gelu_new":          "NewGELUActivation",
	"gelu_python":       "GELUActivation",
	"gelu_pytorch_tanh": "PytorchGELUTanh",
	"gelu_accurate":     "AccurateGELUActivation",
	"laplace":           "LaplaceActivation",
	"linear":            "LinearActivation",
	"mish":              "MishActivation",
	"quick_gelu":        "QuickGELUActivation",
	"relu":              "ReLU",
	"relu2":             "ReLUSquaredActivation",
	"relu6":             "ReLU6",
	"sigmoid":           "Sigmoid",
	"silu":              "SiLU",
	"swish":             "SiLU",
	"tanh":              "Tanh",
}

// Activation returns the activation module for a config activation name, recording an error in cfg
// (quoting key) for a name transformers does not know.
func Activation(cfg *config.Config, key, name string) *arch.Module {
	class, ok := activationClasses[name]
	if !ok {
		cfg.Errorf("%s %q is not an activation transformers knows", key, name)
		class = "UnknownActivation"
	}
	return arch.Activation(class)
}

// IsGELUFamily reports whether an activation name is a GELU variant (for the lecturer's text).
func IsGELUFamily(name string) bool {
	switch name {
	case "gelu", "gelu_10", "gelu_fast", "gelu_new", "gelu_python", "gelu_pytorch_tanh", "gelu_accurate", "quick_gelu":
		return true
	}
	return false
}

// Attention holds the attention sizes most decoder configs share.
type Attention struct {
	Hidden, Heads, KVHeads, HeadDim int
}

// ReadAttention reads hidden_size, num_attention_heads, num_key_value_heads (default: heads) and
// head_dim (default: hidden/heads), and checks that they fit together.
func ReadAttention(cfg *config.Config, defHidden, defHeads int) Attention {
	return ReadAttentionDefaults(cfg, Attention{Hidden: defHidden, Heads: defHeads})
}

// ReadAttentionDefaults is ReadAttention for config classes that give num_key_value_heads and head_dim
// defaults of their own instead of deriving them from the heads (Qwen3Config: 32 and 128,
// Gemma3TextConfig: 4 and 256). A zero KVHeads or HeadDim in def keeps ReadAttention's rule.
func ReadAttentionDefaults(cfg *config.Config, def Attention) Attention {
	a := Attention{
		Hidden: cfg.Int("hidden_size", def.Hidden),
		Heads:  cfg.Int("num_attention_heads", def.Heads),
	}
	defKV := def.KVHeads
	if defKV == 0 {
		defKV = a.Heads
	}
	a.KVHeads = cfg.Int("num_key_value_heads", defKV)
	Positive(cfg, "hidden_size", a.Hidden)
	Positive(cfg, "num_attention_heads", a.Heads)
	Positive(cfg, "num_key_value_heads", a.KVHeads)
	if cfg.Err() != nil {
		return a
	}
	if cfg.Has("head_dim") {
		a.HeadDim = cfg.Int("head_dim", 0)
		Positive(cfg, "head_dim", a.HeadDim)
	} else if def.HeadDim > 0 {
		a.HeadDim = def.HeadDim
	} else {
		if a.Hidden%a.Heads != 0 {
			cfg.Errorf("hidden_size (%d) must be divisible by num_attention_heads (%d)", a.Hidden, a.Heads)
		}
		a.HeadDim = a.Hidden / a.Heads
	}
	if a.Heads%a.KVHeads != 0 {
		cfg.Errorf("num_attention_heads (%d) must be divisible by num_key_value_heads (%d)", a.Heads, a.KVHeads)
	}
	return a
}

// Positive records an error unless v > 0.
func Positive(cfg *config.Config, key string, v int) {
	if v <= 0 {
		cfg.Errorf("%s must be positive, got %d", key, v)
	}
}

// NonNegative records an error unless v >= 0.
func NonNegative(cfg *config.Config, key string, v int) {
	if v < 0 {
		cfg.Errorf("%s must not be negative, got %d", key, v)
	}
}

// Rope reads rope_theta and rope_scaling into h (rope_type, or the older "type" key, and factor).
// Configs saved by transformers 5 hold both in "rope_parameters" instead; the top-level keys win
// where both are present. Where rope_parameters is split by layer type (Gemma 3), h gets the
// full_attention entry.
func Rope(cfg *config.Config, h *arch.Hyper, defTheta float64) {
	h.Positional = arch.PosRoPE
	if h.RotaryFraction == 0 {
		h.RotaryFraction = 1
	}
	rp := RopeParameters(cfg, "full_attention")
	h.RopeTheta = RopeTheta(cfg, "rope_theta", rp, defTheta)
	rs := cfg.Sub("rope_scaling")
	if rs == nil {
		rs = rp
	}
	if rs != nil {
		kind := rs.String("rope_type", rs.String("type", ""))
		if kind != "" && kind != "default" {
			h.RopeScaling = kind
			h.RopeFactor = rs.Float("factor", 0)
		}
	}
}

// RopeParameters returns transformers 5's "rope_parameters" object for layers of layerType
// ("full_attention", "sliding_attention"): the entry of that name where the object is split by layer
// type, else the object itself; nil when the config has none (or lacks that layer type).
func RopeParameters(cfg *config.Config, layerType string) *config.Config {
	rp := cfg.Sub("rope_parameters")
	if rp == nil {
		return nil
	}
	if rp.Has("full_attention") || rp.Has("sliding_attention") {
		return rp.Sub(layerType)
	}
	return rp
}

// RopeTheta reads a RoPE base from the top-level key (transformers 4: rope_theta,
// rope_local_base_freq) or else from rp's rope_theta (transformers 5), or returns def.
func RopeTheta(cfg *config.Config, key string, rp *config.Config, def float64) float64 {
	if cfg.Has(key) || rp == nil {
		return cfg.Float(key, def)
	}
	return rp.Float("rope_theta", def)
}

// PadIndex returns pad_token_id as an Embedding padding_idx, or -1 when absent. transformers passes it
// to nn.Embedding unchecked, so an id outside the vocabulary is an error there and here.
func PadIndex(cfg *config.Config, vocab int) int64 {
	if !cfg.Has("pad_token_id") {
		return -1
	}
	p := cfg.Int("pad_token_id", -1)
	if p >= vocab || p < -vocab {
		cfg.Errorf("pad_token_id (%d) must be below vocab_size (%d)", p, vocab)
		return -1
	}
	if p < 0 { // torch normalises a negative padding_idx
		p += vocab
	}
	return int64(p)
}

// Layers reads the layer count, checking it is positive.
func Layers(cfg *config.Config, key string, def int) int {
	n := cfg.Int(key, def)
	Positive(cfg, key, n)
	return n
}

// CheckLayerTypes checks a layer_types list against the layer count.
func CheckLayerTypes(cfg *config.Config, types []string, layers int) {
	if types == nil {
		return
	}
	if len(types) != layers {
		cfg.Errorf("layer_types has %d entries but num_hidden_layers is %d", len(types), layers)
		return
	}
	for i, t := range types {
		if t != "sliding_attention" && t != "full_attention" {
			cfg.Errorf("layer_types[%d] is %q: expected sliding_attention or full_attention", i, t)
			return
		}
	}
}
