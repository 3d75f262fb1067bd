package modelio

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/layerscope/layerscope/modelio/weights"
)

// WidthChange is one config.json width key a width pruning changes.
type WidthChange struct {
	Key      string `json:"key"`
	From, To int64
}

// NarrowMLP returns what m would be with only some neurons of every MLP: keep[i] lists the neurons
// unit i of MLPUnits(m) keeps, ascending, as m numbers them. Nothing is written and m is not modified.
//
// config.json has one width per key (intermediate_size, or Qwen3-MoE's moe_intermediate_size for its
// experts), so every unit of a key must keep the same number of neurons. The result is described as
// Open would describe the saved copy: its Config is m's with the width keys set, and its Weights give
// each MLP tensor its new shape and a weights.Pick that says which slices of the source bytes it
// holds (rows of gate, up and gate_up, and of Conv1D c_proj; columns of down, and of Conv1D c_fc;
// elements of their biases). Every other tensor is m's, unchanged. The description is then checked:
// each unit of the result must hold exactly the kept number of neurons.
//
// m may be a model without weights (a gallery model: only the widths matter) or a model from
// RemoveBlocks (depth and width together); the result can be written with prune.Write(p, nil, ...).
func NarrowMLP(m *Model, keep [][]int) (*Model, error) {
	units, err := MLPUnits(m)
	if err != nil {
		return nil, err
	}
	if len(keep) != len(units) {
		return nil, fmt.Errorf("%s has %d MLPs; %d lists of kept neurons given", m.Name, len(units), len(keep))
	}
	widths := map[string]int64{} // key → kept
	from := map[string]int64{}
	var keys []string
	for i, u := range units {
		k := keep[i]
		if len(k) == 0 {
			return nil, fmt.Errorf("%s: %s would keep no neuron: at least one must stay", m.Name, u.Path)
		}
		for j, n := range k {
			if n < 0 || int64(n) >= u.Width {
				return nil, fmt.Errorf("%s: %s has neurons 0 to %d: there is no neuron %d", m.Name, u.Path, u.Width-1, n)
			}
			if j > 0 && n <= k[j-1] {
				return nil, fmt.Errorf("%s: %s: kept neurons must be ascending and distinct (%d after %d)", m.Name, u.Path, n, k[j-1])
			}
		}
		if w, seen := widths[u.Key]; !seen {
			keys = append(keys, u.Key)
			widths[u.Key], from[u.Key] = int64(len(k)), u.Width
		} else if w != int64(len(k)) || from[u.Key] != u.Width {
			return nil, fmt.Errorf("%s: %s would be %d → %d neurons wide and another MLP %d → %d: config.json's %s holds one width",
				m.Name, u.Path, u.Width, len(k), from[u.Key], w, u.Key)
		}
	}

	var ws *weights.Set
	if m.Weights != nil {
		if ws, err = narrowWeights(m, units, keep); err != nil {
			return nil, err
		}
	}
	var edits []ConfigEdit
	var changes []WidthChange
	for _, key := range keys {
		edits = append(edits, ConfigEdit{key, json.Number(strconv.FormatInt(widths[key], 10))})
		changes = append(changes, WidthChange{Key: key, From: from[key], To: widths[key]})
	}
	p, err := describePruned(m, ws, edits) // m.Config is set: MLPUnits refused a model without one
	if err != nil {
		return nil, fmt.Errorf("%s: config.json cannot describe the narrower model: %v", m.Name, err)
	}
	got, err := MLPUnits(p)
	if err != nil {
		return nil, err
	}
	if len(got) != len(units) {
		return nil, fmt.Errorf("%s: config.json cannot describe the narrower model: it would have %d MLPs, not %d", m.Name, len(got), len(units))
	}
	for i, u := range got {
		if u.Path != units[i].Path || u.Width != int64(len(keep[i])) {
			return nil, fmt.Errorf("%s: config.json cannot describe the narrower model: %s would be %d wide, not %d", m.Name, u.Path, u.Width, len(keep[i]))
		}
	}
	p.sourceName = m.Name
	if m.sourceName != "" {
		p.sourceName = m.sourceName
	}
	p.Name = m.Name + " − MLP " + widthPhrase(changes)
	p.Removed, p.SourceLayer = slices.Clone(m.Removed), slices.Clone(m.SourceLayer)
	p.SourceParams = m.SourceParams
	if p.SourceParams == 0 {
		p.SourceParams = m.Spec.Root.NumParams()
	}
	p.ConfigEdits = mergeEdits(m.ConfigEdits, edits)
	p.Narrowed = mergeWidths(m.Narrowed, changes)
	return p, nil
}

func widthPhrase(changes []WidthChange) string {
	s := ""
	for i, c := range changes {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%d→%d", c.From, c.To)
	}
	return s
}

// mergeWidths keeps the first From of a key narrowed twice.
func mergeWidths(old, changes []WidthChange) []WidthChange {
	out := slices.Clone(old)
	for _, c := range changes {
		if i := slices.IndexFunc(out, func(o WidthChange) bool { return o.Key == c.Key }); i >= 0 {
			out[i].To = c.To
		} else {
			out = append(out, c)
		}
	}
	return out
}

// narrowWeights returns m's weights with every unit's tensors narrowed to its kept neurons.
func narrowWeights(m *Model, units []MLPUnit, keep [][]int) (*weights.Set, error) {
	out := &weights.Set{Tensors: map[string]*weights.Tensor{}, Names: slices.Clone(m.Weights.Names),
		Files: slices.Clone(m.Weights.Files), Warnings: slices.Clone(m.Weights.Warnings)}
	for name, t := range m.Weights.Tensors {
		out.Tensors[name] = t
	}
	pick := func(p *Projection, suffix string, axis int, index []int) error {
		name := p.Weight()
		if suffix == "bias" {
			name = p.BiasName()
		}
		t, err := UnitTensor(m, name)
		if err != nil {
			return err
		}
		c, err := pickTensor(t, axis, index)
		if err != nil {
			return fmt.Errorf("%s: %v", m.Name, err)
		}
		out.Tensors[t.Name] = c
		return nil
	}
	for i, u := range units {
		k := keep[i]
		// Rows of a [neurons, hidden] weight, columns of a [hidden, neurons] one.
		rows, cols := 0, 1
		if u.Up != nil && u.Up.Conv1D {
			rows, cols = 1, 0 // Conv1D stores [in, out]
		}
		in := []struct {
			p     *Projection
			index []int
			axis  int
		}{{u.Gate, k, rows}, {u.Up, k, rows}, {u.Down, k, cols}}
		if u.GateUp != nil {
			both := slices.Clone(k)
			for _, n := range k {
				both = append(both, int(u.Width)+n)
			}
			in = append(in, struct {
				p     *Projection
				index []int
				axis  int
			}{u.GateUp, both, rows})
		}
		for _, x := range in {
			if x.p == nil {
				continue
			}
			if err := pick(x.p, "weight", x.axis, x.index); err != nil {
				return nil, err
			}
			// The bias of an up, gate or gate_up has one entry per neuron; down's bias is the output's.
			if x.p.Bias && x.p != u.Down {
				if err := pick(x.p, "bias", 0, x.index); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

// pickTensor returns a copy of t holding only slices index along axis. A tensor already picked (a
// model narrowed twice) composes the two picks, so its bytes still come from the source file.
func pickTensor(t *weights.Tensor, axis int, index []int) (*weights.Tensor, error) {
	if axis >= len(t.Shape) {
		return nil, fmt.Errorf("%s has shape %v: it has no axis %d to pick neurons from", t.Name, t.Shape, axis)
	}
	for _, n := range index {
		if n < 0 || int64(n) >= t.Shape[axis] {
			return nil, fmt.Errorf("%s has shape %v: no slice %d along axis %d", t.Name, t.Shape, n, axis)
		}
	}
	c := *t
	c.Shape = slices.Clone(t.Shape)
	c.Shape[axis] = int64(len(index))
	elem := t.Size / max(t.Elements(), 1)
	src := slices.Clone(t.Shape)
	idx := slices.Clone(index)
	if t.Pick != nil {
		if t.Pick.Axis != axis {
			return nil, fmt.Errorf("%s is already narrowed along axis %d; cannot narrow it along %d", t.Name, t.Pick.Axis, axis)
		}
		src = slices.Clone(t.Pick.SourceShape)
		for i, n := range index {
			idx[i] = t.Pick.Index[n]
		}
	}
	c.Pick = &weights.Pick{Axis: axis, Index: idx, SourceShape: src}
	c.Size = c.Elements() * elem
	return &c, nil
}
