package facts

import (
	"strings"

	"github.com/layerscope/layerscope/modelio/arch"
)

// model gathers what the characteristics read: the hyper-parameters the family set, and the sizes the
// (reconciled) module tree really has. Where both exist the tree wins for widths and counts, so a pruned
// checkpoint shows what it holds; the hyper-parameters supply what the tree cannot (head counts, RoPE).
type model struct {
	h      arch.Hyper
	a      *arch.Architecture
	layers int   // blocks in the tree, else the config's count
	hidden int64 // the residual stream's width
	tokEmb *arch.Part
	posEmb *arch.Part

	dense, sparse mlpShape // the MLPs of dense blocks and the experts of MoE blocks
	moeBlocks     int
	numbers       []int // the blocks' numbers as shown, nil for 0, 1, … (see ComputeNumbered)
}

// numbered writes blocks (indices into the tree's blocks) with their numbers as shown, runs collapsed:
// "0–1, 3–4, 6–10" for blocks 0–8 of a model without blocks 2 and 5.
func (m *model) numbered(blocks []int) string {
	if m.numbers == nil {
		return ranges(blocks)
	}
	shown := make([]int, len(blocks))
	for k, b := range blocks {
		shown[k] = m.numbers[b]
	}
	return ranges(shown)
}

// mlpShape summarises the MLPs of a set of blocks.
type mlpShape struct {
	blocks   int
	glu      bool
	fused    bool   // gate and up in one projection (Phi-3's gate_up_proj)
	minW     int64  // intermediate width, smallest and largest over the blocks
	maxW     int64  //
	up, down string // the names of the widening and narrowing projections ("c_fc", "c_proj")
	fusedAs  string // the fused projection's name
}

func newModel(spec *arch.Spec, a *arch.Architecture) *model {
	m := &model{h: spec.Hyper, a: a, layers: len(a.Blocks), hidden: int64(spec.Hyper.Hidden)}
	if m.layers == 0 {
		m.layers = m.h.Layers
	}
	for i := range a.Embeddings {
		switch a.Embeddings[i].Role {
		case arch.RoleTokenEmbedding:
			m.tokEmb = &a.Embeddings[i]
		case arch.RolePosEmbedding:
			m.posEmb = &a.Embeddings[i]
		}
	}
	if m.hidden == 0 && m.tokEmb != nil {
		m.hidden = m.tokEmb.Out
	}
	for _, b := range a.Blocks {
		if b.Experts != nil {
			m.moeBlocks++
			m.sparse.add(b.Experts.Expert)
		} else {
			m.dense.add(b.Parts)
		}
	}
	return m
}

// add folds one block's MLP parts into the summary; blocks without a recognisable MLP are skipped.
func (s *mlpShape) add(parts []arch.Part) {
	var width int64
	glu, fused := false, false
	var up, down, fusedAs string
	for _, p := range parts {
		switch p.Role {
		case arch.RoleGate:
			width, glu = p.Out, true
		case arch.RoleGateUp:
			width, glu, fused, fusedAs = p.Out/2, true, true, shortName(p.Name)
		case arch.RoleUp:
			up = shortName(p.Name)
			if !glu {
				width = p.Out
			}
		case arch.RoleDown:
			down = shortName(p.Name)
		}
	}
	if width == 0 {
		return
	}
	if s.blocks == 0 || width < s.minW {
		s.minW = width
	}
	if width > s.maxW {
		s.maxW = width
	}
	if s.blocks == 0 {
		s.glu, s.fused, s.up, s.down, s.fusedAs = glu, fused, up, down, fusedAs
	}
	s.blocks++
}

// inactive is the parameters a token skips: in every MoE block, the experts it is not routed to.
func (m *model) inactive() int64 {
	var n int64
	for _, b := range m.a.Blocks {
		e := b.Experts
		if e == nil || e.Count == 0 {
			continue
		}
		k := m.topK(e)
		if k <= 0 || k >= e.Count {
			continue
		}
		// Experts of an edited checkpoint may differ in size; the average stands for "one expert".
		n += int64(e.Count-k) * (e.Params / int64(e.Count))
	}
	return n
}

// topK is the experts chosen per token: the block's own attribute, else the config's.
func (m *model) topK(e *arch.Experts) int {
	if e.TopK > 0 {
		return e.TopK
	}
	return m.h.ExpertsPerToken
}

// firstExperts returns the experts of the first MoE block, or nil.
func (m *model) firstExperts() *arch.Experts {
	for _, b := range m.a.Blocks {
		if b.Experts != nil {
			return b.Experts
		}
	}
	return nil
}

// firstPart returns the first part of block 0 with one of the roles, or nil.
func (m *model) firstPart(roles ...arch.Role) *arch.Part {
	if len(m.a.Blocks) == 0 {
		return nil
	}
	parts := m.a.Blocks[0].Parts
	for i := range parts {
		for _, r := range roles {
			if parts[i].Role == r {
				return &parts[i]
			}
		}
	}
	return nil
}

// slidingLayers says, per layer, whether it attends through a sliding window, and the window. The
// tree's attributes win; a family that did not set them is read from layer_types, and a bare
// sliding_window applies to every layer (Mistral, Phi-3).
func (m *model) slidingLayers() (sliding []bool, window int) {
	found := false
	for _, b := range m.a.Blocks {
		s := b.Attention == "sliding"
		sliding = append(sliding, s)
		if s {
			found = true
			if window == 0 {
				window = b.Window
			}
		}
	}
	if window == 0 {
		window = m.h.SlidingWindow
	}
	if found {
		return sliding, window
	}
	if m.h.SlidingWindow <= 0 {
		return nil, 0
	}
	sliding = make([]bool, m.layers)
	for i := range sliding {
		sliding[i] = len(m.h.LayerTypes) == 0 || (i < len(m.h.LayerTypes) && m.h.LayerTypes[i] == "sliding_attention")
	}
	for _, s := range sliding {
		if s {
			return sliding, window
		}
	}
	return nil, 0
}

// shortName is the last segment of a dotted module name: "self_attn.q_proj" gives "q_proj".
func shortName(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// blockShape is a block's shape without its unprinted attributes: the widths of its parts and its
// experts. Blocks with equal shapes differ at most in attention kind (Gemma 3's sliding and full layers).
func blockShape(b arch.Block) string {
	var sb strings.Builder
	for _, p := range b.Parts {
		sb.WriteString(p.Name + ":" + itoa(p.In) + "x" + itoa(p.Out) + ";")
	}
	if e := b.Experts; e != nil {
		sb.WriteString("experts:" + itoa(int64(e.Count)) + "x" + itoa(e.Params) + ";")
	}
	return sb.String()
}
