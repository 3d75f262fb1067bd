package widgets

import (
	"image/color"
	"math"
	"strconv"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/layerscope/layerscope/render"
)

var (
	_ fyne.Widget       = (*ScoreChart)(nil)
	_ fyne.Tappable     = (*ScoreChart)(nil)
	_ desktop.Hoverable = (*ScoreChart)(nil)
)

// Chart sizes, in Fyne units: tall enough to compare bars by eye in a side panel, and a bar never
// thinner than a line so 80 blocks still fit 320 units.
const (
	chartHeight   = 150
	chartMinWidth = 220
	minBarWidth   = 2
	markHeight    = 4 // the candidate mark under a bar
)

// ScoreChart is a per-block bar chart of importance scores: block 0 on the left, each bar as tall as
// its score and shaded as its card on the stack (render.Scores.Shade), the blocks marked for removal
// underlined in the candidates' vermillion. Negative scores (ΔNLL can be) hang below a zero line.
// Tapping a bar reports its block; hovering one shows its score in the caption.
type ScoreChart struct {
	widget.BaseWidget

	// OnTapped is called with the block whose bar was tapped.
	OnTapped func(block int)

	scores render.Scores
	marked map[int]bool
	hover  int // the block under the pointer, -1 for none
}

// NewScoreChart returns an empty chart.
func NewScoreChart() *ScoreChart {
	c := &ScoreChart{hover: -1}
	c.ExtendBaseWidget(c)
	return c
}

// SetScores shows s; its Candidates are the blocks marked under their bars.
func (c *ScoreChart) SetScores(s render.Scores) {
	c.scores = s
	c.marked = map[int]bool{}
	for _, b := range s.Candidates {
		c.marked[b] = true
	}
	c.hover = -1
	c.Refresh()
}

// Scores returns what the chart shows.
func (c *ScoreChart) Scores() render.Scores { return c.scores }

// CreateRenderer is part of fyne.Widget.
func (c *ScoreChart) CreateRenderer() fyne.WidgetRenderer {
	c.ExtendBaseWidget(c)
	r := &scoreChartRenderer{c: c, zero: canvas.NewRectangle(color.Transparent),
		top: canvas.NewText("", color.Black), bottom: canvas.NewText("", color.Black),
		first: canvas.NewText("", color.Black), last: canvas.NewText("", color.Black),
		caption: canvas.NewText("", color.Black)}
	r.last.Alignment = fyne.TextAlignTrailing
	r.caption.Alignment = fyne.TextAlignCenter
	r.Refresh()
	return r
}

// Tapped reports the block under the pointer. It is part of fyne.Tappable.
func (c *ScoreChart) Tapped(ev *fyne.PointEvent) {
	if b := c.blockAt(ev.Position); b >= 0 && c.OnTapped != nil {
		c.OnTapped(b)
	}
}

// MouseIn is part of desktop.Hoverable.
func (c *ScoreChart) MouseIn(ev *desktop.MouseEvent) { c.MouseMoved(ev) }

// MouseMoved shows the score of the bar under the pointer in the caption. It is part of
// desktop.Hoverable.
func (c *ScoreChart) MouseMoved(ev *desktop.MouseEvent) {
	if b := c.blockAt(ev.Position); b != c.hover {
		c.hover = b
		c.Refresh()
	}
}

// MouseOut is part of desktop.Hoverable.
func (c *ScoreChart) MouseOut() {
	if c.hover != -1 {
		c.hover = -1
		c.Refresh()
	}
}

// plot is where the bars go: left of the axis labels, above the block numbers.
func (c *ScoreChart) plot(size fyne.Size) (x, y, w, h float32) {
	ts := theme.SizeForWidget(theme.SizeNameCaptionText, c)
	pad := theme.SizeForWidget(theme.SizeNamePadding, c)
	lab := float32(0)
	for _, s := range c.axisLabels() {
		lab = max(lab, fyne.MeasureText(s, ts, fyne.TextStyle{}).Width)
	}
	lineH := fyne.MeasureText("0", ts, fyne.TextStyle{}).Height
	x, y = lab+pad, lineH+pad // the caption line on top
	// A padding on the right too: the last block's number ends there, clear of the panel's edge and of
	// a scroll bar drawn over it.
	return x, y, max(1, size.Width-x-pad), max(1, size.Height-y-lineH-markHeight-pad)
}

// axisLabels are the top and bottom of the value axis.
func (c *ScoreChart) axisLabels() [2]string {
	lo, hi := c.axis()
	return [2]string{render.FormatScore(hi), render.FormatScore(lo)}
}

// axis returns the value range the bars span: from zero (or the lowest score, below zero) to the
// highest score (or zero, above it).
func (c *ScoreChart) axis() (lo, hi float64) {
	lo, hi, ok := c.scores.Range()
	if !ok {
		return 0, 1
	}
	lo, hi = math.Min(lo, 0), math.Max(hi, 0)
	if hi == lo {
		hi = lo + 1
	}
	return lo, hi
}

// blockAt returns the block whose column holds the position, or -1.
func (c *ScoreChart) blockAt(p fyne.Position) int {
	n := len(c.scores.Values)
	x, _, w, _ := c.plot(c.Size())
	if n == 0 || p.X < x || p.X >= x+w {
		return -1
	}
	return min(n-1, int((p.X-x)/(w/float32(n))))
}

// MinSize is part of fyne.Widget's renderer: a fixed height, and the width of a readable bar per block.
func (r *scoreChartRenderer) MinSize() fyne.Size {
	x, _, _, _ := r.c.plot(fyne.NewSize(0, 0))
	return fyne.NewSize(max(chartMinWidth, x+float32(len(r.c.scores.Values))*minBarWidth), chartHeight)
}

// scoreChartRenderer draws one rectangle per bar and one per mark, the zero line and four labels.
type scoreChartRenderer struct {
	c       *ScoreChart
	bars    []*canvas.Rectangle
	marks   []*canvas.Rectangle
	zero    *canvas.Rectangle
	top     *canvas.Text // the highest value on the axis
	bottom  *canvas.Text // the lowest
	first   *canvas.Text // "0" under the first bar
	last    *canvas.Text // the last block's number under its bar
	caption *canvas.Text // the metric, or the hovered block's score
	objects []fyne.CanvasObject
}

func (r *scoreChartRenderer) Destroy() {}

func (r *scoreChartRenderer) Objects() []fyne.CanvasObject { return r.objects }

// Layout places the bars: each block's column is the plot's width over the blocks, its bar a little
// narrower so neighbours stay apart, and as tall as its score on the axis.
func (r *scoreChartRenderer) Layout(size fyne.Size) {
	c := r.c
	x, y, w, h := c.plot(size)
	lo, hi := c.axis()
	zeroY := y + h*float32(hi/(hi-lo))
	n := len(c.scores.Values)
	if len(r.bars) != n {
		return // the scores changed and Refresh has not rebuilt the bars yet
	}
	col := w / float32(max(1, n))
	gap := float32(0)
	if col >= 6 {
		gap = max(1, col*0.2)
	}
	for i, b := range r.bars {
		v := c.scores.Values[i]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			b.Hide()
			r.marks[i].Hide()
			continue
		}
		b.Show()
		top := y + h*float32((hi-math.Max(v, 0))/(hi-lo))
		bh := max(1, h*float32(math.Abs(v)/(hi-lo)))
		b.Move(fyne.NewPos(x+float32(i)*col+gap/2, top))
		b.Resize(fyne.NewSize(max(1, col-gap), bh))
		r.marks[i].Move(fyne.NewPos(x+float32(i)*col+gap/2, y+h+2))
		r.marks[i].Resize(fyne.NewSize(max(1, col-gap), markHeight))
	}
	r.zero.Move(fyne.NewPos(x, zeroY))
	r.zero.Resize(fyne.NewSize(w, 1))
	lineH := r.top.MinSize().Height
	r.top.Move(fyne.NewPos(0, y-lineH/2))
	r.bottom.Move(fyne.NewPos(0, y+h-lineH/2))
	r.first.Move(fyne.NewPos(x, y+h+markHeight+2))
	r.last.Move(fyne.NewPos(x+w-r.last.MinSize().Width, y+h+markHeight+2))
	r.caption.Move(fyne.NewPos(x, 0))
	r.caption.Resize(fyne.NewSize(w, lineH))
	for _, t := range []*canvas.Text{r.top, r.bottom, r.first, r.last} {
		t.Resize(t.MinSize())
	}
}

// Refresh rebuilds the bars when the number of blocks changed and restyles everything.
func (r *scoreChartRenderer) Refresh() {
	c := r.c
	n := len(c.scores.Values)
	if len(r.bars) != n {
		r.bars, r.marks = make([]*canvas.Rectangle, n), make([]*canvas.Rectangle, n)
		for i := range n {
			r.bars[i] = canvas.NewRectangle(color.Transparent)
			r.marks[i] = canvas.NewRectangle(render.ParseColor(render.CandidateStroke))
		}
		r.objects = []fyne.CanvasObject{r.zero}
		for i := range n {
			r.objects = append(r.objects, r.bars[i], r.marks[i])
		}
		r.objects = append(r.objects, r.top, r.bottom, r.first, r.last, r.caption)
	}
	fg := theme.ColorForWidget(theme.ColorNameForeground, c)
	ts := theme.SizeForWidget(theme.SizeNameCaptionText, c)
	for i, b := range r.bars {
		shade, ok := c.scores.Shade(i)
		if !ok {
			continue
		}
		b.FillColor = render.ParseColor(shade)
		b.StrokeWidth = 0
		if i == c.hover {
			b.StrokeColor, b.StrokeWidth = fg, 1.5
		}
		r.marks[i].Hidden = !c.marked[i]
	}
	r.zero.FillColor = theme.ColorForWidget(theme.ColorNameSeparator, c)
	labels := c.axisLabels()
	r.top.Text, r.bottom.Text = labels[0], labels[1]
	r.first.Text, r.last.Text = "", ""
	if n > 0 {
		r.first.Text = "block 0"
		r.last.Text = strconv.Itoa(n - 1)
	}
	r.caption.Text = c.scores.Metric + " by block"
	if c.hover >= 0 && c.hover < n {
		r.caption.Text = "block " + strconv.Itoa(c.hover) + ": " + c.scores.Metric + " " + render.FormatScore(c.scores.Values[c.hover])
		if c.marked[c.hover] {
			r.caption.Text += " · marked for removal"
		}
	}
	if n == 0 {
		r.caption.Text = ""
	}
	for _, t := range []*canvas.Text{r.top, r.bottom, r.first, r.last, r.caption} {
		t.Color, t.TextSize = fg, ts
	}
	r.caption.TextStyle.Bold = c.hover >= 0
	r.Layout(c.Size())
	for _, o := range r.objects {
		o.Refresh()
	}
}
