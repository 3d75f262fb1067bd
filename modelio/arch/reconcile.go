package arch

import (
	"fmt"
	"slices"
	"strconv"
)

// TensorLookup reports what the weights hold under a tensor name.
type TensorLookup func(name string) (shape []int64, dtype string, ok bool)

// Reconcile resizes every leaf of root from the tensors the weights hold, so the description shows what
// a checkpoint really contains (a width-pruned MLP, a narrower head). Each disagreement with the sizes
// config.json implies becomes a warning; nothing is hidden. Trailing blocks with no tensor at all are
// dropped (a depth-pruned checkpoint whose config was not updated). It returns the warnings and the
// tensor names it placed, so the caller can report the ones nothing reads.
func Reconcile(root *Module, lookup TensorLookup) (warnings []string, placed map[string]bool) {
	placed = map[string]bool{}
	dropTrailingEmptyBlocks(root, lookup, &warnings)
	root.Walk("", func(path string, m *Module) bool {
		reconcileLeaf(path, m, lookup, placed, &warnings)
		return true
	})
	return warnings, placed
}

func reconcileLeaf(path string, m *Module, lookup TensorLookup, placed map[string]bool, warnings *[]string) {
	switch m.Op {
	case OpLinear, OpConv1D, OpEmbedding, OpLayerNorm, OpRMSNorm:
	default:
		return
	}
	wname := join(path, "weight")
	if m.Tied {
		if _, _, ok := lookup(wname); ok {
			placed[wname] = true
			*warnings = append(*warnings, wname+" is stored although the embeddings are tied; transformers ignores it")
		}
		return
	}
	expected := m.OwnParams(path)
	shape, dtype, ok := lookup(wname)
	if !ok {
		*warnings = append(*warnings, fmt.Sprintf("missing tensor %s (config.json implies %v)", wname, expected[0].Shape))
	} else {
		placed[wname] = true
		m.DType = dtype
		if !slices.Equal(shape, expected[0].Shape) {
			if resize(m, shape) {
				*warnings = append(*warnings, fmt.Sprintf("%s is %v in the weights; config.json implies %v", wname, shape, expected[0].Shape))
			} else {
				*warnings = append(*warnings, fmt.Sprintf("%s has shape %v, which a %s cannot hold (config.json implies %v)", wname, shape, m.Class, expected[0].Shape))
			}
		}
	}
	if m.Op == OpEmbedding || m.Op == OpRMSNorm {
		return
	}
	bname := join(path, "bias")
	bshape, _, hasBias := lookup(bname)
	switch {
	case hasBias && !m.Bias:
		m.Bias = true
		*warnings = append(*warnings, bname+" is in the weights; config.json implies no bias")
	case !hasBias && m.Bias && ok:
		m.Bias = false
		*warnings = append(*warnings, "missing tensor "+bname+"; config.json implies a bias")
	}
	if hasBias {
		placed[bname] = true
		if len(bshape) != 1 || bshape[0] != m.Out {
			*warnings = append(*warnings, fmt.Sprintf("%s is %v in the weights; its weight implies [%d]", bname, bshape, m.Out))
		}
	}
}

// resize sets a leaf's sizes from its stored weight shape; false when the rank does not fit.
func resize(m *Module, shape []int64) bool {
	switch m.Op {
	case OpLinear:
		if len(shape) != 2 {
			return false
		}
		m.Out, m.In = shape[0], shape[1]
	case OpConv1D, OpEmbedding:
		if len(shape) != 2 {
			return false
		}
		m.In, m.Out = shape[0], shape[1]
	case OpLayerNorm, OpRMSNorm:
		if len(shape) != 1 {
			return false
		}
		m.Out = shape[0]
	default:
		return false
	}
	return true
}

func dropTrailingEmptyBlocks(root *Module, lookup TensorLookup, warnings *[]string) {
	root.Walk("", func(path string, m *Module) bool {
		if m.Role != RoleBlocks {
			return true
		}
		n := len(m.Children)
		keep := n
		for keep > 0 {
			c := m.Children[keep-1]
			params := c.Module.Params(join(path, c.Name))
			if len(params) == 0 || anyStored(params, lookup) {
				break
			}
			keep--
		}
		if keep < n && keep > 0 {
			m.Children = m.Children[:keep]
			*warnings = append(*warnings, "config.json says "+strconv.Itoa(n)+" layers; the weights hold "+strconv.Itoa(keep))
		}
		return false
	})
}

func anyStored(params []Param, lookup TensorLookup) bool {
	for _, p := range params {
		if _, _, ok := lookup(p.Name); ok {
			return true
		}
	}
	return false
}
