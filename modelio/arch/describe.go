package arch

import (
	"strconv"
	"strings"
)

// Architecture is the drawing-ready description of a model: the stack from embeddings to LM head,
// each block's parts with their widths. It is derived from the module tree, so the diagram, the facts
// and the print always agree.
type Architecture struct {
	Family     string  `json:"family"`
	Class      string  `json:"class"`      // LlamaForCausalLM
	BaseClass  string  `json:"base_class"` // LlamaModel
	Embeddings []Part  `json:"embeddings"` // token embeddings, then learned positions where present
	Blocks     []Block `json:"blocks"`
	FinalNorm  *Part   `json:"final_norm,omitempty"`
	LMHead     *Part   `json:"lm_head,omitempty"`
	// Other holds parameters outside the stack's named parts (OPT's project_in, say).
	Other []Part `json:"other,omitempty"`
}

// Block is one decoder block.
type Block struct {
	Index int    `json:"index"`
	Class string `json:"class"`
	// Attention is "sliding" or "full" where the model mixes them, "" otherwise; Window its size.
	Attention string `json:"attention,omitempty"`
	Window    int    `json:"window,omitempty"`
	// Parts are the block's leaves with a role (norms, projections, router), in registration order;
	// for a MoE block, the experts are summarised in Experts and not repeated here.
	Parts   []Part   `json:"parts"`
	Experts *Experts `json:"experts,omitempty"`
	Params  int64    `json:"params"`
	// Key is equal for blocks that look the same in the diagram: the printed form plus the unprinted
	// attributes (Gemma 3's sliding and full layers print alike but draw differently).
	Key string `json:"-"`
}

// Experts summarises the experts of a MoE block.
type Experts struct {
	Count  int    `json:"count"`
	TopK   int    `json:"top_k"`
	Expert []Part `json:"expert"` // the parts of expert 0; experts differing in size are listed in Sizes
	// Params counts all experts together.
	Params int64 `json:"params"`
	// Uniform is false when the experts do not all have the same shapes (an edited checkpoint).
	Uniform bool `json:"uniform"`
}

// Part is one leaf module with a role: a projection, a norm, an embedding.
type Part struct {
	Path   string `json:"path"` // model.layers.0.self_attn.q_proj
	Name   string `json:"name"` // self_attn.q_proj, relative to its block
	Role   Role   `json:"-"`
	RoleID string `json:"role"`
	Class  string `json:"class"`
	In     int64  `json:"in"`
	Out    int64  `json:"out"`
	Bias   bool   `json:"bias,omitempty"`
	Tied   bool   `json:"tied,omitempty"`
	DType  string `json:"dtype,omitempty"`
	Params int64  `json:"params"`
	// Tensors are the parameter names and shapes this part owns.
	Tensors []Param `json:"tensors,omitempty"`
}

// Describe derives the architecture from a spec's (reconciled) module tree. Blocks fold where their
// Repr (and attributes) are identical, as print(model) folds them.
func Describe(s *Spec) *Architecture {
	a := &Architecture{Family: s.Family, Class: s.Root.Class}
	if base := s.Base(); base != nil {
		a.BaseClass = base.Class
	}
	var walk func(path string, m *Module)
	walk = func(path string, m *Module) {
		switch m.Role {
		case RoleBlocks:
			for _, c := range m.Children {
				idx, _ := strconv.Atoi(c.Name)
				a.Blocks = append(a.Blocks, describeBlock(join(path, c.Name), idx, c.Module))
			}
			return
		case RoleTokenEmbedding, RolePosEmbedding:
			a.Embeddings = append(a.Embeddings, partOf(path, path, m))
			return
		case RoleFinalNorm:
			p := partOf(path, path, m)
			a.FinalNorm = &p
			return
		case RoleLMHead:
			p := partOf(path, path, m)
			a.LMHead = &p
			return
		}
		if len(m.OwnParams(path)) > 0 {
			a.Other = append(a.Other, partOf(path, path, m))
		}
		for _, c := range m.Children {
			walk(join(path, c.Name), c.Module)
		}
	}
	walk("", s.Root)
	return a
}

func describeBlock(path string, idx int, m *Module) Block {
	b := Block{Index: idx, Class: m.Class, Params: m.NumParams()}
	b.Attention = m.Attrs[AttrAttention]
	b.Window, _ = strconv.Atoi(m.Attrs[AttrWindow])
	var walk func(p string, mod *Module)
	walk = func(p string, mod *Module) {
		if mod.Role == RoleExperts {
			b.Experts = describeExperts(p, mod)
			if moe := m.findParentOf(mod); moe != nil {
				b.Experts.TopK, _ = strconv.Atoi(moe.Attrs[AttrTopK])
			}
			return
		}
		if mod.Role != RoleNone && len(mod.Children) == 0 && mod.Op != OpActivation {
			b.Parts = append(b.Parts, partOf(p, strings.TrimPrefix(p, path+"."), mod))
		}
		for _, c := range mod.Children {
			walk(join(p, c.Name), c.Module)
		}
	}
	walk(path, m)
	b.Key = Repr(m) + attrKey(m)
	return b
}

func describeExperts(path string, list *Module) *Experts {
	e := &Experts{Count: len(list.Children), Uniform: true, Params: list.NumParams()}
	var first string
	for i, c := range list.Children {
		var parts []Part
		c.Module.Walk(join(path, c.Name), func(p string, mod *Module) bool {
			if mod.Role != RoleNone && len(mod.Children) == 0 && mod.Op != OpActivation {
				parts = append(parts, partOf(p, strings.TrimPrefix(p, join(path, c.Name)+"."), mod))
			}
			return true
		})
		sig := partsSignature(parts)
		if i == 0 {
			e.Expert, first = parts, sig
		} else if sig != first {
			e.Uniform = false
		}
	}
	return e
}

func partsSignature(parts []Part) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p.Name + ":" + strconv.FormatInt(p.In, 10) + "x" + strconv.FormatInt(p.Out, 10) + ";")
	}
	return b.String()
}

// findParentOf returns the module under m whose direct child is target.
func (m *Module) findParentOf(target *Module) *Module {
	for _, c := range m.Children {
		if c.Module == target {
			return m
		}
		if p := c.Module.findParentOf(target); p != nil {
			return p
		}
	}
	return nil
}

func attrKey(m *Module) string {
	var b strings.Builder
	m.Walk("", func(p string, mod *Module) bool {
		for _, k := range []string{AttrAttention, AttrWindow, AttrTopK} {
			if v, ok := mod.Attrs[k]; ok {
				b.WriteString("|" + p + "." + k + "=" + v)
			}
		}
		return true
	})
	return b.String()
}

func partOf(path, name string, m *Module) Part {
	p := Part{Path: path, Name: name, Role: m.Role, RoleID: m.Role.String(), Class: m.Class, In: m.In, Out: m.Out,
		Bias: m.Bias, Tied: m.Tied, DType: m.DType, Tensors: m.OwnParams(path)}
	for _, t := range p.Tensors {
		p.Params += NumElements(t.Shape)
	}
	return p
}

// FoldGroup is a run of consecutive blocks that look the same, drawn as one "N ×" card.
type FoldGroup struct {
	Start, End int // block indices, inclusive
}

// Count is the number of blocks in the group.
func (g FoldGroup) Count() int { return g.End - g.Start + 1 }

// FoldGroups returns runs of consecutive blocks with equal keys.
func (a *Architecture) FoldGroups() []FoldGroup {
	var out []FoldGroup
	for i := 0; i < len(a.Blocks); {
		j := i
		for j+1 < len(a.Blocks) && a.Blocks[j+1].Key == a.Blocks[i].Key {
			j++
		}
		out = append(out, FoldGroup{Start: i, End: j})
		i = j + 1
	}
	return out
}
