// Package arch holds the neutral description of a model that every family produces: the module tree that
// transformers builds (the same one `print(model)` shows), the parameters each module owns, and the role
// each module plays in the diagram. The renderers, the facts and the compute engine read only this.
//
// A family builds the tree from config.json alone. Where weights exist, Reconcile then resizes every leaf
// from the tensors it finds, so a pruned checkpoint describes what it really holds.
package arch

import (
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// Op is what a module computes, for the leaves whose printed form and parameters follow from their sizes.
type Op uint8

const (
	OpContainer  Op = iota // a module with children and no parameters of its own (LlamaAttention)
	OpList                 // nn.ModuleList: children named 0..n-1, runs of identical children fold on print
	OpLinear               // nn.Linear: weight [Out, In], bias [Out]
	OpConv1D               // transformers' Conv1D (GPT-2): weight [In, Out] (transposed), bias [Out]
	OpEmbedding            // nn.Embedding: weight [In=num_embeddings, Out=embedding_dim]
	OpLayerNorm            // nn.LayerNorm: weight [Out], bias [Out] when Bias
	OpRMSNorm              // a family's RMSNorm: weight [Out]
	OpDropout              // nn.Dropout(p=P)
	OpActivation           // an activation module: no parameters, prints Class()
	OpRotary               // a rotary embedding module: buffers only, prints Class()
	// OpTensor is a bare parameter that no known module type explains (a 3-D fused expert tensor, a
	// conv kernel, attention sinks). The generic description keeps it as a leaf named like the tensor
	// itself so parameter counts stay exact; it owns one parameter of Shape, named by its own path.
	OpTensor
)

// Role is the part a module plays in the diagram; the kind picks the colour and the bar row.
type Role uint8

const (
	RoleNone           Role = iota
	RoleModel               // the base model (LlamaModel), child of the causal-LM root
	RoleTokenEmbedding      // input embeddings
	RolePosEmbedding        // learned absolute positions (GPT-2, OPT)
	RoleBlocks              // the ModuleList of decoder blocks
	RoleBlock               // one decoder block
	RoleAttention           // the attention sub-block
	RoleMLP                 // the MLP sub-block (dense)
	RoleMoE                 // a sparse mixture-of-experts sub-block
	RoleExperts             // the ModuleList of experts inside RoleMoE
	RoleExpert              // one expert MLP
	RoleRouter              // the router (gate) of a MoE block
	RoleQ
	RoleK
	RoleV
	RoleO
	RoleQKV    // fused q, k and v (phi3 qkv_proj, gpt2 c_attn, gpt_neox query_key_value)
	RoleGate   // GLU gate projection
	RoleUp     // GLU up projection, or the first layer of a classic MLP
	RoleGateUp // fused gate and up (phi3 gate_up_proj)
	RoleDown   // the MLP's output projection
	RoleNorm   // a norm inside a block (or on q/k)
	RoleFinalNorm
	RoleLMHead
)

var roleNames = [...]string{
	RoleNone: "", RoleModel: "model", RoleTokenEmbedding: "token_embedding", RolePosEmbedding: "position_embedding",
	RoleBlocks: "blocks", RoleBlock: "block", RoleAttention: "attention", RoleMLP: "mlp", RoleMoE: "moe",
	RoleExperts: "experts", RoleExpert: "expert", RoleRouter: "router", RoleQ: "q", RoleK: "k", RoleV: "v",
	RoleO: "o", RoleQKV: "qkv", RoleGate: "gate", RoleUp: "up", RoleGateUp: "gate_up", RoleDown: "down",
	RoleNorm: "norm", RoleFinalNorm: "final_norm", RoleLMHead: "lm_head",
}

// String returns the role's stable name, used in JSON.
func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return "role" + strconv.Itoa(int(r))
}

// IsProjection reports whether the role is a width bar inside a block.
func (r Role) IsProjection() bool {
	switch r {
	case RoleQ, RoleK, RoleV, RoleO, RoleQKV, RoleGate, RoleUp, RoleGateUp, RoleDown, RoleRouter:
		return true
	}
	return false
}

// Module is one nn.Module of the tree transformers builds.
type Module struct {
	Class string // printed class name: "LlamaAttention", "Linear", "Qwen3RMSNorm"
	Op    Op
	Role  Role

	// Sizes of a leaf. Linear/Conv1D: In → Out features; Embedding: In rows of Out; norms: Out.
	In, Out int64
	Bias    bool    // Linear/Conv1D/LayerNorm bias
	Eps     float64 // norms
	P       float64 // dropout probability
	// PaddingIdx is printed by Embedding when HasPadding.
	PaddingIdx int64
	HasPadding bool

	// Tied marks a Linear whose weight is another module's (lm_head tied to the embeddings): it prints
	// as usual but owns no parameter, so counts take the shared tensor once.
	Tied bool

	// DType is the stored dtype of the weight ("BF16"), known only when weights were read.
	DType string

	// Shape is the parameter an OpTensor leaf owns.
	Shape []int64

	// ReprExtra, when set, replaces the extra_repr its Op implies: a quantized layer whose class prints
	// other attributes (AWQ's WQLinear_GEMM adds w_bit and group_size) or none ("QuantLinear()").
	ReprExtra *string

	// Attrs are attributes that transformers keeps but never prints (Gemma 3's sliding window, the
	// attention type of a layer). The diagram shows them and they break folds there, not in the print.
	Attrs map[string]string

	Children []Child
}

// Child is a named sub-module, in registration order.
type Child struct {
	Name   string
	Module *Module
}

// Param is one parameter tensor a module owns.
type Param struct {
	Name  string // full dotted name, as in the safetensors file: model.layers.0.self_attn.q_proj.weight
	Shape []int64
}

// Add appends a named child and returns the parent, for building trees in registration order.
func (m *Module) Add(name string, child *Module) *Module {
	m.Children = append(m.Children, Child{Name: name, Module: child})
	return m
}

// Child returns the child named name, or nil.
func (m *Module) Child(name string) *Module {
	for _, c := range m.Children {
		if c.Name == name {
			return c.Module
		}
	}
	return nil
}

// SetAttr sets an unprinted attribute.
func (m *Module) SetAttr(key, value string) *Module {
	if m.Attrs == nil {
		m.Attrs = map[string]string{}
	}
	m.Attrs[key] = value
	return m
}

// Container returns a module with children only.
func Container(class string, role Role) *Module {
	return &Module{Class: class, Op: OpContainer, Role: role}
}

// List returns an nn.ModuleList holding items, named 0..n-1.
func List(role Role, items ...*Module) *Module {
	m := &Module{Class: "ModuleList", Op: OpList, Role: role}
	for i, it := range items {
		m.Add(strconv.Itoa(i), it)
	}
	return m
}

// Linear returns nn.Linear(in, out, bias).
func Linear(in, out int64, bias bool, role Role) *Module {
	return &Module{Class: "Linear", Op: OpLinear, Role: role, In: in, Out: out, Bias: bias}
}

// Conv1D returns transformers' Conv1D(nf=out, nx=in), which always has a bias.
func Conv1D(in, out int64, role Role) *Module {
	return &Module{Class: "Conv1D", Op: OpConv1D, Role: role, In: in, Out: out, Bias: true}
}

// Embedding returns nn.Embedding(num, dim), with padding_idx when pad >= 0.
func Embedding(class string, num, dim int64, pad int64, role Role) *Module {
	if class == "" {
		class = "Embedding"
	}
	return &Module{Class: class, Op: OpEmbedding, Role: role, In: num, Out: dim, PaddingIdx: pad, HasPadding: pad >= 0}
}

// LayerNorm returns nn.LayerNorm((dim,), eps, elementwise_affine=True), with a bias unless noBias.
func LayerNorm(dim int64, eps float64, role Role) *Module {
	return &Module{Class: "LayerNorm", Op: OpLayerNorm, Role: role, Out: dim, Eps: eps, Bias: true}
}

// RMSNorm returns a family's RMSNorm class over dim.
func RMSNorm(class string, dim int64, eps float64, role Role) *Module {
	return &Module{Class: class, Op: OpRMSNorm, Role: role, Out: dim, Eps: eps}
}

// Dropout returns nn.Dropout(p).
func Dropout(p float64) *Module { return &Module{Class: "Dropout", Op: OpDropout, P: p} }

// Activation returns an activation module that prints as Class().
func Activation(class string) *Module { return &Module{Class: class, Op: OpActivation} }

// Rotary returns a rotary-embedding module (buffers only).
func Rotary(class string) *Module { return &Module{Class: class, Op: OpRotary} }

// Parameter returns a bare parameter leaf (OpTensor) of the given shape. torch does not print
// parameters; Layerscope prints it as "Parameter([d0, d1])" so the generic tree shows every tensor.
func Parameter(shape []int64) *Module {
	return &Module{Class: "Parameter", Op: OpTensor, Shape: shape}
}

// OwnParams returns the parameters a module owns itself, named under prefix ("model.norm").
func (m *Module) OwnParams(prefix string) []Param {
	p := func(suffix string, shape ...int64) Param { return Param{Name: join(prefix, suffix), Shape: shape} }
	switch m.Op {
	case OpLinear:
		if m.Tied {
			return nil
		}
		ps := []Param{p("weight", m.Out, m.In)}
		if m.Bias {
			ps = append(ps, p("bias", m.Out))
		}
		return ps
	case OpConv1D:
		return []Param{p("weight", m.In, m.Out), p("bias", m.Out)}
	case OpEmbedding:
		return []Param{p("weight", m.In, m.Out)}
	case OpLayerNorm:
		ps := []Param{p("weight", m.Out)}
		if m.Bias {
			ps = append(ps, p("bias", m.Out))
		}
		return ps
	case OpRMSNorm:
		return []Param{p("weight", m.Out)}
	case OpTensor:
		// The module's path is the tensor's own name.
		return []Param{{Name: prefix, Shape: m.Shape}}
	}
	return nil
}

// Walk calls fn for m and every descendant, depth first in registration order, with each module's
// dotted path ("model.layers.0.self_attn"). prefix is m's own path. fn returning false skips children.
func (m *Module) Walk(prefix string, fn func(path string, m *Module) bool) {
	if !fn(prefix, m) {
		return
	}
	for _, c := range m.Children {
		c.Module.Walk(join(prefix, c.Name), fn)
	}
}

// Params returns every parameter under m in registration order.
func (m *Module) Params(prefix string) []Param {
	var out []Param
	m.Walk(prefix, func(path string, mod *Module) bool {
		out = append(out, mod.OwnParams(path)...)
		return true
	})
	return out
}

// NumParams is the element count of every parameter under m (tied weights counted once). A count
// past int64 saturates at math.MaxInt64 (see Overflows) instead of wrapping round to a small or
// negative number: sizes of 2^40 printed "0 parameters" once.
func (m *Module) NumParams() int64 {
	var n int64
	m.Walk("", func(_ string, mod *Module) bool {
		for _, p := range mod.OwnParams("") {
			n = addSat(n, NumElements(p.Shape))
		}
		return true
	})
	return n
}

// Overflows reports whether a count saturated: more than int64 holds.
func Overflows(n int64) bool { return n == math.MaxInt64 }

// NumElements is the product of a shape's dimensions, saturating at math.MaxInt64 on overflow (a
// negative dimension, which no reader produces, counts as 0).
func NumElements(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		if d <= 0 {
			return 0
		}
		hi, lo := bits.Mul64(uint64(n), uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			n = math.MaxInt64
			continue
		}
		n = int64(lo)
	}
	return n
}

// addSat is a + b for non-negative counts, saturating at math.MaxInt64.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// Find returns the module at a dotted path below m ("model.layers.3"), or nil.
func (m *Module) Find(path string) *Module {
	if path == "" {
		return m
	}
	cur := m
	for _, part := range strings.Split(path, ".") {
		cur = cur.Child(part)
		if cur == nil {
			return nil
		}
	}
	return cur
}

// Unprinted attributes the diagram reads.
const (
	AttrAttention = "attention" // "sliding" or "full" where a model mixes them
	AttrWindow    = "window"    // the sliding window in tokens
	AttrTopK      = "top_k"     // experts chosen per token, on a RoleMoE module
	// AttrWidthKey is the config.json key that sets the width (neurons) of an MLP, on the module that
	// holds its up (or gate_up) and down projections: "intermediate_size", GPT-2's "n_inner", OPT's
	// "ffn_dim", Qwen3-MoE's experts' "moe_intermediate_size". Width pruning writes the new width there.
	AttrWidthKey = "width_key"
)
