package app

import (
	"fmt"
	"image/color"
	"io/fs"
	"math"
	"slices"
	"sort"
	"strconv"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/layerscope/layerscope/compute"
	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/render"
	"github.com/layerscope/layerscope/widgets"
)

// errNoTokenizer is what a folder without tokenizer.json gives, found before a run starts.
var errNoTokenizer = fmt.Errorf("no such file: %w", fs.ErrNotExist)

// modelResult is one model's last finished run and the blocks marked for removal by hand.
type modelResult struct {
	res *compute.Result
	// marked holds the blocks ticked in the table; nil means the automatic candidates.
	marked map[int]bool
}

// modelKey names a model across loads, so its scores come back when it is opened again: its folder,
// or its gallery name.
func modelKey(m *modelio.Model) string {
	if m == nil {
		return ""
	}
	if m.Path != "" {
		return "path:" + m.Path
	}
	return "gallery:" + m.Name
}

// resultFor returns m's scores, nil when it has none. A what-if model has none of its own.
func (w *Window) resultFor(m *modelio.Model) *modelResult {
	if m == nil || m.Removed != nil {
		return nil
	}
	return w.scores[modelKey(m)]
}

// scoreValues returns the scores of the metric picked, one per block (NaN where an n-block span
// cannot start), and the metric's short name; ok is false when the run did not compute it.
func scoreValues(res *compute.Result, metric compute.Metric, span int) (v []float64, name string, ok bool) {
	switch metric {
	case compute.MetricBI:
		return res.BI, "BI", res.BI != nil
	case compute.MetricFlat:
		return res.Flat, "flat cosine", res.Flat != nil
	case compute.MetricAblation:
		return res.Ablation, "ΔNLL", res.Ablation != nil
	case compute.MetricAngular:
		a, ok := res.Angular[span]
		if !ok {
			return nil, "", false
		}
		v = make([]float64, res.Blocks)
		for i := range v {
			v[i] = math.NaN()
		}
		copy(v, a)
		return v, fmt.Sprintf("angular n=%d", span), true
	}
	return nil, "", false
}

// candidateRule is how the panel picks the blocks to mark.
type candidateRule struct {
	count      int  // how many blocks (ignored for spans: the best span's blocks)
	span       int  // 1, or the n of an angular n-block span
	protect    bool // never the first or the last block
	noAdjacent bool // never two neighbours
}

// pickCandidates returns the blocks to mark, ascending: the count lowest scores, skipping the first
// and last block when protected and the neighbours of blocks already picked when asked; for an n-block
// span, the n blocks of the span with the lowest distance (Gromov et al. remove them together).
func pickCandidates(v []float64, r candidateRule) []int {
	L := len(v)
	idx := make([]int, 0, L)
	for i, s := range v {
		if !math.IsNaN(s) && !math.IsInf(s, 0) {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
	protected := func(first, last int) bool { return r.protect && (first == 0 || last == L-1) }
	var out []int
	if r.span > 1 {
		for _, i := range idx {
			if i+r.span-1 < L && !protected(i, i+r.span-1) {
				for b := i; b < i+r.span; b++ {
					out = append(out, b)
				}
				return out
			}
		}
		return nil
	}
	picked := map[int]bool{}
	for _, i := range idx {
		if len(out) >= r.count || len(out) >= L-1 { // at least one block stays
			break
		}
		if protected(i, i) || (r.noAdjacent && (picked[i-1] || picked[i+1])) {
			continue
		}
		picked[i] = true
		out = append(out, i)
	}
	slices.Sort(out)
	return out
}

// importanceResults is the lower half of the panel: the run's summary, the chart, the rule that marks
// candidates, the ranked table with its ticks, and what to do with the marked blocks.
type importanceResults struct {
	p          *importancePanel
	content    *fyne.Container
	summary    *widget.Label
	missing    *widget.Label
	chart      *widgets.ScoreChart
	count      *keySelect
	protect    *keyCheck
	noAdjacent *keyCheck
	byHand     *widget.Label
	reset      *keyButton
	table      *fyne.Container
	remove     *keyButton
	save       *keyButton
	csv        *keyButton
	json       *keyButton
	countRow   *fyne.Container

	model  *modelio.Model
	r      *modelResult
	filled bool // the widgets' own callbacks fire while show fills them
}

func newImportanceResults(p *importancePanel) *importanceResults {
	x := &importanceResults{p: p}
	x.summary = widget.NewLabel("")
	x.summary.Wrapping = fyne.TextWrapWord
	x.summary.SizeName = theme.SizeNameCaptionText // how it ran: read once, not from the back row
	x.missing = widget.NewLabel("")
	x.missing.Wrapping = fyne.TextWrapWord
	x.chart = widgets.NewScoreChart()
	x.chart.OnTapped = x.selectBlock
	x.count = newKeySelect(p.w, nil, func(string) { x.ruleChanged() })
	x.protect = newKeyCheck(p.w, "Protect the first and last blocks", func(bool) { x.ruleChanged() })
	x.protect.Checked = true
	x.noAdjacent = newKeyCheck(p.w, "No two adjacent", func(bool) { x.ruleChanged() })
	x.byHand = widget.NewLabel("Marked by hand in the table.")
	x.reset = newKeyButton(p.w, "Reset", nil, func() {
		if x.r != nil {
			x.r.marked = nil
			p.displayChanged()
		}
	})
	x.reset.Importance = widget.LowImportance
	x.table = container.New(layout.NewCustomPaddedVBoxLayout(0))
	x.remove = newKeyButton(p.w, "Remove marked blocks", theme.ContentCutIcon(), func() { p.w.showWhatIf(x.model, x.marked()) })
	x.remove.Importance = widget.HighImportance
	x.save = newKeyButton(p.w, "Save pruned copy…", theme.DocumentSaveIcon(), func() { p.w.savePrunedDialog(x.model, x.marked()) })
	x.csv = newKeyButton(p.w, "CSV…", theme.DownloadIcon(), func() { p.export("csv") })
	x.json = newKeyButton(p.w, "JSON…", theme.DownloadIcon(), func() { p.export("json") })
	x.countRow = container.NewHBox(key("Mark the"), x.count, key("lowest"))
	// The chart and the ranked table first, where a 1280×720 screen shows them without a scroll; the
	// rule that marks the candidates and what to do with them below.
	x.content = container.NewVBox(
		widget.NewSeparator(),
		x.summary,
		x.missing,
		x.chart,
		section("Ranked, least important first"),
		x.table,
		x.countRow,
		x.protect,
		x.noAdjacent,
		container.NewBorder(nil, nil, nil, x.reset, x.byHand),
		x.remove,
		x.save,
		container.NewBorder(nil, nil, key("Export"), nil, container.NewGridWithColumns(2, x.csv, x.json)),
	)
	x.content.Hide()
	return x
}

// rule is the candidate rule the controls set, for a model of so many blocks: the count picked, or
// the default where none fits yet.
func (x *importanceResults) rule(blocks int) candidateRule {
	n, err := strconv.Atoi(x.count.Selected)
	if err != nil || n > max(1, blocks/2) {
		n = defaultCount(blocks)
	}
	return candidateRule{count: n, span: x.p.spanN(), protect: x.protect.Checked, noAdjacent: x.noAdjacent.Checked}
}

// defaultCount is how many blocks are marked at first: an eighth of the depth, at least one, as the
// command line marks them.
func defaultCount(blocks int) int { return max(1, blocks/8) }

// ruleChanged recomputes the automatic candidates: a changed rule drops the marks made by hand.
func (x *importanceResults) ruleChanged() {
	if !x.filled {
		return
	}
	if x.r != nil {
		x.r.marked = nil
	}
	x.p.displayChanged()
}

// marked returns the blocks marked for removal, ascending.
func (x *importanceResults) marked() []int {
	if x.r == nil {
		return nil
	}
	s, _ := x.p.w.displayScores(x.r, x.p)
	return s.Candidates
}

// displayScores returns a result's scores as the stack draws them: the metric picked and the blocks
// marked (by hand, or by the rule); ok is false when the run did not compute that metric.
func (w *Window) displayScores(r *modelResult, p *importancePanel) (render.Scores, bool) {
	v, name, ok := scoreValues(r.res, p.metricKey(), p.spanN())
	if !ok || len(v) != r.res.Blocks {
		return render.Scores{}, false
	}
	s := render.Scores{Metric: name, Values: v}
	if r.marked != nil {
		for b := range r.marked {
			s.Candidates = append(s.Candidates, b)
		}
		slices.Sort(s.Candidates)
	} else {
		s.Candidates = pickCandidates(v, p.results.rule(len(v)))
	}
	return s, true
}

// show fills the results for m; hidden when it has none.
func (x *importanceResults) show(m *modelio.Model, r *modelResult) {
	x.model, x.r = m, r
	if r == nil {
		x.content.Hide()
		return
	}
	x.filled = false
	defer func() { x.filled = true }()
	res := r.res
	x.summary.SetText(summaryLine(res))

	// The count picker offers up to half the blocks, and keeps its choice across models where it fits.
	var opts []string
	for n := 0; n <= max(1, res.Blocks/2); n++ {
		opts = append(opts, strconv.Itoa(n))
	}
	if !slices.Equal(opts, x.count.Options) {
		x.count.Options = opts
		x.count.Refresh()
	}
	if n := strconv.Itoa(x.rule(res.Blocks).count); n != x.count.Selected {
		x.count.SetSelected(n)
	}
	x.count.Enable()
	if x.p.spanN() > 1 {
		x.count.Disable() // a span's blocks go together
	}

	s, ok := x.p.w.displayScores(r, x.p)
	x.missing.Hidden = ok
	for _, o := range []fyne.CanvasObject{x.chart, x.countRow, x.protect, x.noAdjacent, x.table} {
		if ok {
			o.Show()
		} else {
			o.Hide()
		}
	}
	if !ok {
		x.missing.SetText(x.p.metric.Selected + " was not computed in this run: press Run to compute it" +
			" (ΔNLL runs every block about as many times again as there are blocks).")
		x.chart.SetScores(render.Scores{})
		x.table.RemoveAll()
		x.remove.Disable()
		x.save.Disable()
	} else {
		x.chart.SetScores(s)
		x.fillTable(s)
		if len(s.Candidates) == 0 {
			x.remove.Disable()
			x.save.Disable()
		} else {
			x.remove.Enable()
			x.save.Enable()
			if m.Path == "" || m.Weights == nil {
				x.save.Disable()
			}
		}
	}
	x.byHand.Hidden, x.reset.Hidden = r.marked == nil, r.marked == nil
	x.content.Show()
}

// summaryLine says how the scores were computed, short enough for one line of the side panel at
// 1280×720: "16 blocks · CPU, pure Go (2 cores) · fp32 · 8 × 128 tokens · 4.2 s · NLL 3.210".
func summaryLine(r *compute.Result) string {
	dev := r.Device
	if r.Backend == "go" {
		dev = "CPU, " + dev
	}
	return fmt.Sprintf("%d blocks · %s · %s · %d × %d tokens · %s · NLL %.3f",
		r.Blocks, dev, r.DType, r.Samples, r.SeqLen, humanDuration(r.Elapsed.Round(100*time.Millisecond)), r.NLL)
}

// fillTable lists the blocks from the lowest score up, each with its tick (marked for removal), rank,
// score and shade. Ticking a block marks it by hand.
func (x *importanceResults) fillTable(s render.Scores) {
	x.table.RemoveAll()
	marked := map[int]bool{}
	for _, b := range s.Candidates {
		marked[b] = true
	}
	order := make([]int, 0, len(s.Values))
	for i, v := range s.Values {
		if !math.IsNaN(v) {
			order = append(order, i)
		}
	}
	sort.SliceStable(order, func(a, b int) bool { return s.Values[order[a]] < s.Values[order[b]] })
	span := x.p.spanN()
	header := container.NewGridWithColumns(3, cell("rank", true, true), cell(map[bool]string{true: "blocks", false: "block"}[span > 1], true, true),
		cell(s.Metric, true, true))
	x.table.Add(container.NewBorder(nil, nil, tableGutter(), nil, header))
	for rank, b := range order {
		b := b
		label := "block " + strconv.Itoa(b)
		if span > 1 {
			label = fmt.Sprintf("blocks %d–%d", b, b+span-1)
		}
		check := newKeyCheck(x.p.w, "", nil)
		check.Checked = marked[b]
		check.OnChanged = func(on bool) { x.tick(b, on) }
		if span > 1 {
			check.Disable() // a span's blocks are marked by the rule, together
		}
		shade, _ := s.Shade(b)
		swatch := canvas.NewRectangle(render.ParseColor(shade))
		swatch.CornerRadius = 3
		swatch.SetMinSize(fyne.NewSize(14, 14))
		row := container.NewGridWithColumns(3, cell(strconv.Itoa(rank+1), false, true), cell(label, marked[b], false),
			container.NewBorder(nil, nil, container.NewCenter(swatch), nil, cell(render.FormatScore(s.Values[b]), false, false)))
		x.table.Add(container.NewBorder(nil, nil, check, nil, row))
	}
	x.table.Refresh()
}

// tableGutter is an empty space as wide as a tick box, so the header lines up with the rows.
func tableGutter() fyne.CanvasObject {
	sp := canvas.NewRectangle(color.Transparent)
	sp.SetMinSize(widget.NewCheck("", nil).MinSize())
	return sp
}

// tick marks or unmarks block b by hand.
func (x *importanceResults) tick(b int, on bool) {
	if x.r == nil || !x.filled {
		return
	}
	if x.r.marked == nil {
		marked := map[int]bool{}
		for _, c := range x.marked() {
			marked[c] = true
		}
		x.r.marked = marked
	}
	if on {
		x.r.marked[b] = true
	} else {
		delete(x.r.marked, b)
	}
	x.p.displayChanged()
}

// selectBlock selects a block's card on the stack when its bar is tapped in the chart. During a
// what-if the chart is the full model's: block b is the pruned stack's card numbered b, if it stayed.
func (x *importanceResults) selectBlock(b int) {
	w := x.p.w
	for i, m := range w.models {
		if m == x.model {
			w.selectCard(i, b)
			return
		}
		if wi := w.whatIf; wi != nil && m == wi.pruned && wi.orig == x.model {
			if k := slices.Index(w.blockNumbers(m), b); k >= 0 {
				w.selectCard(i, k)
			} else {
				w.status.SetText(fmt.Sprintf("Block %d is removed in this what-if: Back to full model shows it.", b))
			}
			return
		}
	}
}

// selectCard selects block b's card of model i on the stack: its own, or the folded card that holds it
// (a what-if's blocks are unshaded, and identical ones fold).
func (w *Window) selectCard(i, b int) {
	ref := render.Ref{What: render.RefCard, Model: i, Start: b, End: b}
	if d := w.view.Diagram(); d != nil {
		for _, it := range d.Items {
			if r := it.Ref; r.What == render.RefCard && r.Model == i && r.Start <= b && b <= r.End {
				ref = r
				break
			}
		}
	}
	w.view.Select(ref)
}

// applyScores shades every model that has scores on the stack, each with its own.
func (w *Window) applyScores() {
	opts := w.view.Options()
	opts.Scores = w.scoreOptions()
	w.view.SetOptions(opts)
	if w.autoFit {
		w.fitNow()
	}
}

// scoreOptions are the scores of the models on screen, by column.
func (w *Window) scoreOptions() map[int]render.Scores {
	if w.importance == nil {
		return nil
	}
	out := map[int]render.Scores{}
	for i, m := range w.models {
		if r := w.resultFor(m); r != nil {
			if s, ok := w.displayScores(r, w.importance); ok {
				out[i] = s
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
