package facts

import "fmt"

// Pruning examples: the fractions the hints use. 40% of the MLP neurons is the published recipe quoted
// in ../shared/reference/IMPORTANCE.md (Llama-3.2-1B 8192 → 4916); a quarter of the experts is only an
// illustration, since no reference there fixes one.
const (
	widthPruneFraction  = 0.4
	expertPruneFraction = 0.25
	// depthPruneMinBlocks is the run of identical blocks from which removing some is worth suggesting.
	depthPruneMinBlocks = 8
)

// hints says where the architecture invites pruning.
func (m *model) hints(p Parameters) []Hint {
	out := []Hint{}
	if h, ok := m.depthHint(); ok {
		out = append(out, h)
	}
	if h, ok := m.widthHint(p); ok {
		out = append(out, h)
	}
	if h, ok := m.headHint(); ok {
		out = append(out, h)
	}
	if e := m.firstExperts(); e != nil && e.Count > 1 {
		keep := e.Count - int(float64(e.Count)*expertPruneFraction)
		out = append(out, Hint{Kind: "experts", Text: fmt.Sprintf(
			"%d experts per layer, %d routed per token: expert pruning removes the least-routed experts (e.g. %s of %d → %d per layer)",
			e.Count, m.topK(e), pct(expertPruneFraction), e.Count, keep)})
	}
	return out
}

func (m *model) depthHint() (Hint, bool) {
	blocks := m.a.Blocks
	const tail = ": depth pruning by block importance (BI/ΔNLL) applies"
	if groups := m.a.FoldGroups(); len(groups) == 1 && len(blocks) >= depthPruneMinBlocks {
		return Hint{Kind: "depth", Text: fmt.Sprintf("%d identical blocks%s", len(blocks), tail)}, true
	}
	// The longest run of blocks of one shape (Gemma 3's sliding and full layers have one shape).
	best, bestStart, start := 0, 0, 0
	for i := range blocks {
		if i > 0 && blockShape(blocks[i]) != blockShape(blocks[i-1]) {
			start = i
		}
		if i-start+1 > best {
			best, bestStart = i-start+1, start
		}
	}
	if best < depthPruneMinBlocks {
		return Hint{}, false
	}
	if best == len(blocks) {
		text := fmt.Sprintf("%d blocks of one shape", best)
		if sliding, _ := m.slidingLayers(); countTrue(sliding) > 0 && countTrue(sliding) < len(blocks) {
			s := countTrue(sliding)
			text += fmt.Sprintf(" (%d sliding-window, %d full attention)", s, len(blocks)-s)
		}
		return Hint{Kind: "depth", Text: text + tail}, true
	}
	run := make([]int, best)
	for k := range run {
		run[k] = bestStart + k
	}
	return Hint{Kind: "depth", Text: fmt.Sprintf("blocks %s are %d blocks of one shape%s there",
		m.numbered(run), best, tail)}, true
}

func (m *model) widthHint(p Parameters) (Hint, bool) {
	s := m.dense
	if s.blocks == 0 || s.maxW < 2 {
		return Hint{}, false
	}
	w := s.maxW
	removed := int64(float64(w) * widthPruneFraction)
	example := fmt.Sprintf("e.g. %s of %d → %d", pct(widthPruneFraction), w, w-removed)
	// The saving is exact when every block is dense and alike: each neuron is the same share of the MLP.
	if m.sparse.blocks == 0 && s.minW == s.maxW && p.Total > 0 {
		example += ", −" + percent(p.MLP*removed/w, p.Total) + " parameters"
	}
	if s.glu {
		what := "GLU MLP"
		if s.fused {
			what += " (gate and up fused in " + s.fusedAs + ")"
		}
		return Hint{Kind: "width", Text: fmt.Sprintf("%s: width pruning removes gate/up rows and down columns together (%s)", what, example)}, true
	}
	up, down := orDefault(s.up, "the first layer"), orDefault(s.down, "the second layer")
	return Hint{Kind: "width", Text: fmt.Sprintf("classic MLP: width pruning removes %s's output neurons and %s's matching inputs together (%s)",
		up, down, example)}, true
}

func (m *model) headHint() (Hint, bool) {
	q, kv := m.h.Heads, m.h.KVHeads
	if kv == 0 {
		kv = q
	}
	switch {
	case q < 2 || kv < 2:
		return Hint{}, false
	case kv == q:
		return Hint{Kind: "attention", Text: fmt.Sprintf(
			"MHA %d:%d: heads can be removed one at a time (their q, k, v rows and o columns together)", q, kv)}, true
	case q%kv == 0:
		return Hint{Kind: "attention", Text: fmt.Sprintf(
			"GQA %d:%d: head pruning removes whole groups, one key/value head with its %d query heads", q, kv, q/kv)}, true
	}
	return Hint{}, false
}
