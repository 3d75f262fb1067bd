package facts

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/family/hfconfig"
)

// Characteristic keys, in the order they are listed. The set is fixed; docs/FACTS_JSON.md documents each.
const (
	KeyLayers         = "layers"
	KeyHiddenSize     = "hidden_size"
	KeyAttention      = "attention"
	KeyHeadDim        = "head_dim"
	KeyMLP            = "mlp"
	KeyActivation     = "activation"
	KeyNorm           = "norm"
	KeyPositional     = "positional"
	KeySlidingWindow  = "sliding_window"
	KeyTiedEmbeddings = "tied_embeddings"
	KeyBiases         = "biases"
	KeyMoE            = "moe"
	KeyParallelBlock  = "parallel_block"
	KeyEmbeddingScale = "embedding_scale"
	KeyVocabSize      = "vocab_size"
	KeyContextLength  = "context_length"
)

// characteristics lists the traits that apply, in the order of the Key constants.
func (m *model) characteristics(p Parameters) []Characteristic {
	out := []Characteristic{}
	for _, fn := range []func() (Characteristic, bool){
		m.layersFact, m.hiddenFact, m.attentionFact, m.headDimFact, m.mlpFact, m.activationFact, m.normFact,
		m.positionalFact, m.slidingFact, func() (Characteristic, bool) { return m.tiedFact(p) }, m.biasFact,
		func() (Characteristic, bool) { return m.moeFact(p) }, m.parallelFact, m.embedScaleFact,
		func() (Characteristic, bool) { return m.vocabFact(p) }, m.contextFact,
	} {
		if c, ok := fn(); ok {
			out = append(out, c)
		}
	}
	return out
}

func (m *model) layersFact() (Characteristic, bool) {
	n := m.layers
	if n == 0 {
		return Characteristic{}, false
	}
	c := Characteristic{Key: KeyLayers, Value: strconv.Itoa(n)}
	blocks := m.a.Blocks
	if len(blocks) == 0 {
		c.Explanation = plural(n, "decoder block", "decoder blocks")
		return c, true
	}
	groups := m.a.FoldGroups()
	if len(groups) == 1 {
		c.Explanation = plural(n, "block", "identical blocks")
		return c, true
	}
	var clauses []string
	sliding, _ := m.slidingLayers()
	if s := countTrue(sliding); s > 0 && s < n {
		clauses = append(clauses, fmt.Sprintf("%d sliding-window, %d full attention", s, n-s))
	}
	if m.moeBlocks > 0 && m.moeBlocks < n {
		clauses = append(clauses, fmt.Sprintf("%d mixture-of-experts, %d dense", m.moeBlocks, n-m.moeBlocks))
	}
	shapes := map[string]bool{}
	for _, b := range blocks {
		shapes[blockShape(b)] = true
	}
	// Sizes that differ beyond the dense/MoE split (a pruned checkpoint) are worth saying too.
	if len(shapes) > 1 && !(len(shapes) == 2 && m.moeBlocks > 0 && m.moeBlocks < n) {
		clauses = append(clauses, fmt.Sprintf("sizes differ, %d runs of identical blocks", len(groups)))
	}
	if len(clauses) == 0 {
		clauses = append(clauses, fmt.Sprintf("%d runs of identical blocks", len(groups)))
	}
	c.Explanation = fmt.Sprintf("%d blocks: %s", n, strings.Join(clauses, "; "))
	return c, true
}

func (m *model) hiddenFact() (Characteristic, bool) {
	if m.hidden == 0 {
		return Characteristic{}, false
	}
	return Characteristic{Key: KeyHiddenSize, Value: itoa(m.hidden),
		Explanation: fmt.Sprintf("the residual stream is %d wide: every block reads and writes vectors of this size", m.hidden)}, true
}

func (m *model) attentionFact() (Characteristic, bool) {
	q, kv := m.h.Heads, m.h.KVHeads
	if kv == 0 {
		kv = q
	}
	if q == 0 {
		return Characteristic{}, false
	}
	c := Characteristic{Key: KeyAttention}
	switch {
	case kv == q:
		c.Value = fmt.Sprintf("MHA %d:%d", q, kv)
		c.Explanation = fmt.Sprintf("MHA: each of the %d query heads has its own key/value head", q)
	case kv == 1:
		c.Value = fmt.Sprintf("MQA %d:1", q)
		c.Explanation = fmt.Sprintf("MQA: all %d query heads share one key/value head", q)
	default:
		c.Value = fmt.Sprintf("GQA %d:%d", q, kv)
		c.Explanation = fmt.Sprintf("GQA: %d query heads share %d key/value heads", q, kv)
		if q%kv == 0 {
			c.Explanation += fmt.Sprintf(", %d:1", q/kv)
		}
	}
	return c, true
}

func (m *model) headDimFact() (Characteristic, bool) {
	hd, q := int64(m.h.HeadDim), int64(m.h.Heads)
	if hd == 0 || q == 0 {
		return Characteristic{}, false
	}
	c := Characteristic{Key: KeyHeadDim, Value: itoa(hd)}
	width := q * hd
	if width == m.hidden || m.hidden == 0 {
		c.Explanation = fmt.Sprintf("each head is %d wide: %d heads × %d = %d, the hidden size", hd, q, hd, width)
		return c, true
	}
	verb := "widens"
	if width < m.hidden {
		verb = "narrows"
	}
	who := "the query projection"
	if p := m.firstPart(arch.RoleQ); p != nil {
		who = shortName(p.Name)
	}
	c.Explanation = fmt.Sprintf("%d heads × %d = %d ≠ hidden %d: %s %s %d → %d", q, hd, width, m.hidden, who, verb, m.hidden, width)
	return c, true
}

// gluName names a gated MLP by its activation, as papers do.
func gluName(act string) string {
	switch {
	case act == "silu" || act == "swish":
		return "SwiGLU"
	case hfconfig.IsGELUFamily(act):
		return "GeGLU"
	case act == "relu":
		return "ReGLU"
	case act == "":
		return "GLU"
	}
	return "GLU with " + act
}

func (m *model) mlpFact() (Characteristic, bool) {
	c := Characteristic{Key: KeyMLP}
	s, per := m.dense, "MLP"
	if m.sparse.blocks > 0 {
		s, per = m.sparse, "expert"
	}
	if s.blocks == 0 {
		// No block shows a recognisable MLP: say what the config says, if anything.
		if m.h.Intermediate == 0 || m.h.MLP == "" {
			return c, false
		}
		s = mlpShape{blocks: 1, glu: m.h.MLP == arch.MLPGLU, minW: int64(m.h.Intermediate), maxW: int64(m.h.Intermediate)}
	}
	ratio := m.ratio(s)
	kind := "classic"
	if s.glu {
		kind = "GLU"
	}
	c.Value = kind + " " + ratio
	if s.glu {
		label := "GLU"
		if name := gluName(m.h.Activation); name != "GLU" {
			label += " (" + name
			if per == "expert" {
				label += " experts"
			}
			label += ")"
		} else if per == "expert" {
			label += " experts"
		}
		fused := ""
		if s.fused {
			fused = ", fused in " + s.fusedAs
		}
		c.Explanation = fmt.Sprintf("%s: gate and up %s wide%s, %s hidden; three matrices per %s",
			label, widths(s), fused, ratio, per)
	} else {
		up, down := orDefault(s.up, "the first layer"), orDefault(s.down, "the second")
		experts := ""
		if per == "expert" {
			experts = " experts"
		}
		c.Explanation = fmt.Sprintf("classic MLP%s: %s widens %d → %s, %s hidden, %s narrows back; two matrices per %s",
			experts, up, m.hidden, widths(s), ratio, down, per)
	}
	if m.sparse.blocks > 0 && m.dense.blocks > 0 {
		c.Explanation += fmt.Sprintf("; %s with MLPs %s wide", plural(m.dense.blocks, "dense block", "dense blocks"), widths(m.dense))
	}
	return c, true
}

// widths is "8192", or "4916–8192" when blocks differ.
func widths(s mlpShape) string {
	if s.minW == s.maxW {
		return itoa(s.maxW)
	}
	return itoa(s.minW) + "–" + itoa(s.maxW)
}

// ratio is the expansion intermediate/hidden to two decimals: "4.00×", or a range.
func (m *model) ratio(s mlpShape) string {
	if m.hidden == 0 {
		return "?×"
	}
	r := func(w int64) string { return strconv.FormatFloat(float64(w)/float64(m.hidden), 'f', 2, 64) }
	if s.minW == s.maxW {
		return r(s.maxW) + "×"
	}
	return r(s.minW) + "–" + r(s.maxW) + "×"
}

// activations explains the config's activation names.
var activations = map[string]string{
	"silu":              "SiLU (Swish), x·σ(x)",
	"swish":             "SiLU (Swish), x·σ(x)",
	"gelu":              "GELU, x·Φ(x) in its exact erf form",
	"gelu_python":       "GELU, x·Φ(x) in its exact erf form",
	"gelu_new":          "GELU, tanh approximation",
	"gelu_pytorch_tanh": "GELU, tanh approximation",
	"gelu_fast":         "GELU, fast tanh approximation",
	"gelu_accurate":     "GELU, a closer tanh approximation",
	"gelu_10":           "GELU clipped to [-10, 10]",
	"quick_gelu":        "GELU approximated as x·σ(1.702x)",
	"relu":              "ReLU, max(0, x)",
	"relu2":             "squared ReLU, max(0, x)²",
	"relu6":             "ReLU6, min(max(0, x), 6)",
	"tanh":              "tanh",
	"sigmoid":           "sigmoid",
	"linear":            "identity (no non-linearity)",
	"mish":              "Mish, x·tanh(softplus(x))",
	"laplace":           "Laplace, a GELU-like curve",
}

func (m *model) activationFact() (Characteristic, bool) {
	act := m.h.Activation
	if act == "" {
		return Characteristic{}, false
	}
	what, ok := activations[act]
	if !ok {
		what = act
	}
	s := m.dense
	if m.sparse.blocks > 0 {
		s = m.sparse
	}
	glu := s.glu || (s.blocks == 0 && m.h.MLP == arch.MLPGLU)
	var where string
	switch {
	case glu:
		where = "applied to the gate, which then multiplies up"
	case s.up != "" && s.down != "":
		where = "between " + s.up + " and " + s.down
	default:
		where = "inside the MLP"
	}
	return Characteristic{Key: KeyActivation, Value: act, Explanation: what + ", " + where}, true
}

func (m *model) normFact() (Characteristic, bool) {
	var block, inner []string
	kind := ""
	if len(m.a.Blocks) > 0 {
		for _, p := range m.a.Blocks[0].Parts {
			if p.Role != arch.RoleNorm {
				continue
			}
			// A norm directly in the block sits on the residual stream; one inside a sub-module
			// (self_attn.q_norm) normalises per head.
			if strings.Contains(p.Name, ".") {
				inner = append(inner, shortName(p.Name))
			} else {
				block = append(block, p.Name)
			}
			if kind == "" {
				kind = normKind(p.Class)
			}
		}
	}
	if kind == "" && m.a.FinalNorm != nil {
		kind = normKind(m.a.FinalNorm.Class)
	}
	if kind == "" {
		switch m.h.Norm {
		case arch.NormRMS:
			kind = "RMSNorm"
		case arch.NormLayer:
			kind = "LayerNorm"
		}
	}
	n := len(block)
	if n == 0 && len(m.a.Blocks) == 0 {
		n = m.h.NormsPerBlock
	}
	if kind == "" || n == 0 && len(inner) == 0 {
		return Characteristic{}, false
	}
	c := Characteristic{Key: KeyNorm, Value: fmt.Sprintf("%s ×%d", kind, n)}
	c.Explanation = fmt.Sprintf("%s: %d per block", kind, n)
	if len(block) > 0 {
		c.Explanation += " (" + strings.Join(block, ", ") + ")"
	}
	if len(inner) > 0 || (len(m.a.Blocks) == 0 && m.h.QKNorm) {
		c.Value += " + q/k"
		names := "q and k norms"
		if len(inner) > 0 {
			names = joinAnd(inner)
		}
		c.Explanation += ", plus " + names + " over each head"
	}
	if m.a.FinalNorm != nil {
		c.Explanation += ", and a final norm"
	}
	return c, true
}

func normKind(class string) string {
	switch {
	case strings.Contains(class, "RMSNorm"):
		return "RMSNorm"
	case strings.Contains(class, "LayerNorm"):
		return "LayerNorm"
	}
	return class
}

func (m *model) positionalFact() (Characteristic, bool) {
	c := Characteristic{Key: KeyPositional}
	kind := m.h.Positional
	if kind == "" && m.posEmb != nil {
		kind = arch.PosLearned
	}
	switch kind {
	case arch.PosLearned:
		n := int64(m.h.MaxPositions)
		if n == 0 && m.posEmb != nil {
			n = m.posEmb.In
		}
		c.Value = "learned"
		c.Explanation = "learned absolute position embeddings"
		if n > 0 {
			c.Explanation += " up to " + Commas(n) + " positions"
		}
		c.Explanation += ", added to the token embeddings"
		return c, true
	case arch.PosRoPE:
		rope := "RoPE"
		frac := m.h.RotaryFraction
		c.Value = "RoPE"
		if frac > 0 && frac < 1 {
			pct := strconv.FormatFloat(frac*100, 'f', -1, 64)
			c.Value = "partial RoPE " + pct + "%"
			rope = "partial RoPE on " + pct + "% of head dims"
			if hd := m.h.HeadDim; hd > 0 {
				rope += fmt.Sprintf(" (%d of %d)", int(float64(hd)*frac), hd)
			}
			rope += ","
		}
		if m.h.RopeTheta > 0 {
			rope += " θ=" + number(m.h.RopeTheta)
		}
		if s := m.h.RopeScaling; s != "" {
			rope += " with " + s + " scaling"
			if m.h.RopeFactor > 0 {
				rope += " ×" + number(m.h.RopeFactor)
			}
		}
		if m.h.RopeLocalTheta > 0 {
			rope += " on full-attention layers, local θ=" + number(m.h.RopeLocalTheta) + " on sliding-window layers"
		}
		c.Explanation = rope
		return c, true
	}
	return c, false
}

func (m *model) slidingFact() (Characteristic, bool) {
	sliding, window := m.slidingLayers()
	s := countTrue(sliding)
	if s == 0 || window <= 0 {
		return Characteristic{}, false
	}
	n := len(sliding)
	c := Characteristic{Key: KeySlidingWindow}
	ctx := m.h.MaxPositions
	if s == n {
		c.Value = itoa(int64(window)) + ", all layers"
		if ctx > 0 && window >= ctx {
			c.Explanation = fmt.Sprintf("every layer's window of %s tokens covers the whole %s-token context: no effect",
				Commas(int64(window)), Commas(int64(ctx)))
		} else {
			c.Explanation = fmt.Sprintf("every layer attends to the last %s tokens only", Commas(int64(window)))
		}
		return c, true
	}
	full := n - s
	c.Value = fmt.Sprintf("%d, %d of %d layers", window, s, n)
	if s%full == 0 {
		c.Value = fmt.Sprintf("%d, %d:1", window, s/full)
	}
	c.Explanation = fmt.Sprintf("%d of %d layers attend to the last %s tokens only; ", s, n, Commas(int64(window)))
	if p := period(sliding); p > 0 && m.numbers == nil { // a pruned model's pattern is the full model's, cut
		c.Explanation += fmt.Sprintf("every %s layer attends to the whole context", ordinal(p))
	} else {
		var idx []int
		for i, v := range sliding {
			if !v {
				idx = append(idx, i)
			}
		}
		c.Explanation += fmt.Sprintf("%s (%s) attend to the whole context", plural(full, "layer", "layers"), m.numbered(idx))
	}
	return c, true
}

// period returns p when exactly the layers i with (i+1) % p == 0 are full attention (Gemma 3: 6), else 0.
func period(sliding []bool) int {
	first := -1
	for i, s := range sliding {
		if !s {
			first = i
			break
		}
	}
	if first < 1 {
		return 0
	}
	p := first + 1
	for i, s := range sliding {
		if s == ((i+1)%p == 0) {
			return 0
		}
	}
	return p
}

func (m *model) tiedFact(p Parameters) (Characteristic, bool) {
	var v, h int64
	switch {
	case m.a.LMHead != nil:
		v, h = m.a.LMHead.Out, m.a.LMHead.In
	case p.TiedEmbeddings && m.tokEmb != nil:
		v, h = m.tokEmb.In, m.tokEmb.Out
	default:
		return Characteristic{}, false
	}
	size := fmt.Sprintf("%s × %d = %s", Commas(v), h, Commas(v*h))
	if p.TiedEmbeddings {
		return Characteristic{Key: KeyTiedEmbeddings, Value: "yes",
			Explanation: "lm_head reuses the token embedding matrix: saves " + size + " parameters (V×H)"}, true
	}
	return Characteristic{Key: KeyTiedEmbeddings, Value: "no",
		Explanation: "lm_head has its own matrix: " + size + " parameters (V×H)"}, true
}

func (m *model) biasFact() (Characteristic, bool) {
	if len(m.a.Blocks) == 0 {
		return Characteristic{}, false
	}
	var with, without []string
	seen := map[string]bool{}
	look := func(parts []arch.Part) {
		for _, p := range parts {
			name := shortName(p.Name)
			if !p.Role.IsProjection() || seen[name] {
				continue
			}
			seen[name] = true
			if p.Bias {
				with = append(with, name)
			} else {
				without = append(without, name)
			}
		}
	}
	look(m.a.Blocks[0].Parts)
	if e := m.firstExperts(); e != nil {
		look(e.Expert)
	}
	if len(with)+len(without) == 0 {
		return Characteristic{}, false
	}
	lmBias := m.a.LMHead != nil && m.a.LMHead.Bias
	c := Characteristic{Key: KeyBiases}
	switch {
	case len(with) == 0:
		c.Value, c.Explanation = "none", "no projection has a bias"
	case len(without) == 0:
		c.Value, c.Explanation = "all", "every projection has a bias"
	default:
		c.Value = strings.Join(with, ", ")
		verb := "have biases"
		if len(with) == 1 {
			verb = "has a bias"
		}
		c.Explanation = joinAnd(with) + " " + verb + "; " + joinAnd(without) + " have none"
	}
	if lmBias {
		c.Value += ", lm_head"
		c.Explanation += "; lm_head has a bias"
	}
	return c, true
}

func (m *model) moeFact(p Parameters) (Characteristic, bool) {
	e := m.firstExperts()
	if e == nil {
		return Characteristic{}, false
	}
	k := m.topK(e)
	c := Characteristic{Key: KeyMoE, Value: fmt.Sprintf("%d experts, top-%d", e.Count, k)}
	c.Explanation = fmt.Sprintf("each token is routed to %d of %d experts in each of %s: %s of %s parameters active per token",
		k, e.Count, plural(m.moeBlocks, "MoE layer", "MoE layers"), compact(p.Active), compact(p.Total))
	if p.Total > 0 {
		c.Explanation += fmt.Sprintf(" (%s)", percent(p.Active, p.Total))
	}
	return c, true
}

func (m *model) parallelFact() (Characteristic, bool) {
	if !m.h.ParallelBlock {
		return Characteristic{}, false
	}
	return Characteristic{Key: KeyParallelBlock, Value: "yes",
		Explanation: "attention and the MLP read the same normed input and add to the residual together"}, true
}

func (m *model) embedScaleFact() (Characteristic, bool) {
	s := m.h.EmbeddingScale
	if s <= 0 {
		return Characteristic{}, false
	}
	v := strconv.FormatFloat(s, 'f', 2, 64)
	c := Characteristic{Key: KeyEmbeddingScale, Value: "×" + v}
	if m.hidden > 0 && math.Abs(s*s-float64(m.hidden)) < 1e-6*float64(m.hidden) {
		c.Explanation = fmt.Sprintf("token embeddings are multiplied by √%d ≈ %s (√hidden) before the first block", m.hidden, v)
	} else {
		c.Explanation = fmt.Sprintf("token embeddings are multiplied by %s before the first block", v)
	}
	return c, true
}

func (m *model) vocabFact(p Parameters) (Characteristic, bool) {
	v, h := int64(m.h.Vocab), m.hidden
	if m.tokEmb != nil {
		v, h = m.tokEmb.In, m.tokEmb.Out
	}
	if v == 0 {
		return Characteristic{}, false
	}
	c := Characteristic{Key: KeyVocabSize, Value: Commas(v), Explanation: Commas(v) + " tokens"}
	if h > 0 {
		c.Explanation += fmt.Sprintf("; the token embedding is %s × %d = %s parameters", Commas(v), h, Commas(v*h))
		if p.Total > 0 {
			c.Explanation += ", " + percent(v*h, p.Total) + " of the model"
		}
	}
	return c, true
}

func (m *model) contextFact() (Characteristic, bool) {
	n := m.h.MaxPositions
	if n == 0 && m.posEmb != nil {
		n = int(m.posEmb.In)
	}
	if n <= 0 {
		return Characteristic{}, false
	}
	c := Characteristic{Key: KeyContextLength, Value: Commas(int64(n))}
	switch {
	case m.h.Positional == arch.PosLearned || m.posEmb != nil:
		c.Explanation = fmt.Sprintf("up to %s tokens: the position table has no row beyond that", Commas(int64(n)))
	case m.h.RopeScaling != "":
		c.Explanation = fmt.Sprintf("up to %s tokens (max_position_embeddings), reached through %s RoPE scaling", Commas(int64(n)), m.h.RopeScaling)
		if m.h.RopeFactor > 0 {
			c.Explanation += " ×" + number(m.h.RopeFactor)
		}
	default:
		c.Explanation = fmt.Sprintf("up to %s tokens (max_position_embeddings)", Commas(int64(n)))
	}
	return c, true
}

// ranges writes sorted indices with runs collapsed: "0–20, 23".
func ranges(idx []int) string {
	var parts []string
	for _, r := range Runs(idx) {
		if r[1] > r[0] {
			parts = append(parts, strconv.Itoa(r[0])+"–"+strconv.Itoa(r[1]))
		} else {
			parts = append(parts, strconv.Itoa(r[0]))
		}
	}
	return strings.Join(parts, ", ")
}

// Runs splits indices into runs of consecutive ones, each as its first and last: 3, 5, 6, 7 gives
// [3 3] [5 7]. Block lists are written with it ("blocks 3, 5–7").
func Runs(idx []int) [][2]int {
	var out [][2]int
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		out = append(out, [2]int{idx[i], idx[j]})
		i = j + 1
	}
	return out
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
