package modelio

import (
	"fmt"
	"strings"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/weights"
)

// MLPKind is how an MLP's neurons are laid out in its tensors.
type MLPKind uint8

const (
	// MLPGLU is a gated MLP with separate gate and up projections (Llama, Qwen3, Gemma 3, Mixtral's
	// and Qwen3-MoE's experts): neuron j is row j of gate and of up, column j of down.
	MLPGLU MLPKind = iota + 1
	// MLPFusedGLU is a gated MLP whose gate and up are one projection (Phi-3's gate_up_proj): gate
	// rows first, then up rows, so neuron j is rows j and I+j.
	MLPFusedGLU
	// MLPClassic is up, activation, down (GPT-2's c_fc/c_proj, OPT's and phi's fc1/fc2, GPT-NeoX's
	// dense_h_to_4h/dense_4h_to_h): neuron j is up's output j (with its bias) and down's input j.
	MLPClassic
)

func (k MLPKind) String() string {
	switch k {
	case MLPGLU:
		return "GLU"
	case MLPFusedGLU:
		return "GLU (fused gate_up)"
	case MLPClassic:
		return "classic"
	}
	return "unknown"
}

// MLPUnit is one MLP whose neurons width pruning scores and removes: a block's dense MLP, one
// expert of a MoE block, or (OPT, whose layer holds fc1 and fc2 itself) the block. Its projections
// are found by their roles in the module tree the family built, so the tensor names come from the
// family's own description.
type MLPUnit struct {
	Block  int    // the block, as m numbers them
	Expert int    // the expert within the block's MoE, or -1 for a dense MLP
	Path   string // model.layers.3.mlp, model.layers.3.block_sparse_moe.experts.5
	Key    string // the config.json key of its width (arch.AttrWidthKey)
	Kind   MLPKind
	Width  int64 // neurons: the intermediate size
	Hidden int64 // the width of its input and output
	// The projections; Gate is nil for MLPFusedGLU and MLPClassic, GateUp set only for MLPFusedGLU.
	Gate, Up, GateUp, Down *Projection
}

// Projection is one Linear or Conv1D of an MLP unit.
type Projection struct {
	Path string // model.layers.3.mlp.gate_proj; its tensors are Path+".weight" and Path+".bias"
	// Conv1D is true for transformers' Conv1D (GPT-2), whose weight is stored [in, out], transposed
	// from nn.Linear's [out, in].
	Conv1D  bool
	In, Out int64
	Bias    bool
}

// Weight and BiasName are the projection's tensor names as the module tree spells them.
func (p *Projection) Weight() string   { return p.Path + ".weight" }
func (p *Projection) BiasName() string { return p.Path + ".bias" }

// MLPUnits lists m's MLPs in block order (experts in order within a block). It refuses, in one line,
// a model whose family Layerscope does not know (its description was guessed from tensor names, and
// the config.json key of the width with it), a block with no MLP, and projections whose sizes do not
// fit together.
func MLPUnits(m *Model) ([]MLPUnit, error) {
	if m == nil || m.Spec == nil {
		return nil, fmt.Errorf("MLP width: no model")
	}
	if m.Generic {
		return nil, fmt.Errorf("%s: model_type %q is not a family Layerscope knows, so it cannot say which config.json key holds the MLP width",
			m.Name, m.Spec.Family)
	}
	listPath, list, err := blockList(m)
	if err != nil {
		return nil, err
	}
	var out []MLPUnit
	for b, c := range list.Children {
		blockPath := listPath + "." + c.Name
		before := len(out)
		var walkErr error
		c.Module.Walk(blockPath, func(path string, mod *arch.Module) bool {
			if walkErr != nil || !holdsMLP(mod) {
				return walkErr == nil
			}
			u, err := mlpUnit(m.Name, path, mod)
			if err != nil {
				walkErr = err
				return false
			}
			u.Block, u.Expert = b, -1
			if mod.Role == arch.RoleExpert {
				u.Expert = len(out) - before
			}
			out = append(out, u)
			return false
		})
		if walkErr != nil {
			return nil, walkErr
		}
		if len(out) == before {
			return nil, fmt.Errorf("%s: block %d has no MLP with up and down projections to prune", m.Name, b)
		}
	}
	return out, nil
}

// holdsMLP reports whether mod's own children are an MLP's up (or gate_up) and down projections.
func holdsMLP(mod *arch.Module) bool {
	var up, down bool
	for _, c := range mod.Children {
		switch c.Module.Role {
		case arch.RoleUp, arch.RoleGateUp:
			up = true
		case arch.RoleDown:
			down = true
		}
	}
	return up && down
}

func mlpUnit(name, path string, mod *arch.Module) (MLPUnit, error) {
	u := MLPUnit{Path: path, Key: mod.Attrs[arch.AttrWidthKey]}
	if u.Key == "" {
		return u, fmt.Errorf("%s: %s names no config.json key for its width; width pruning does not know where to write it", name, path)
	}
	for _, c := range mod.Children {
		leaf := c.Module
		var slot **Projection
		switch leaf.Role {
		case arch.RoleGate:
			slot = &u.Gate
		case arch.RoleUp:
			slot = &u.Up
		case arch.RoleGateUp:
			slot = &u.GateUp
		case arch.RoleDown:
			slot = &u.Down
		default:
			continue
		}
		if leaf.Op != arch.OpLinear && leaf.Op != arch.OpConv1D {
			return u, fmt.Errorf("%s: %s.%s is a %s, not a Linear or Conv1D", name, path, c.Name, leaf.Class)
		}
		if *slot != nil {
			return u, fmt.Errorf("%s: %s has two %s projections", name, path, leaf.Role)
		}
		*slot = &Projection{Path: path + "." + c.Name, Conv1D: leaf.Op == arch.OpConv1D, In: leaf.In, Out: leaf.Out, Bias: leaf.Bias}
	}
	u.Width, u.Hidden = u.Down.In, u.Down.Out
	switch {
	case u.GateUp != nil && u.Gate == nil && u.Up == nil:
		u.Kind = MLPFusedGLU
	case u.Gate != nil && u.Up != nil && u.GateUp == nil:
		u.Kind = MLPGLU
	case u.Up != nil && u.Gate == nil && u.GateUp == nil:
		u.Kind = MLPClassic
	default:
		return u, fmt.Errorf("%s: %s has projections width pruning does not recognise", name, path)
	}
	fits := func(p *Projection, out int64) bool { return p == nil || (p.In == u.Hidden && p.Out == out) }
	if !fits(u.Gate, u.Width) || !fits(u.Up, u.Width) || !fits(u.GateUp, 2*u.Width) {
		return u, fmt.Errorf("%s: %s: its projections do not fit together (down takes %d neurons to %d)", name, path, u.Width, u.Hidden)
	}
	if u.Width < 1 {
		return u, fmt.Errorf("%s: %s has no neurons", name, path)
	}
	return u, nil
}

// UnitTensor returns the tensor a unit's projection names, trying the name without the base model's
// prefix too (openai-community/gpt2 stores h.0.mlp.c_fc.weight, not transformer.h.0...). It refuses a
// missing tensor and one whose dtype is not a float Layerscope reads (a quantized layout).
func UnitTensor(m *Model, name string) (*weights.Tensor, error) {
	if m.Weights == nil {
		return nil, fmt.Errorf("%s has no weights", m.Name)
	}
	t, ok := m.Weights.Tensors[name]
	if !ok && m.Spec.BasePath != "" {
		t, ok = m.Weights.Tensors[strings.TrimPrefix(name, m.Spec.BasePath+".")]
	}
	if !ok {
		return nil, fmt.Errorf("%s: missing tensor %s", m.Name, name)
	}
	if _, ok := floatDTypes[t.DType]; !ok {
		return nil, fmt.Errorf("%s: %s is %s: width pruning reads F32, F16, BF16 and F64 weights only (a quantized layout cannot be pruned)",
			m.Name, t.Name, t.DType)
	}
	return t, nil
}

// floatDTypes are the dtypes whose neurons can be read and picked, with their element size.
var floatDTypes = map[string]int64{"F32": 4, "F16": 2, "BF16": 2, "F64": 8}

// FormerWidths are what a width pruning of units changes, as they were before it, by projection path:
// out, the output widths of gate, up, gate_up and fc1 (c_fc), and in, the input widths of down, fc2
// and c_proj. Drawn as the outlines of a narrowed model's bars (render.Model.Former and FormerIn).
func FormerWidths(units []MLPUnit) (out, in map[string]int64) {
	out, in = map[string]int64{}, map[string]int64{}
	for _, u := range units {
		for _, p := range []*Projection{u.Gate, u.Up, u.GateUp} {
			if p != nil {
				out[p.Path] = p.Out
			}
		}
		if u.Down != nil {
			in[u.Down.Path] = u.Down.In
		}
	}
	return out, in
}
