package render

import (
	"fmt"
	"math"
	"strconv"
)

// Scores are one model's block importance scores, drawn as the shade of each block's card header (the
// whole card where it is drawn compact) on the viridis scale, with the pruning candidates outlined.
type Scores struct {
	// Metric names the scores in the legend and the tooltips: "BI", "angular n=2", "ΔNLL".
	Metric string
	// Values holds one score per block, in block order, higher meaning more important; NaN for a block
	// without one (the last n−1 blocks have no n-block span starting at them). Scores whose length is not
	// the model's number of blocks are ignored.
	Values []float64
	// Candidates are the blocks marked as pruning candidates.
	Candidates []int
}

// CandidateStroke is the outline of a pruning candidate's card: Okabe–Ito vermillion, which viridis
// never comes near, so the mark reads on every shade and under the common colour-vision deficiencies.
const CandidateStroke = "#d55e00"

// candidateWidth is the width of a candidate's outline, in model units: three times a card's.
const candidateWidth = 3

// viridis is matplotlib's viridis colour map at eleven evenly spaced stops (0, 0.1, …, 1): perceptually
// uniform, readable in greyscale and under the common colour-vision deficiencies, dark for low values.
var viridis = [...][3]uint8{
	{0x44, 0x01, 0x54}, {0x48, 0x24, 0x75}, {0x41, 0x44, 0x87}, {0x35, 0x5f, 0x8d}, {0x2a, 0x78, 0x8e},
	{0x21, 0x91, 0x8c}, {0x22, 0xa8, 0x84}, {0x44, 0xbf, 0x70}, {0x7a, 0xd1, 0x51}, {0xbd, 0xdf, 0x26},
	{0xfd, 0xe7, 0x25},
}

// ScoreColor returns the viridis colour of t in [0, 1] (clamped) as "#rrggbb": dark purple at 0, yellow
// at 1, interpolated linearly between the stops.
func ScoreColor(t float64) string {
	if math.IsNaN(t) {
		t = 0
	}
	t = math.Max(0, math.Min(1, t)) * float64(len(viridis)-1)
	k := min(int(t), len(viridis)-2)
	f := t - float64(k)
	var c [3]uint8
	for ch := range c {
		a, b := float64(viridis[k][ch]), float64(viridis[k+1][ch])
		c[ch] = uint8(math.Round(a + (b-a)*f))
	}
	return fmt.Sprintf("#%02x%02x%02x", c[0], c[1], c[2])
}

// Range returns the lowest and highest finite score; ok is false when there is none.
func (s Scores) Range() (lo, hi float64, ok bool) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range s.Values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		lo, hi, ok = math.Min(lo, v), math.Max(hi, v), true
	}
	return lo, hi, ok
}

// Shade returns block i's colour: its rank among the model's finite scores on the viridis scale, the
// lowest dark, the highest yellow (ties share their mean rank; the middle when all are equal); ok is
// false for a block without a score. A rank scale, not the scores' range: one outlier (block 0, or the
// last block, whose BI is often several times the rest) would flatten every other block to one shade,
// and the low scores are the ones a pruning decision needs told apart. The legend says so.
func (s Scores) Shade(i int) (string, bool) {
	if i < 0 || i >= len(s.Values) || math.IsNaN(s.Values[i]) || math.IsInf(s.Values[i], 0) {
		return "", false
	}
	v := s.Values[i]
	below, equal, n := 0, 0, 0
	for _, w := range s.Values {
		if math.IsNaN(w) || math.IsInf(w, 0) {
			continue
		}
		n++
		switch {
		case w < v:
			below++
		case w == v:
			equal++
		}
	}
	t := 0.5
	if n > 1 && equal < n {
		t = (float64(below) + float64(equal-1)/2) / float64(n-1)
	}
	return ScoreColor(t), true
}

// FormatScore writes a score with three significant digits, as the cards, the chart and the table
// show it: 0.0123, 0.412, 2.35; "—" for none.
func FormatScore(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "—"
	case a == 0:
		return "0"
	case a < 0.001:
		return strconv.FormatFloat(v, 'e', 1, 64)
	case a < 1:
		return strconv.FormatFloat(v, 'f', 2-int(math.Floor(math.Log10(a))), 64)
	case a < 100:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// scoresFor returns model i's scores when they fit its blocks.
func scoresFor(opt Options, i int, m Model) (Scores, bool) {
	s, ok := opt.Scores[i]
	if !ok || m.Arch == nil || len(s.Values) != len(m.Arch.Blocks) || len(s.Values) == 0 {
		return Scores{}, false
	}
	return s, true
}

// applyScores shades the cards of a scored column, one block each (planColumn unfolds them): the
// header tag gains the score, and a candidate's the word.
func applyScores(c *columnPlan, s Scores) {
	cand := map[int]bool{}
	for _, b := range s.Candidates {
		cand[b] = true
	}
	for k := range c.cards {
		cp := &c.cards[k]
		shade, ok := s.Shade(cp.start)
		if !ok {
			continue
		}
		cp.shade = shade
		cp.candidate = cand[cp.start]
		tag := FormatScore(s.Values[cp.start])
		cp.scoreTip = " · " + s.Metric + " " + tag
		if cp.candidate {
			tag = "candidate · " + tag
			cp.scoreTip += " · pruning candidate"
		}
		if cp.tag != "" {
			tag = cp.tag + " · " + tag
		}
		cp.tag = tag
	}
}

// headerBand fills a card's header with its shade: rounded at the top like the card, square where the
// rows begin, inset by half the outline so the card's edge still shows.
func (L *layouter) headerBand(x, y, w, h, inset float64, fill string, ref Ref) {
	x, y, w = x+inset, y+inset, w-2*inset
	L.d.add(Item{Kind: KindBar, X: x, Y: y, W: w, H: h - inset, Fill: fill, Radius: cardRadius - inset, Ref: ref})
	L.d.add(Item{Kind: KindBar, X: x, Y: y + h - inset - cardRadius, W: w, H: cardRadius, Fill: fill, Ref: ref})
}

// candidateOutline draws the thick outline of a pruning candidate's card over everything in it. It
// carries no Ref, so a tap inside the card still reaches the bar under the pointer.
func (L *layouter) candidateOutline(x, y, w, h float64) {
	L.d.add(Item{Kind: KindCard, X: x, Y: y, W: w, H: h, Stroke: CandidateStroke, StrokeWidth: candidateWidth, Radius: cardRadius})
}

// scoreLegend adds the importance key to the legend at (*x, *y): the viridis ramp between the lowest
// and the highest score (the numbers where one model is scored, "low" and "high" where several are,
// each on its own range), and the candidates' outline when any is marked. place wraps the line as the
// rest of the legend does, moving *x and *y.
func (L *layouter) scoreLegend(x, y *float64, lineH float64, place func(w float64)) {
	if len(L.scores) == 0 {
		return
	}
	const steps, stepW = 16, 5
	lo, hi, label := "lowest", "highest", "importance rank, each column its own"
	anyCand := false
	for _, s := range L.scores {
		anyCand = anyCand || len(s.Candidates) > 0
	}
	if len(L.scores) == 1 {
		for _, s := range L.scores {
			if a, b, ok := s.Range(); ok {
				lo, hi = FormatScore(a), FormatScore(b)
			}
			label = "importance: " + s.Metric + " by rank"
		}
	}
	th := L.th
	loW, hiW, labelW := textWidth(lo, labelSize, false), textWidth(hi, labelSize, false), textWidth(label, labelSize, false)
	place(labelW + 8 + loW + 4 + steps*stepW + 4 + hiW)
	cx := *x
	L.text(cx, *y, label, labelSize, false, th.Text, Ref{})
	cx += labelW + 8
	L.text(cx, *y, lo, labelSize, false, th.Muted, Ref{})
	cx += loW + 4
	for k := range steps {
		L.d.add(Item{Kind: KindBar, X: cx + float64(k)*stepW, Y: *y + 3, W: stepW + 0.5, H: lineH - 6,
			Fill: ScoreColor(float64(k) / (steps - 1))})
	}
	cx += steps*stepW + 4
	L.text(cx, *y, hi, labelSize, false, th.Muted, Ref{})
	*x = cx + hiW + 22
	if !anyCand {
		return
	}
	const sw = 26
	tw := textWidth("pruning candidate", labelSize, false)
	place(sw + 6 + tw)
	L.d.add(Item{Kind: KindCard, X: *x + 1.5, Y: *y + 3.5, W: sw - 3, H: lineH - 7, Fill: th.Card, Stroke: CandidateStroke,
		StrokeWidth: candidateWidth, Radius: 4})
	L.text(*x+sw+6, *y, "pruning candidate", labelSize, false, th.Text, Ref{})
	*x += sw + 6 + tw + 22
}
