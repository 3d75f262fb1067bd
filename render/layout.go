package render

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/facts"
)

// Model is one model to draw: the name that titles its column, its parameter count (tied embeddings
// counted once; 0 sums the architecture's parts) and its architecture.
type Model struct {
	Name   string
	Params int64
	Arch   *arch.Architecture
	// Numbers are the numbers the cards give the blocks, one per block: a what-if that removed blocks
	// keeps the full model's (block 7 stays block 7). Nil, or of the wrong length, numbers them 0, 1, ….
	Numbers []int
	// Former is the output width a projection had before a width pruning, by its path
	// (model.layers.3.mlp.gate_proj): its bar is drawn at the kept width over a faint dashed outline of
	// the former one, and the shared scale counts the former width, so the bars visibly shrink.
	Former map[string]int64
	// FormerIn is the input width a projection had before a width pruning, by its path
	// (model.layers.3.mlp.down_proj, fc2, c_proj): the output, and so the bar, of such a projection
	// keeps its length, so a thin line under the bar shows its kept input width on the same scale, over
	// a faint dashed outline of the former one, and the shrinking shows on down as on gate and up.
	FormerIn map[string]int64
}

// FoldID names one fold group of one model: the index of the model among those given to Layout and the
// first block of the group (arch.FoldGroup.Start).
type FoldID struct{ Model, Start int }

// Options tune a layout. The zero value draws every model folded, in the light theme, fitted to a
// 1280-unit-wide screen.
type Options struct {
	// Theme picks the background, card and text colours; the bar colours are the same in every theme.
	Theme Theme
	// Width is the width to fit the columns into, in model units; 0 means DefaultWidth. Columns never get
	// narrower than a readable minimum nor wider than a comfortable maximum, so the diagram's own Width
	// may differ.
	Width float64
	// UnfoldAll draws one card per block; Unfold draws one card per block for the named fold groups only.
	UnfoldAll bool
	Unfold    map[FoldID]bool
	// Repeat draws every card in full. By default a card whose bars repeat an earlier card of the same
	// model (Gemma 3's full-attention blocks between sliding ones, the blocks of an unfolded group) shows
	// only its header and which card it repeats, so a long stack stays on one screen.
	Repeat bool
	// NoLegend leaves out the colour key and the scale bar at the bottom.
	NoLegend bool
	// Scores shade the blocks by importance, keyed by the model's index among those given to Layout.
	// A scored model is drawn one card per block: a fold would give several blocks one shade.
	Scores map[int]Scores
	// Tight spends less height on everything but the bars, for presenting: a stack that is shorter in
	// model units fills a projector at a larger zoom. The title's two lines share one where they fit,
	// a repeated card says what it repeats in its header, and the margins above and below shrink.
	Tight bool
}

// DefaultWidth is the width a layout fits by default: a 1280×720 projector at scale 1.
const DefaultWidth = 1280

// Diagram is a laid-out picture in model units (pixels at scale 1), ready for SVG, PNG or a toolkit to draw
// item by item, in order (later items on top).
type Diagram struct {
	Width, Height float64
	Background    string
	Items         []Item
	// Scale is the bar length of one feature of output width, shared by every model: the widest projection
	// among all models (Widest features) fills a card's inner width.
	Scale  float64
	Widest int64
}

// ItemKind is what an item draws.
type ItemKind uint8

const (
	KindCard   ItemKind = iota // a block card: a rounded rectangle, dashed for sliding-window attention
	KindBar                    // a width bar: projection, embedding, LM head, or the scale bar of the legend
	KindBand                   // a thin band: a norm
	KindExpert                 // one small expert box of a MoE block
	KindLine                   // a thin rule: the residual stream running through a stack
	KindText                   // one line of text
)

var kindNames = [...]string{"card", "bar", "band", "expert", "line", "text"}

// String returns the kind's name, used as a CSS class in SVG.
func (k ItemKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind" + strconv.Itoa(int(k))
}

// Item is one shape or one line of text. Shapes fill the box X, Y, W, H; text starts at X with its box's
// top at Y and H tall (Baseline gives the baseline), W being its measured width.
type Item struct {
	Kind       ItemKind
	X, Y, W, H float64
	// Fill and Stroke are "#rrggbb" colours or "" for none; for text, Fill is the text colour.
	Fill, Stroke string
	StrokeWidth  float64
	Dashed       bool
	Radius       float64
	Text         string
	Size         float64 // font size of text, in model units
	Bold         bool
	// Tip is a longer description (full path, class, sizes, parameters) for a tooltip or an SVG <title>.
	Tip string
	// Ref is what the item shows, so a UI can hit-test and select it.
	Ref Ref
}

// Baseline returns the y of a text item's baseline: the cap height centred in the box.
func (it *Item) Baseline() float64 { return it.Y + it.H/2 + capHeight*it.Size/2 }

// Contains reports whether the point lies in the item's box.
func (it *Item) Contains(x, y float64) bool {
	return x >= it.X && x <= it.X+it.W && y >= it.Y && y <= it.Y+it.H
}

// RefKind is what part of a model an item shows.
type RefKind uint8

const (
	RefNone    RefKind = iota // decoration: the legend, the residual stream
	RefModel                  // a column title
	RefCard                   // a block card or its header: blocks Start..End
	RefPart                   // one part: Path names it (for a folded card, the part of block Start)
	RefExperts                // the experts of a MoE block
)

// Ref says which model, blocks and part an item shows. Start and End are block indices (inclusive),
// -1 outside the blocks (embeddings, final norm, LM head).
type Ref struct {
	What       RefKind
	Model      int
	Start, End int
	Path       string
}

// HitTest returns the topmost item at the point that shows part of a model, or nil.
func (d *Diagram) HitTest(x, y float64) *Item {
	for i := len(d.Items) - 1; i >= 0; i-- {
		it := &d.Items[i]
		if it.Ref.What != RefNone && it.Contains(x, y) {
			return it
		}
	}
	return nil
}

// Theme is the set of colours around the bars.
type Theme struct {
	Name       string
	Background string
	Card       string // card fill
	CardStroke string // card outline
	Strong     string // outline of full-attention cards among sliding ones
	Text       string
	Muted      string // secondary text: block ranges, parameter counts, notes
	Stream     string // the residual-stream rule
	Idle       string // outline of the experts not chosen for a token
}

// Light and Dark are the two built-in themes.
var (
	Light = Theme{Name: "light", Background: "#ffffff", Card: "#f3f4f6", CardStroke: "#b9bec7", Strong: "#4a4f57",
		Text: "#1b1d21", Muted: "#5d636d", Stream: "#c8ccd3", Idle: "#9aa0a9"}
	Dark = Theme{Name: "dark", Background: "#16181c", Card: "#24282f", CardStroke: "#545b66", Strong: "#c9ced6",
		Text: "#eceff4", Muted: "#a7aebb", Stream: "#3d434d", Idle: "#6c7380"}
)

// Colours of the parts, from the Okabe–Ito palette, which stays distinct under the common colour-vision
// deficiencies: attention in blues, the MLP in orange and vermillion, the router in reddish purple,
// embeddings and LM head in bluish green, norms in grey. Shades within a family differ in lightness.
var roleFill = map[arch.Role]string{
	arch.RoleQ:   "#0072b2", // Okabe–Ito blue
	arch.RoleK:   "#3d9bd6",
	arch.RoleV:   "#7fc6ee",
	arch.RoleO:   "#004f7c",
	arch.RoleQKV: "#0072b2", // drawn as q, k and v parts where the widths allow

	arch.RoleGate:   "#d55e00", // vermillion
	arch.RoleUp:     "#e69f00", // orange
	arch.RoleGateUp: "#d55e00", // drawn as gate and up halves
	arch.RoleDown:   "#9c4500",

	arch.RoleRouter: "#cc79a7", // reddish purple

	arch.RoleNorm:      "#999999",
	arch.RoleFinalNorm: "#999999",

	arch.RoleTokenEmbedding: "#009e73", // bluish green
	arch.RolePosEmbedding:   "#66c5a8",
	arch.RoleLMHead:         "#009e73",
}

// Sizes in model units. They are chosen for a 1280×720 projector at scale 1: labels of 14 and more,
// bars tall enough to carry their label inside, five columns of at least minColumn in 1280.
const (
	margin      = 24
	gutter      = 28
	minColumn   = 200 // five columns fit 1280 with margins and gutters
	maxColumn   = 540 // a single model stays a stack, not a banner
	cardPad     = 10
	cardRadius  = 8
	barH        = 22
	barRadius   = 3
	bandH       = 5
	rowGap      = 5
	sectionGap  = 12
	cardGap     = 16
	headerH     = 30
	labelSize   = 14
	headerSize  = 16
	titleSize   = 21
	tightMargin = 6 // above and below the diagram with Options.Tight
	minTitle    = 15
	subSize     = 15
	labelInset  = 6 // text inside a bar starts this far from its left end
	labelGap    = 6 // text outside a bar starts this far after its right end
	minBar      = 3 // a bar is never thinner than this, so a tiny width still shows
	inputGap    = 3 // between a bar and its input-width line
	inputH      = 4 // an input-width line: thin, so it is not read as a bar
	lineFactor  = 1.3
	insideSlack = 1.1 // a label goes inside only with room to spare: an SVG viewer's font may be wider
	capHeight   = 0.7 // Go Regular's cap height, in em
)

// rowKind is the kind of one row of a card.
type rowKind uint8

const (
	rowBar rowKind = iota
	rowBand
	rowExperts // the grid of expert boxes
	rowNote    // a line of muted text
	rowNorms   // norms inside attention (q_norm, k_norm): small bands side by side, with a label
)

type row struct {
	kind   rowKind
	part   *arch.Part
	label  []string // the label, then shorter forms for narrow columns
	lw     []float64
	fill   string
	width  int64 // features the row's length shows
	former int64 // the width before a width pruning, drawn as an outline; 0 when not pruned
	// formerIn is the input width before a width pruning (down_proj, fc2), 0 when the input was not
	// cut: the row gets a thin input-width line under its bar (see inputLine).
	formerIn int64
	ex       *arch.Experts
	parts    []*arch.Part // the norms of a rowNorms
	segs     []seg        // the parts of a fused projection, left to right
}

// seg is one part of a fused projection's bar: q, k and v of a qkv, gate and up of a gate_up.
type seg struct {
	name  string
	width int64
	fill  string
}

// cardPlan is one card before placement: the blocks it stands for and its rows.
type cardPlan struct {
	start, end int
	block      *arch.Block
	att, mlp   []row
	tag        string
	dashed     bool
	strong     bool
	sameAs     string // the range of an earlier card with the same rows: this one is drawn compact
	numbers    []int  // the blocks' numbers as shown (Model.Numbers), nil for start..end
	shade      string // the importance colour of the card's header, "" when not scored (see Scores)
	candidate  bool   // a pruning candidate: outlined
	scoreTip   string // the score, for the card's tooltip
}

type columnPlan struct {
	m      Model
	cards  []cardPlan
	params int64
	level  int // the label form of its bars, see fitLevel
}

// Layout lays out the models side by side on one width scale.
func Layout(models []Model, opt Options) *Diagram {
	th := opt.Theme
	if th.Name == "" {
		th = Light
	}
	width := opt.Width
	if width <= 0 {
		width = DefaultWidth
	}
	n := len(models)
	d := &Diagram{Background: th.Background}
	if n == 0 {
		d.Width, d.Height = 2*margin, 2*margin
		return d
	}

	cols := make([]columnPlan, n)
	for i, m := range models {
		cols[i] = planColumn(i, m, opt)
		if w := widest(m.Arch); w > d.Widest {
			d.Widest = w
		}
		for _, w := range m.Former {
			d.Widest = max(d.Widest, w)
		}
		for _, w := range m.FormerIn {
			d.Widest = max(d.Widest, w)
		}
	}
	if d.Widest == 0 {
		d.Widest = 1
	}

	col := fitColumns(cols, width, d.Widest)
	inner := col - 2*cardPad
	d.Scale = inner / float64(d.Widest)
	d.Width = 2*margin + float64(n)*col + float64(n-1)*gutter

	L := &layouter{d: d, th: th, col: col, inner: inner, scores: map[int]Scores{}, tight: opt.Tight}
	for i, m := range models {
		if s, ok := scoresFor(opt, i, m); ok {
			L.scores[i] = s
		}
	}

	// Vertical bands, top to bottom: titles, LM heads, final norms, the cards (block 0 lowest), the
	// embeddings, the legend. Each band is aligned across the columns, so like sits beside like.
	top := float64(margin)
	if opt.Tight {
		top = tightMargin
	}
	y := top
	titleH := titleSize*lineFactor + subSize*lineFactor + 6
	if opt.Tight {
		// One line for every title or for none, so the bands below stay aligned across the columns.
		L.oneLine = true
		for _, c := range cols {
			name, sub := L.titleTexts(c)
			L.oneLine = L.oneLine && textWidth(name, titleSize, true)+titleGap+textWidth(sub, subSize, false) <= col
		}
		if L.oneLine {
			titleH = titleSize*lineFactor + 2
		}
	}
	for i, c := range cols {
		L.title(i, c, L.colX(i), y)
	}
	y += titleH + 10

	headY := y
	y += barH + 10
	normY := y
	y += bandH + cardGap

	// Each column stacks its cards from the top, under its final norm: a model with one card shows it
	// there whatever the others hold (Gemma 3's six cards would otherwise push every column's bars
	// below a 720-pixel screen). The j-th full card of every column, counted from the bottom (block 0's
	// card first), shares one header, attention and MLP height, so the bars of like cards line up; a
	// compact ("same widths as") card keeps its own height.
	nslots := 0
	for _, c := range cols {
		nslots = max(nslots, len(c.cards))
	}
	type slot struct{ head, att, mlp float64 }
	slots := make([]slot, nslots)
	for _, c := range cols {
		for j, cp := range c.cards {
			if cp.sameAs != "" {
				continue
			}
			slots[j].head = math.Max(slots[j].head, L.headerHeight(cp))
			slots[j].att = math.Max(slots[j].att, L.sectionHeight(cp.att))
			slots[j].mlp = math.Max(slots[j].mlp, L.sectionHeight(cp.mlp))
		}
	}
	cardH := func(cp cardPlan, s slot) float64 {
		if cp.sameAs != "" {
			return L.compactHeight(cp)
		}
		return s.head + s.att + sectionGap + s.mlp + cardPad
	}
	cardsTop, stackH := y, 0.0
	for _, c := range cols {
		h := 0.0
		for j, cp := range c.cards {
			h += cardH(cp, slots[j]) + cardGap
		}
		stackH = math.Max(stackH, h)
	}
	y += stackH
	cardsBottom := y - cardGap
	y = cardsBottom + 10
	embY := y
	nemb := 0
	for _, c := range cols {
		if c.m.Arch != nil {
			nemb = max(nemb, len(c.m.Arch.Embeddings))
		}
	}
	if nemb > 0 {
		y += float64(nemb)*(barH+rowGap) - rowGap
	}

	// The residual stream first, so everything else sits on it.
	for i, c := range cols {
		if c.m.Arch == nil {
			continue
		}
		x := L.colX(i) + col/2
		d.add(Item{Kind: KindLine, X: x - 1, Y: headY + barH/2, W: 2, H: embY - headY, Fill: th.Stream})
	}

	for i, c := range cols {
		a := c.m.Arch
		if a == nil {
			continue
		}
		x := L.colX(i)
		L.level = c.level
		if a.LMHead != nil {
			p := a.LMHead
			name, tied := lastName(p.Name), ""
			if p.Tied {
				tied = " · tied"
			}
			// Shorter forms for narrow columns: the output width (the vocabulary) matters most.
			L.wideBar(i, p, x, headY, fmt.Sprintf("%s %d → %d%s", name, p.In, p.Out, tied),
				fmt.Sprintf("%s → %d%s", name, p.Out, tied), fmt.Sprintf("%s → %d", name, p.Out))
		}
		if a.FinalNorm != nil {
			L.band(Ref{What: RefPart, Model: i, Start: -1, End: -1, Path: a.FinalNorm.Path}, a.FinalNorm, x+cardPad, normY)
		}
		// Placed from the top, block 0's card lowest; added in block order.
		cardY, cy := make([]float64, len(c.cards)), cardsTop
		for j := len(c.cards) - 1; j >= 0; j-- {
			cardY[j] = cy
			cy += cardH(c.cards[j], slots[j]) + cardGap
		}
		for j, cp := range c.cards {
			s, cy := slots[j], cardY[j]
			h := cardH(cp, s)
			if cp.sameAs != "" {
				L.card(i, cp, x, cy, h, L.headerHeight(cp), 0)
			} else {
				L.card(i, cp, x, cy, h, s.head, s.att)
			}
		}
		for k := range a.Embeddings {
			p := &a.Embeddings[k]
			name := lastName(p.Name)
			L.wideBar(i, p, x, embY+float64(k)*(barH+rowGap), fmt.Sprintf("%s %d × %d", name, p.In, p.Out),
				fmt.Sprintf("%s %d × %d", strings.TrimSuffix(name, "_tokens"), p.In, p.Out))
		}
	}

	if !opt.NoLegend {
		gap := 22.0
		if opt.Tight {
			gap = 12
		}
		y = L.legend(y + gap)
	}
	d.Height = y + top
	return d
}

// fitColumns returns the width of every column: the share of width each gets, within readable bounds,
// grown where even the shortest label form does not fit beside its bar. It sets each column's label form.
func fitColumns(cols []columnPlan, width float64, widest int64) float64 {
	n := float64(len(cols))
	col := math.Max(minColumn, math.Min(maxColumn, (width-2*margin-(n-1)*gutter)/n))
	for range 4 { // growing lengthens the bars too, so a few rounds settle it
		inner := col - 2*cardPad
		need := inner
		for k := range cols {
			var ext float64
			cols[k].level, ext = fitLevel(cols[k], inner/float64(widest), inner)
			need = math.Max(need, ext)
		}
		if need <= inner+0.5 {
			sameLevel(cols)
			return col
		}
		col += need - inner
	}
	inner := col - 2*cardPad
	for k := range cols {
		cols[k].level, _ = fitLevel(cols[k], inner/float64(widest), inner)
	}
	sameLevel(cols)
	return col
}

// sameLevel gives every column the shortest label form any of them needs, so the columns label their
// bars alike ("q 2048" everywhere, not beside "q_proj 1024 → 2048"). A shorter form never reaches
// further right, so every column still fits.
func sameLevel(cols []columnPlan) {
	level := 0
	for _, c := range cols {
		level = max(level, c.level)
	}
	for k := range cols {
		cols[k].level = level
	}
}

// labelPlace is where a bar's label goes.
type labelPlace uint8

const (
	labelInside labelPlace = iota
	labelAfter
	labelPerPart // a fused bar as long as the column: each part carries its own short label
)

// placeLabel puts form level of a bar's label (or its shortest) inside the bar where it fits with room to
// spare, else after it, and says how far right the row then reaches. A label never runs across the
// hairline between the parts of a fused bar (it would read as two): it stays on the first part, or
// goes after the bar, or, where the bar leaves no room after it, gives way to one label per part
// ("gate 8192", "up 8192").
func placeLabel(r row, level int, scale, inner float64) (k int, where labelPlace, extent float64) {
	k = min(level, len(r.label)-1)
	w := barLen(r.width, scale)
	room := w
	if len(r.segs) > 0 {
		room = float64(r.segs[0].width) * scale
	}
	switch {
	case labelFits(r.lw[k], room):
		return k, labelInside, w
	case len(r.segs) > 0 && w+labelGap+r.lw[k] > inner+0.5:
		// The parts' labels in the long style need room in every part; where one lacks it, the column
		// takes the next form (the extent says it does not fit), so its labels stay alike.
		if k < labelForms-1 && r.part != nil {
			for _, sg := range r.segs {
				if !labelFits(textWidth(fmt.Sprintf("%s %d → %d", sg.name, r.part.In, sg.width), labelSize, false), float64(sg.width)*scale) {
					return k, labelPerPart, inner + 1
				}
			}
		}
		return k, labelPerPart, w
	}
	return k, labelAfter, w + labelGap + r.lw[k]
}

// segLabel is the label of one part of a fused bar in the column's style: "gate 3072 → 8192" for the
// long forms, "gate 8192" for the short one, or "gate" where that does not fit, or "" where nothing does.
func segLabel(r row, sg seg, level int, scale float64) string {
	forms := []string{sg.name + " " + strconv.FormatInt(sg.width, 10), sg.name}
	if level < labelForms-1 && r.part != nil {
		forms = append([]string{fmt.Sprintf("%s %d → %d", sg.name, r.part.In, sg.width)}, forms...)
	}
	for _, s := range forms {
		if labelFits(textWidth(s, labelSize, false), float64(sg.width)*scale) {
			return s
		}
	}
	return ""
}

// labelForms is how many forms a bar label has, from "q_proj 2048 → 2048" down to "q 2048".
const labelForms = 3

// fitLevel picks the longest label form at which every bar of a column fits inside the bar or after it
// within the inner width (one form for the whole column, so its labels read alike), and returns how far
// the column's rows then reach.
func fitLevel(c columnPlan, scale, inner float64) (level int, need float64) {
	for level = 0; level < labelForms; level++ {
		need = 0
		for _, cp := range c.cards {
			for _, rs := range [][]row{cp.att, cp.mlp} {
				for _, r := range rs {
					switch r.kind {
					case rowBar:
						_, _, ext := placeLabel(r, level, scale, inner)
						need = math.Max(need, ext)
					case rowNorms, rowNote:
						ext := r.lw[0]
						for _, p := range r.parts {
							ext += barLen(p.Out, scale) + 4
						}
						need = math.Max(need, ext)
					}
				}
			}
		}
		if need <= inner+0.5 {
			return level, need
		}
	}
	return labelForms - 1, need
}

func labelFits(labelW, barW float64) bool { return labelW*insideSlack+2*labelInset <= barW }

func barLen(width int64, scale float64) float64 { return math.Max(minBar, float64(width)*scale) }

// widest returns the widest projection output of a model, experts included.
func widest(a *arch.Architecture) int64 {
	var w int64
	if a == nil {
		return 0
	}
	for _, b := range a.Blocks {
		for _, p := range b.Parts {
			if p.Role.IsProjection() {
				w = max(w, p.Out)
			}
		}
		if b.Experts != nil {
			for _, p := range b.Experts.Expert {
				if p.Role.IsProjection() {
					w = max(w, p.Out)
				}
			}
		}
	}
	return w
}

// planColumn turns a model into cards: one per fold group, or one per block where unfolded.
func planColumn(i int, m Model, opt Options) columnPlan {
	c := columnPlan{m: m, params: m.Params}
	a := m.Arch
	if a == nil {
		return c
	}
	if c.params == 0 {
		c.params = totalParams(a)
	}
	mixed := false // sliding and full attention both present: only then is "full" worth a mark
	for _, b := range a.Blocks {
		if b.Attention != a.Blocks[0].Attention {
			mixed = true
		}
	}
	scores, scored := scoresFor(opt, i, m)
	for _, g := range a.FoldGroups() {
		if opt.UnfoldAll || scored || opt.Unfold[FoldID{Model: i, Start: g.Start}] {
			for k := g.Start; k <= g.End; k++ {
				c.cards = append(c.cards, planCard(&a.Blocks[k], k, k, mixed))
			}
			continue
		}
		c.cards = append(c.cards, planCard(&a.Blocks[g.Start], g.Start, g.End, mixed))
	}
	if len(m.Numbers) == len(a.Blocks) {
		for k := range c.cards {
			c.cards[k].numbers = m.Numbers[c.cards[k].start : c.cards[k].end+1]
		}
	}
	setFormer(c.cards, m.Former, m.FormerIn)
	if !opt.Repeat {
		first := map[string]string{}
		for k := range c.cards {
			cp := &c.cards[k]
			sig := cardSignature(cp)
			if rng, ok := first[sig]; ok {
				cp.sameAs = rng
				continue
			}
			_, first[sig] = headerTexts(*cp)
		}
	}
	if scored {
		applyScores(&c, scores)
	}
	return c
}

// setFormer gives the bars of a width-pruned model the output and input widths they had before
// (Model.Former, Model.FormerIn).
func setFormer(cards []cardPlan, former, formerIn map[string]int64) {
	if len(former) == 0 && len(formerIn) == 0 {
		return
	}
	for k := range cards {
		for _, rs := range [][]row{cards[k].att, cards[k].mlp} {
			for j := range rs {
				r := &rs[j]
				if r.kind != rowBar || r.part == nil {
					continue
				}
				if former[r.part.Path] > r.width {
					r.former = former[r.part.Path]
				}
				if formerIn[r.part.Path] > r.part.In {
					r.formerIn = formerIn[r.part.Path]
				}
			}
		}
	}
}

// cardSignature is equal for cards whose rows draw the same: same kinds, widths and labels.
func cardSignature(cp *cardPlan) string {
	var b strings.Builder
	for _, rs := range [][]row{cp.att, cp.mlp} {
		for _, r := range rs {
			b.WriteString(strconv.Itoa(int(r.kind)) + ":" + strconv.FormatInt(r.width, 10) + ":" + strconv.FormatInt(r.former, 10) + ":" + strconv.FormatInt(r.formerIn, 10) + ":")
			if len(r.label) > 0 {
				b.WriteString(r.label[0])
			}
			if r.ex != nil {
				b.WriteString(expertNote(r.ex))
			}
			b.WriteString(";")
		}
		b.WriteString("|")
	}
	return b.String()
}

func totalParams(a *arch.Architecture) int64 {
	var n int64
	for _, p := range a.Embeddings {
		n += p.Params
	}
	for _, b := range a.Blocks {
		n += b.Params
	}
	for _, p := range []*arch.Part{a.FinalNorm, a.LMHead} {
		if p != nil {
			n += p.Params
		}
	}
	for _, p := range a.Other {
		n += p.Params
	}
	return n
}

// normPlace is where a norm sits in the block's computation.
type normPlace uint8

const (
	beforeAttn normPlace = iota
	insideAttn           // q_norm, k_norm: on q and k, before o
	afterAttn
	beforeMLP
	afterMLP
)

// placeNorm places a norm by its name, relative to the block, following transformers' naming. The
// description lists norms in registration order, which for Llama puts both after the MLP, so the name is
// the only clue. "post_attention_layernorm" is the pre-MLP norm in Llama-style blocks and a true post-norm
// where a "pre_feedforward_layernorm" follows it (Gemma 2 and 3).
func placeNorm(name string, preMLP bool) normPlace {
	if first, _, nested := strings.Cut(name, "."); nested {
		if strings.Contains(first, "mlp") || strings.Contains(first, "feed_forward") {
			return beforeMLP
		}
		return insideAttn
	}
	mlpWord := strings.Contains(name, "feedforward") || strings.Contains(name, "ffn") || strings.Contains(name, "mlp")
	switch {
	case mlpWord && strings.HasPrefix(name, "post"):
		return afterMLP
	case mlpWord:
		return beforeMLP
	case name == "post_attention_layernorm" && preMLP:
		return afterAttn
	case name == "post_attention_layernorm", name == "ln_2", name == "final_layer_norm":
		return beforeMLP
	}
	return beforeAttn
}

// attnRank and mlpRank order a block's bars as the computation runs, whatever the registration order
// (OPT registers k, v, q; Mixtral's experts w1, w2, w3, which are gate, down, up).
var (
	attnRank = map[arch.Role]int{arch.RoleQ: 0, arch.RoleK: 1, arch.RoleV: 2, arch.RoleQKV: 3, arch.RoleNorm: 4, arch.RoleO: 5}
	mlpRank  = map[arch.Role]int{arch.RoleRouter: 0, arch.RoleGate: 1, arch.RoleUp: 2, arch.RoleGateUp: 3, arch.RoleDown: 4}
)

func sortRows(rs []row, rank map[arch.Role]int) {
	sort.SliceStable(rs, func(i, j int) bool { return rank[rs[i].part.Role] < rank[rs[j].part.Role] })
}

func planCard(b *arch.Block, start, end int, mixed bool) cardPlan {
	cp := cardPlan{start: start, end: end, block: b}
	switch {
	case b.Attention == "sliding":
		cp.dashed = true
		cp.tag = "sliding"
		if b.Window > 0 {
			cp.tag += " " + strconv.Itoa(b.Window)
		}
	case b.Attention == "full" && mixed:
		cp.tag, cp.strong = "full attention", true
	}
	// preMLP: a norm other than post_attention_layernorm leads into the MLP, so that one is a true
	// post-attention norm.
	preMLP := false
	for _, p := range b.Parts {
		if p.Role == arch.RoleNorm && placeNorm(p.Name, false) == beforeMLP && p.Name != "post_attention_layernorm" {
			preMLP = true
		}
	}
	var norms [5][]row
	var attn, mlp []row
	for k := range b.Parts {
		p := &b.Parts[k]
		switch {
		case p.Role == arch.RoleNorm:
			at := placeNorm(p.Name, preMLP)
			norms[at] = append(norms[at], bandRow(p))
		case p.Role == arch.RoleQ, p.Role == arch.RoleK, p.Role == arch.RoleV, p.Role == arch.RoleQKV, p.Role == arch.RoleO:
			attn = append(attn, barRow(p, lastName(p.Name)))
		case p.Role.IsProjection():
			mlp = append(mlp, barRow(p, partLabel(p.Name)))
		}
	}
	splitFused(attn, mlp)
	if in := norms[insideAttn]; len(in) > 0 {
		attn = append(attn, qkNormRow(in))
	}
	sortRows(attn, attnRank)
	sortRows(mlp, mlpRank)
	cp.att = append(append(norms[beforeAttn], attn...), norms[afterAttn]...)

	if e := b.Experts; e != nil {
		routers := 0
		for routers < len(mlp) && mlp[routers].part.Role == arch.RoleRouter {
			routers++
		}
		var bars []row
		for k := range e.Expert {
			p := &e.Expert[k]
			if p.Role.IsProjection() {
				bars = append(bars, barRow(p, lastName(p.Name)))
			}
		}
		sortRows(bars, mlpRank)
		ex := append([]row{{kind: rowExperts, ex: e}, noteRow(expertNote(e)), noteRow(fmt.Sprintf("one expert of %d:", e.Count))}, bars...)
		mlp = append(append(append([]row{}, mlp[:routers]...), ex...), mlp[routers:]...)
	}
	cp.mlp = append(append(norms[beforeMLP], mlp...), norms[afterMLP]...)
	return cp
}

// splitFused divides the bars of fused projections into their parts, whose widths follow from the
// others: a qkv holds q (as wide as o_proj's input, the heads × head_dim it projects back) and k and v of
// equal width; a gate_up holds gate and up of equal width. A width that does not split so stays whole.
func splitFused(attn, mlp []row) {
	var qWidth int64
	for _, r := range attn {
		if r.part.Role == arch.RoleO {
			qWidth = r.part.In
		}
	}
	for k := range attn {
		r := &attn[k]
		if r.part.Role != arch.RoleQKV || qWidth <= 0 {
			continue
		}
		if kv := r.part.Out - qWidth; kv > 0 && kv%2 == 0 {
			r.segs = []seg{{"q", qWidth, roleFill[arch.RoleQ]}, {"k", kv / 2, roleFill[arch.RoleK]}, {"v", kv / 2, roleFill[arch.RoleV]}}
		}
	}
	for k := range mlp {
		r := &mlp[k]
		if r.part != nil && r.part.Role == arch.RoleGateUp && r.part.Out%2 == 0 {
			r.segs = []seg{{"gate", r.part.Out / 2, roleFill[arch.RoleGate]}, {"up", r.part.Out / 2, roleFill[arch.RoleUp]}}
		}
	}
}

func expertNote(e *arch.Experts) string {
	if e.TopK > 0 {
		return fmt.Sprintf("%d of %d experts per token", e.TopK, e.Count)
	}
	return fmt.Sprintf("%d experts", e.Count)
}

// barRow makes a projection's row. Its label names the projection and its widths ("q_proj 2048 → 2048");
// narrow columns get "q 2048 → 2048", then "q 2048".
func barRow(p *arch.Part, name string) row {
	short := strings.TrimSuffix(name, "_proj")
	if len(short) == 1 && !strings.Contains("qkvo", short) { // "c" of c_proj names nothing; q, k, v, o do
		short = name
	}
	// Always labelForms forms, so one level means one style in every column (c_attn has no shorter name:
	// its second form repeats the first).
	forms := []string{fmt.Sprintf("%s %d → %d", name, p.In, p.Out), fmt.Sprintf("%s %d → %d", short, p.In, p.Out),
		fmt.Sprintf("%s %d", short, p.Out)}
	r := row{kind: rowBar, part: p, label: forms, fill: roleFill[p.Role], width: p.Out}
	for _, f := range forms {
		r.lw = append(r.lw, textWidth(f, labelSize, false))
	}
	return r
}

func bandRow(p *arch.Part) row {
	return row{kind: rowBand, part: p, fill: roleFill[arch.RoleNorm], width: p.Out}
}

// qkNormRow gathers the norms applied to q and k into one labelled row: "q_norm · k_norm 128".
func qkNormRow(in []row) row {
	r := row{kind: rowNorms, part: in[0].part, fill: roleFill[arch.RoleNorm]}
	var names []string
	same := true
	for _, n := range in {
		r.parts = append(r.parts, n.part)
		names = append(names, lastName(n.part.Name))
		r.width += n.part.Out
		same = same && n.part.Out == in[0].part.Out
	}
	label := strings.Join(names, " · ")
	if same {
		label += " " + strconv.FormatInt(in[0].part.Out, 10)
	}
	r.label, r.lw = []string{label}, []float64{textWidth(label, labelSize, false)}
	return r
}

func noteRow(s string) row {
	return row{kind: rowNote, label: []string{s}, lw: []float64{textWidth(s, labelSize, false)}}
}

// lastName is the last dotted component: q_proj for self_attn.q_proj.
func lastName(name string) string { return name[strings.LastIndexByte(name, '.')+1:] }

// partLabel names an MLP part by its last component, keeping the sub-module when it is not the MLP
// itself (shared_expert.gate_proj beside the experts' gate_proj).
func partLabel(name string) string {
	parts := strings.Split(name, ".")
	if len(parts) >= 3 {
		return strings.Join(parts[len(parts)-2:], ".")
	}
	return parts[len(parts)-1]
}

// layouter places items for one diagram.
type layouter struct {
	d      *Diagram
	th     Theme
	col    float64
	inner  float64
	level  int            // the label form of the column being drawn
	scores map[int]Scores // the scored models, by index
	tight  bool           // Options.Tight
	// oneLine: the titles' name and parameter line share one line (Options.Tight, where all fit).
	oneLine bool
}

// titleGap is the space between a model's name and its parameter line when they share a line.
const titleGap = 12

func (d *Diagram) add(it Item) { d.Items = append(d.Items, it) }

func (L *layouter) colX(i int) float64 { return margin + float64(i)*(L.col+gutter) }

// text adds a line of text whose box is one line tall and returns its width.
func (L *layouter) text(x, y float64, s string, size float64, bold bool, fill string, ref Ref) float64 {
	return L.textIn(x, y, size*lineFactor, s, size, bold, fill, ref)
}

// textIn adds a line of text centred vertically in a box h tall (a bar's label) and returns its width.
func (L *layouter) textIn(x, y, h float64, s string, size float64, bold bool, fill string, ref Ref) float64 {
	w := textWidth(s, size, bold)
	L.d.add(Item{Kind: KindText, X: x, Y: y, W: w, H: h, Text: s, Size: size, Bold: bold, Fill: fill, Ref: ref})
	return w
}

// titleTexts returns a column's title: the model's name and its parameter line.
func (L *layouter) titleTexts(c columnPlan) (name, sub string) {
	sub = facts.ShortCount(c.params) + " parameters"
	if c.m.Arch != nil {
		sub += fmt.Sprintf(" · %d blocks", len(c.m.Arch.Blocks))
	}
	return c.m.Name, sub
}

func (L *layouter) title(i int, c columnPlan, x, y float64) {
	ref := Ref{What: RefModel, Model: i, Start: -1, End: -1}
	name, sub := L.titleTexts(c)
	if L.oneLine {
		w := L.text(x, y, name, titleSize, true, L.th.Text, ref)
		// The parameter line's baseline on the name's: both boxes are centred on their cap heights.
		dy := (titleSize*lineFactor-subSize*lineFactor)/2 + capHeight*(titleSize-subSize)/2
		L.text(x+w+titleGap, y+dy, sub, subSize, false, L.th.Muted, ref)
		return
	}
	name, size := fitText(name, titleSize, minTitle, true, L.col)
	L.text(x, y, name, size, true, L.th.Text, ref)
	sub, s2 := fitText(sub, subSize, labelSize, false, L.col)
	L.text(x, y+titleSize*lineFactor+2, sub, s2, false, L.th.Muted, ref)
}

// fitText shrinks a title down to min, then shortens it with an ellipsis, so it fits width.
func fitText(s string, size, min float64, bold bool, width float64) (string, float64) {
	for ; size > min && textWidth(s, size, bold) > width; size-- {
	}
	if textWidth(s, size, bold) <= width {
		return s, size
	}
	r := []rune(s)
	for len(r) > 1 && textWidth(string(r)+"…", size, bold) > width {
		r = r[:len(r)-1]
	}
	return string(r) + "…", size
}

// wideBar draws an embedding or the LM head across the whole column: their vocabulary-sized widths are
// off the projection scale, so the label carries the numbers and the legend says they are not to scale
// (distilgpt2's wte of 50257 rows and wpe of 1024 are equally long). It takes the first of the label's
// forms that fits the column.
func (L *layouter) wideBar(i int, p *arch.Part, x, y float64, forms ...string) {
	ref := Ref{What: RefPart, Model: i, Start: -1, End: -1, Path: p.Path}
	L.d.add(Item{Kind: KindBar, X: x, Y: y, W: L.col, H: barH, Fill: roleFill[p.Role], Radius: barRadius, Ref: ref, Tip: partTip(p)})
	label := forms[len(forms)-1]
	for _, f := range forms {
		if textWidth(f, labelSize, false) <= L.col-2*labelInset {
			label = f
			break
		}
	}
	label, size := fitText(label, labelSize, labelSize, false, L.col-2*labelInset)
	L.textIn(x+labelInset, y, barH, label, size, false, textOn(roleFill[p.Role]), ref)
}

func (L *layouter) band(ref Ref, p *arch.Part, x, y float64) {
	L.d.add(Item{Kind: KindBand, X: x, Y: y, W: barLen(p.Out, L.d.Scale), H: bandH, Fill: roleFill[arch.RoleNorm], Radius: 1, Ref: ref, Tip: partTip(p)})
}

func (L *layouter) headerHeight(cp cardPlan) float64 {
	if cp.tag != "" && L.headerLeftWidth(cp)+16+textWidth(cp.tag, labelSize, cp.strong || cp.candidate) > L.inner {
		return headerH + labelSize*lineFactor
	}
	return headerH
}

// sameText is what a compact card says: the card whose bars it repeats.
func sameText(cp cardPlan) string { return "same widths as " + cp.sameAs }

// sameInHeader reports whether a compact card says what it repeats on its header line, between the
// block range and the tag: with Options.Tight, where the line has room.
func (L *layouter) sameInHeader(cp cardPlan) bool {
	if !L.tight || cp.sameAs == "" || cp.shade != "" {
		return false
	}
	w := L.headerLeftWidth(cp) + 16 + textWidth(sameText(cp), labelSize, false)
	if cp.tag != "" {
		w += 16 + textWidth(cp.tag, labelSize, cp.strong || cp.candidate)
	}
	return w <= L.inner
}

// compactHeight is the height of a card drawn as its header and the card it repeats.
func (L *layouter) compactHeight(cp cardPlan) float64 {
	if cp.shade != "" || L.sameInHeader(cp) {
		return L.headerHeight(cp) // a shaded card says which it repeats in its tooltip: the stack stays short
	}
	if L.tight {
		return L.headerHeight(cp) + labelSize*lineFactor + 2
	}
	return L.headerHeight(cp) + labelSize*lineFactor + cardPad - 2
}

func (L *layouter) headerLeftWidth(cp cardPlan) float64 {
	count, rng := headerTexts(cp)
	w := textWidth(rng, subSize, false)
	if count != "" {
		w += textWidth(count, headerSize, true) + 8
	}
	return w
}

// headerTexts returns the fold count ("16 ×", empty for one block) and the block range.
func headerTexts(cp cardPlan) (string, string) {
	if cp.numbers != nil {
		var runs []string
		for _, r := range facts.Runs(cp.numbers) {
			if r[0] == r[1] {
				runs = append(runs, strconv.Itoa(r[0]))
			} else {
				runs = append(runs, strconv.Itoa(r[0])+"–"+strconv.Itoa(r[1]))
			}
		}
		if len(cp.numbers) == 1 {
			return "", "block " + runs[0]
		}
		return strconv.Itoa(len(cp.numbers)) + " ×", "blocks " + strings.Join(runs, ", ")
	}
	if cp.start == cp.end {
		return "", "block " + strconv.Itoa(cp.start)
	}
	return strconv.Itoa(cp.end-cp.start+1) + " ×", "blocks " + strconv.Itoa(cp.start) + "–" + strconv.Itoa(cp.end)
}

func (L *layouter) rowHeight(r row) float64 {
	switch r.kind {
	case rowBand:
		return bandH
	case rowNote, rowNorms:
		return labelSize * lineFactor
	case rowExperts:
		box, per := expertGrid(r.ex.Count, L.inner)
		rows := (r.ex.Count + per - 1) / per
		return float64(rows)*(box+expertGap) - expertGap
	}
	if r.formerIn > 0 {
		return barH + inputGap + inputH
	}
	return barH
}

func (L *layouter) sectionHeight(rs []row) float64 {
	h := 0.0
	for k, r := range rs {
		if k > 0 {
			h += rowGap
		}
		h += L.rowHeight(r)
	}
	return h
}

const expertGap = 3

// expertGrid sizes the expert boxes: large for a handful (Mixtral's 8), small for many (128).
func expertGrid(count int, width float64) (box float64, perRow int) {
	box = 18
	if count > 32 {
		box = 11
	}
	perRow = max(1, int((width+expertGap)/(box+expertGap)))
	return box, perRow
}

func (L *layouter) card(i int, cp cardPlan, x, y, h, headH, attH float64) {
	th := L.th
	ref := Ref{What: RefCard, Model: i, Start: cp.start, End: cp.end}
	stroke, sw := th.CardStroke, 1.0
	if cp.strong {
		stroke, sw = th.Strong, 2
	}
	tip := fmt.Sprintf("%s · %s params", cp.block.Class, facts.ShortCount(cp.block.Params))
	if cp.end > cp.start {
		tip += " each"
	}
	tip += cp.scoreTip
	if cp.shade != "" && cp.sameAs != "" {
		tip += " · same widths as " + cp.sameAs
	}
	// A scored card carries its shade in the header, or all over where it is only a header (compact),
	// its header text in black or white for contrast; a candidate's outline goes on top of it all.
	fill, text, muted := th.Card, th.Text, th.Muted
	if cp.shade != "" {
		text, muted = textOn(cp.shade), textOn(cp.shade)
		if cp.sameAs != "" {
			fill = cp.shade
		}
	}
	if cp.candidate {
		defer L.candidateOutline(x, y, L.col, h)
	}
	L.d.add(Item{Kind: KindCard, X: x, Y: y, W: L.col, H: h, Fill: fill, Stroke: stroke, StrokeWidth: sw,
		Dashed: cp.dashed, Radius: cardRadius, Ref: ref, Tip: tip})
	if cp.shade != "" && cp.sameAs == "" {
		L.headerBand(x, y, L.col, headH, sw/2, cp.shade, ref)
	}

	count, rng := headerTexts(cp)
	tx, ty := x+cardPad, y+4
	if count != "" {
		tx += L.text(tx, ty, count, headerSize, true, text, ref) + 8
	}
	L.text(tx, ty+(headerSize-subSize)/2, rng, subSize, false, muted, ref)
	if cp.tag != "" {
		tw := textWidth(cp.tag, labelSize, cp.strong || cp.candidate)
		tagY := ty + (headerSize-labelSize)/2
		if headH > headerH {
			tagY = ty + headerSize*lineFactor
		}
		col := muted
		if cp.strong {
			col = text
		}
		L.text(x+L.col-cardPad-tw, tagY, cp.tag, labelSize, cp.strong || cp.candidate, col, ref)
	}

	if cp.sameAs != "" {
		switch {
		case L.sameInHeader(cp):
			L.text(tx+textWidth(rng, subSize, false)+16, ty+(headerSize-labelSize)/2, sameText(cp), labelSize, false, muted, ref)
		case cp.shade == "":
			L.text(x+cardPad, y+headH-2, sameText(cp), labelSize, false, muted, ref)
		}
		return
	}
	L.rows(i, cp, cp.att, x+cardPad, y+headH)
	L.rows(i, cp, cp.mlp, x+cardPad, y+headH+attH+sectionGap)
}

func (L *layouter) rows(i int, cp cardPlan, rs []row, x, y float64) {
	for _, r := range rs {
		h := L.rowHeight(r)
		ref := Ref{What: RefPart, Model: i, Start: cp.start, End: cp.end}
		if r.part != nil {
			ref.Path = r.part.Path
		}
		switch r.kind {
		case rowBand:
			L.band(ref, r.part, x, y)
		case rowNote:
			L.text(x, y, r.label[0], labelSize, false, L.th.Muted, Ref{What: RefExperts, Model: i, Start: cp.start, End: cp.end})
		case rowExperts:
			L.experts(i, cp, r.ex, x, y)
		case rowNorms:
			bx := x
			for _, p := range r.parts {
				pref := ref
				pref.Path = p.Path
				L.band(pref, p, bx, y+(h-bandH)/2)
				bx += barLen(p.Out, L.d.Scale) + 4
			}
			L.textIn(bx+labelGap-4, y, h, r.label[0], labelSize, false, L.th.Muted, ref)
		case rowBar:
			w := barLen(r.width, L.d.Scale)
			tip := partTip(r.part)
			if len(r.segs) > 0 {
				var sizes []string
				for _, sg := range r.segs {
					sizes = append(sizes, sg.name+" "+strconv.FormatInt(sg.width, 10))
				}
				tip += " · fused: " + strings.Join(sizes, " + ")
			}
			if r.former > 0 {
				// Under the bar: the width it had before the width pruning, as a faint dashed outline.
				tip += fmt.Sprintf(" · %d wide before width pruning", r.former)
				L.d.add(Item{Kind: KindBar, X: x, Y: y, W: barLen(r.former, L.d.Scale), H: barH, Stroke: L.th.Idle,
					StrokeWidth: 1, Dashed: true, Radius: barRadius, Ref: ref, Tip: tip})
			}
			if r.formerIn > 0 {
				tip += fmt.Sprintf(" · input %d wide, %d before width pruning (the thin line under the bar)", r.part.In, r.formerIn)
			}
			L.d.add(Item{Kind: KindBar, X: x, Y: y, W: w, H: barH, Fill: r.fill, Radius: math.Min(barRadius, w/2), Ref: ref, Tip: tip})
			if r.formerIn > 0 {
				L.inputLine(r, ref, tip, x, y+barH+inputGap)
			}
			// The parts after the first are drawn over the whole bar, each after a hairline in the card's
			// colour that shows where one part ends.
			sx := x
			for k, sg := range r.segs {
				sw := float64(sg.width) * L.d.Scale
				if k > 0 {
					L.d.add(Item{Kind: KindBar, X: sx, Y: y, W: x + w - sx, H: barH, Fill: sg.fill, Radius: barRadius, Ref: ref, Tip: tip})
					L.d.add(Item{Kind: KindLine, X: sx - 0.75, Y: y, W: 1.5, H: barH, Fill: L.th.Card})
				}
				sx += sw
			}
			switch k, where, _ := placeLabel(r, L.level, L.d.Scale, L.inner); where {
			case labelInside:
				L.textIn(x+labelInset, y, barH, r.label[k], labelSize, false, textOn(r.fill), ref)
			case labelAfter:
				L.textIn(x+w+labelGap, y, barH, r.label[k], labelSize, false, L.th.Text, ref)
			case labelPerPart:
				sx := x
				for _, sg := range r.segs {
					if text := segLabel(r, sg, k, L.d.Scale); text != "" {
						L.textIn(sx+labelInset, y, barH, text, labelSize, false, textOn(sg.fill), ref)
					}
					sx += float64(sg.width) * L.d.Scale
				}
			}
		}
		y += h + rowGap
	}
}

// inputLine draws, at y under a bar whose input was cut by a width pruning (down_proj, fc2), the input
// width it has now as a thin line in the bar's colour, over a faint dashed outline of the input width it
// had before: the bar's length is its output width, which a width pruning keeps, so this line is what
// shrinks with the neurons kept, beside gate and up. Same dash and colour as the bars' own outlines.
func (L *layouter) inputLine(r row, ref Ref, tip string, x, y float64) {
	L.d.add(Item{Kind: KindLine, X: x, Y: y, W: barLen(r.formerIn, L.d.Scale), H: inputH, Stroke: L.th.Idle,
		StrokeWidth: 1, Dashed: true, Ref: ref, Tip: tip})
	// Half a unit taller on each side than the outline, so the outline's dashes (centred on its edges)
	// do not bead the kept line.
	L.d.add(Item{Kind: KindLine, X: x, Y: y - 0.5, W: barLen(r.part.In, L.d.Scale), H: inputH + 1, Fill: r.fill, Ref: ref, Tip: tip})
}

func (L *layouter) experts(i int, cp cardPlan, e *arch.Experts, x, y float64) {
	box, per := expertGrid(e.Count, L.inner)
	ref := Ref{What: RefExperts, Model: i, Start: cp.start, End: cp.end}
	tip := expertNote(e) + " · " + facts.ShortCount(e.Params) + " params in all"
	if !e.Uniform {
		tip += " · experts differ in size"
	}
	for k := range e.Count {
		it := Item{Kind: KindExpert, X: x + float64(k%per)*(box+expertGap), Y: y + float64(k/per)*(box+expertGap),
			W: box, H: box, Radius: 2, Ref: ref, Tip: tip}
		if k < e.TopK {
			it.Fill = roleFill[arch.RoleUp]
		} else {
			it.Stroke, it.StrokeWidth = L.th.Idle, 1
		}
		L.d.add(it)
	}
}

func partTip(p *arch.Part) string {
	var s string
	switch p.Role {
	case arch.RoleNorm, arch.RoleFinalNorm:
		s = fmt.Sprintf("%s · %s(%d)", p.Path, p.Class, p.Out)
	case arch.RoleTokenEmbedding, arch.RolePosEmbedding:
		s = fmt.Sprintf("%s · %s(%d, %d)", p.Path, p.Class, p.In, p.Out)
	default:
		s = fmt.Sprintf("%s · %s(%d → %d)", p.Path, p.Class, p.In, p.Out)
	}
	if p.Tied {
		return s + " · tied to the input embeddings"
	}
	return s + " · " + facts.ShortCount(p.Params) + " params"
}

// textOn picks black or white text for the best contrast on a fill.
func textOn(fill string) string {
	c := ParseColor(fill)
	lin := func(v uint8) float64 {
		f := float64(v) / 255
		if f <= 0.04045 {
			return f / 12.92
		}
		return math.Pow((f+0.055)/1.055, 2.4)
	}
	lum := 0.2126*lin(c.R) + 0.7152*lin(c.G) + 0.0722*lin(c.B)
	// Contrast against white is 1.05/(lum+0.05), against near-black (lum+0.05)/0.06.
	if 1.05/(lum+0.05) >= (lum+0.05)/0.06 {
		return "#ffffff"
	}
	return "#111111"
}

// legend draws the colour key and the scale bar below the stacks, wrapping at the diagram's width, and
// returns the y below it.
func (L *layouter) legend(y float64) float64 {
	d, th := L.d, L.th
	present := map[string]bool{}
	for _, it := range d.Items {
		switch {
		case it.Kind == KindCard && it.Dashed:
			present["sliding"] = true
		case it.Kind == KindExpert:
			present["experts"] = true
		case it.Fill == roleFill[arch.RoleRouter] && it.Kind == KindBar:
			present["router"] = true
		case it.Kind == KindBar && it.Dashed && it.Ref.What == RefPart:
			present["former"] = true
		case it.Kind == KindLine && it.Dashed && it.Ref.What == RefPart:
			present["input"] = true
		}
	}
	type entry struct {
		kind   ItemKind
		fills  []string
		label  string
		former bool // drawn kept over a dashed outline of its former length, as in a width what-if
	}
	entries := []entry{
		{KindBar, []string{roleFill[arch.RoleQ], roleFill[arch.RoleK], roleFill[arch.RoleV], roleFill[arch.RoleO]}, "attention", false},
		{KindBar, []string{roleFill[arch.RoleGate], roleFill[arch.RoleUp], roleFill[arch.RoleDown]}, "MLP", false},
	}
	if present["router"] {
		entries = append(entries, entry{KindBar, []string{roleFill[arch.RoleRouter]}, "router", false})
	}
	if present["experts"] {
		entries = append(entries, entry{KindExpert, []string{roleFill[arch.RoleUp]}, "experts chosen per token", false})
	}
	entries = append(entries,
		entry{KindBand, []string{roleFill[arch.RoleNorm]}, "norm", false},
		entry{KindBar, []string{roleFill[arch.RoleTokenEmbedding]}, "embeddings, LM head (not to scale)", false})
	if present["sliding"] {
		entries = append(entries, entry{KindCard, nil, "sliding-window attention", false})
	}
	// A width what-if: what the dashed outlines and the thin lines under down and fc2 mean.
	if present["former"] {
		entries = append(entries, entry{kind: KindBar, fills: []string{roleFill[arch.RoleUp]}, label: "dashed: width before pruning", former: true})
	}
	if present["input"] {
		entries = append(entries, entry{kind: KindLine, fills: []string{roleFill[arch.RoleDown]}, label: "thin line: input width", former: true})
	}

	x0, right := float64(margin), d.Width-margin
	x, lineH := x0, labelSize*lineFactor
	place := func(w float64) {
		if x > x0 && x+w > right {
			x, y = x0, y+lineH+8
		}
	}
	for _, e := range entries {
		sw := 8.0 * float64(max(1, len(e.fills)))
		switch {
		case e.former: // long enough for the dashes past the kept part to read
			sw = 40
		case e.kind == KindCard:
			sw = 26
		}
		tw := textWidth(e.label, labelSize, false)
		place(sw + 6 + tw)
		switch e.kind {
		case KindCard:
			d.add(Item{Kind: KindCard, X: x, Y: y + 2, W: sw, H: lineH - 4, Fill: th.Card, Stroke: th.CardStroke, StrokeWidth: 1, Dashed: true, Radius: 4})
		case KindBand:
			d.add(Item{Kind: KindBand, X: x, Y: y + (lineH-bandH)/2, W: sw, H: bandH, Fill: e.fills[0], Radius: 1})
		case KindExpert:
			d.add(Item{Kind: KindExpert, X: x, Y: y + (lineH-11)/2, W: 11, H: 11, Fill: e.fills[0], Radius: 2})
			sw = 11
		case KindLine: // a kept input width over its dashed former one
			d.add(Item{Kind: KindLine, X: x, Y: y + (lineH-inputH)/2, W: sw, H: inputH, Stroke: th.Idle, StrokeWidth: 1, Dashed: true})
			d.add(Item{Kind: KindLine, X: x, Y: y + (lineH-inputH)/2 - 0.5, W: sw * 0.6, H: inputH + 1, Fill: e.fills[0]})
		case KindBar:
			if e.former {
				d.add(Item{Kind: KindBar, X: x, Y: y + 3, W: sw, H: lineH - 6, Stroke: th.Idle, StrokeWidth: 1, Dashed: true, Radius: barRadius})
				d.add(Item{Kind: KindBar, X: x, Y: y + 3, W: sw * 0.6, H: lineH - 6, Fill: e.fills[0], Radius: barRadius})
				break
			}
			fallthrough
		default:
			for k, f := range e.fills {
				d.add(Item{Kind: KindBar, X: x + float64(k)*8, Y: y + 3, W: 8, H: lineH - 6, Fill: f})
			}
		}
		L.text(x+sw+6, y, e.label, labelSize, false, th.Text, Ref{})
		x += sw + 6 + tw + 22
	}

	// The scale bar: a round number of features between 40 and 160 units long.
	feat := int64(256)
	for float64(feat)*d.Scale < 40 {
		feat *= 2
	}
	for feat > 1 && float64(feat)*d.Scale > 160 {
		feat /= 2
	}
	L.scoreLegend(&x, &y, lineH, place)
	label := "bar length = output width: " + strconv.FormatInt(feat, 10) + " features"
	w := float64(feat) * d.Scale
	place(w + 8 + textWidth(label, labelSize, false))
	d.add(Item{Kind: KindBar, X: x, Y: y + 4, W: w, H: lineH - 8, Fill: th.Text, Radius: 2})
	L.text(x+w+8, y, label, labelSize, false, th.Text, Ref{})
	return y + lineH
}
