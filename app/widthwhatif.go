package app

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/layerscope/layerscope/compute"
	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/facts"
	"github.com/layerscope/layerscope/modelio/neurons"
	"github.com/layerscope/layerscope/widgets"
)

// widthCut is the width half of a what-if: how the MLP neurons were chosen and which stay.
type widthCut struct {
	method  neurons.Method
	chosen  bool    // false: the model has no weights, so the first neurons stand in (widths only)
	percent float64 // the share of each MLP's neurons removed before rounding
	divisor int
	keep    [][]int // per MLP unit of the model without the removed blocks (compute.Pruning.Keep)
	// former is the output width of every pruned projection before, by path (render.Model.Former).
	former map[string]int64
	// formerIn is the input width of every projection whose input was cut (down_proj, fc2, c_proj),
	// before, by path (render.Model.FormerIn).
	formerIn map[string]int64
	changes  []modelio.WidthChange
	scores   *neurons.Scores // the scores the neurons were chosen by; nil when not chosen
	hidden   int64           // the MLPs' input width, for the expansion I/H
}

// formerWidths is what render draws as the outline of a width-pruned model's bars.
func (w *Window) formerWidths(m *modelio.Model) map[string]int64 {
	if wi := w.whatIf; wi != nil && wi.width != nil && wi.pruned == m {
		return wi.width.former
	}
	return nil
}

// formerInputs is what render draws as the dashed outline of the input-width line under a width-pruned
// model's down (fc2, c_proj) bars, whose length, the output width, does not change.
func (w *Window) formerInputs(m *modelio.Model) map[string]int64 {
	if wi := w.whatIf; wi != nil && wi.width != nil && wi.pruned == m {
		return wi.width.formerIn
	}
	return nil
}

// widthWhatIfText says what the narrowed model is and what it saves: "Llama-3.2-1B, MLPs 8192 → 4916
// (40% of the neurons by ppm; I/H 4.00× → 2.40×): 914 M parameters, 322 M fewer (26.1%)."
func widthWhatIfText(wi *whatIf) string {
	p := wi.pruned
	now, saved, share := wi.savings()
	c := wi.width
	var widths []string
	for _, ch := range c.changes {
		widths = append(widths, fmt.Sprintf("%s %d → %d", ch.Key, ch.From, ch.To))
	}
	how := fmt.Sprintf("%.4g%% of the neurons by %s", c.percent, c.method)
	if !c.chosen {
		how = fmt.Sprintf("%.4g%% of the neurons; no weights here, so only the widths are shown", c.percent)
	}
	if c.divisor > 0 {
		how += fmt.Sprintf(", rounded to a multiple of %d", c.divisor)
	}
	name := wi.orig.Name
	if len(wi.remove) > 0 {
		name += " without " + modelio.BlocksPhrase(wi.remove)
	}
	hidden := c.hidden
	ratio := ""
	if hidden > 0 && len(c.changes) > 0 {
		ratio = fmt.Sprintf("; expansion I/H %.2f× → %.2f×", float64(c.changes[0].From)/float64(hidden), float64(c.changes[0].To)/float64(hidden))
	}
	return fmt.Sprintf("%s, %s (%s%s): %d blocks, %s parameters, %s fewer (%.1f%%). Nothing is written until you save a copy.",
		name, strings.Join(widths, ", "), how, ratio, len(p.Arch.Blocks), facts.ShortCount(now), facts.ShortCount(saved), share)
}

// widthSuffix ends a narrowed copy's suggested folder name: "-mlp4916".
func widthSuffix(m *modelio.Model) string {
	s := ""
	for _, c := range m.Narrowed {
		s += "-mlp" + strconv.FormatInt(c.To, 10)
	}
	return s
}

// copyIntro says what the saved copy holds.
func copyIntro(m *modelio.Model, remove []int) string {
	const end = "and the tokenizer files. The model's own folder is never written to; Layerscope opens the copy when it is done."
	if len(m.Narrowed) == 0 {
		return fmt.Sprintf("A new folder with %s without %s: config.json with the new depth, the weights with the kept blocks renumbered, "+end,
			m.Name, modelio.BlocksPhrase(remove))
	}
	var widths []string
	for _, c := range m.Narrowed {
		widths = append(widths, fmt.Sprintf("%s %d → %d", c.Key, c.From, c.To))
	}
	return fmt.Sprintf("A new folder with %s: config.json with %s, the MLP weights with only the kept neurons' rows and columns, "+
		"every other tensor byte for byte, "+end, m.Name, strings.Join(widths, ", "))
}

// saveWhatIfCopy is the what-if bar's Save copy…: the blocks removed, the neurons kept, or both.
func (w *Window) saveWhatIfCopy() {
	wi := w.whatIf
	switch {
	case wi == nil:
	case wi.width == nil:
		w.savePrunedDialog(wi.orig, wi.remove)
	case !wi.width.chosen:
		w.banner.show(wi.orig.Name + " has no weights here (a gallery model or a config.json alone): there is nothing to copy. Open its folder with the .safetensors files.")
	default:
		w.savePrunedDialog(wi.pruned, nil) // the narrowed model holds the removal and the kept neurons
	}
}

// widthModes are the two ways to say how much to prune, each saying its convention.
var widthModes = []string{"Remove %", "Expansion I/H"}

// divisorChoices are the roundings of the kept width, optipfair's expansion_divisor.
var divisorChoices = []string{"none", "32", "64", "128", "256"}

// widthPanel is the strip above the stack while a width what-if is on: the method, how much, the
// divisor, and the scoring's progress. Every change shows the narrowed model at once; the scores are
// computed once per method and model.
type widthPanel struct {
	w       *Window
	content *fyne.Container

	method    *keySelect
	mode      *keySelect
	slider    *keySlider
	pctLabel  *widget.Label
	expansion *keyEntry
	divisor   *keySelect
	amount    *fyne.Container // the slider or the expansion field
	bar       *widget.ProgressBar
	cancelBtn *keyButton
	busy      *fyne.Container
	note      *widget.Label
	chart     *neuronChartBox
	beside    *keyCheck // the full model drawn beside the narrowed one, on the same scale

	active  bool
	applied bool           // a narrowed model was shown since the strip opened
	model   *modelio.Model // the full model
	remove  []int          // the blocks of the depth what-if under it
	scores  *neurons.Scores
	seq     int
	cancel  context.CancelFunc
	runs    sync.WaitGroup // scoring goroutines, for tests
	// onScored, when set, is called on the UI goroutine after a scoring ends (the test hook).
	onScored func(err error)
}

func newWidthPanel(w *Window) *widthPanel {
	p := &widthPanel{w: w}
	// The window's keys (F5, F9, Esc, zoom) pass through the strip's fields, as through the others.
	p.method = newKeySelect(w, nil, func(string) { p.rescore() })
	p.slider = newKeySlider(w, 1, 99)
	p.slider.Step = 1
	p.slider.SetValue(40)
	p.pctLabel = widget.NewLabel("40%")
	p.slider.OnChanged = func(v float64) {
		p.pctLabel.SetText(fmt.Sprintf("%.0f%%", v))
		p.apply()
	}
	p.expansion = newKeyEntry(w, false)
	p.expansion.SetText("2.4")
	p.expansion.OnChanged = func(string) { p.apply() }
	p.amount = container.NewStack()
	p.mode = newKeySelect(w, widthModes, func(string) { p.modeChanged() })
	p.divisor = newKeySelect(w, divisorChoices, func(string) { p.apply() })
	p.bar = widget.NewProgressBar()
	p.cancelBtn = newKeyButton(w, "Cancel", theme.MediaStopIcon(), p.stop)
	p.busy = container.NewBorder(nil, nil, nil, p.cancelBtn, p.bar)
	p.busy.Hide()
	p.note = widget.NewLabel("")
	p.note.Wrapping = fyne.TextWrapWord
	p.note.Hide()
	p.chart = newNeuronChartBox(w)
	p.beside = newKeyCheck(w, "Beside the full model", func(on bool) { p.setBeside(on) })
	closeBtn := newKeyButton(w, "", theme.CancelIcon(), func() {
		p.close()
		w.leaveWhatIf()
	})
	// The choices on one line, the amount under them across the whole strip: a slider needs the
	// length to be dragged by a percent at a time.
	// Evaluate runs on the Importance tab, which holds the calibration settings and shows the result.
	evaluate := newKeyButton(w, "Evaluate", theme.MediaPlayIcon(), func() {
		for i, t := range w.tabs.Items {
			if t.Content == w.importance.content {
				w.tabs.SelectIndex(i)
			}
		}
		w.importance.eval.start()
	})
	// No title of its own: the what-if bar above says what the strip is for, and without one the strip
	// and the side panel fit a 1024-wide screen, in the large type of presenting too.
	controls := container.NewHBox(key("Method"), p.method, p.mode, key("Rounding"), p.divisor)
	row := container.NewVBox(container.NewBorder(nil, nil, controls, closeBtn),
		container.NewBorder(nil, nil, nil, container.NewHBox(p.beside, evaluate), p.amount))
	// The what-if bar's blue, fainter: the strip belongs to it.
	bg := canvas.NewRectangle(color.NRGBA{R: accent.R, G: accent.G, B: accent.B, A: 0x1c})
	bg.CornerRadius = 4
	p.content = container.NewStack(bg, container.NewVBox(row, p.busy, p.note, p.chart.content))
	p.mode.SetSelected(widthModes[0])
	p.divisor.SetSelectedIndex(0)
	p.content.Hide()
	return p
}

// modeChanged shows the slider or the expansion field.
func (p *widthPanel) modeChanged() {
	if p.mode.Selected == widthModes[1] {
		hint := ""
		if m := p.model; m != nil && m.Arch != nil {
			if units, err := modelio.MLPUnits(m); err == nil {
				hint = fmt.Sprintf("× hidden %d (now %s)", units[0].Hidden, neurons.Expansion(units[0].Width, units[0].Hidden))
			}
		}
		p.amount.Objects = []fyne.CanvasObject{container.NewBorder(nil, nil, nil, widget.NewLabel(hint), p.expansion)}
	} else {
		p.amount.Objects = []fyne.CanvasObject{container.NewBorder(nil, nil, nil, p.pctLabel, p.slider)}
	}
	p.amount.Refresh()
	p.apply()
}

// canActivate reports whether m can be run over calibration text: weights, a forward pass for its
// family and a tokenizer.
func canActivate(m *modelio.Model) bool {
	return m != nil && precheck(m).what == "" && hasTokenizer(m)
}

// openWidthWhatIf is Edit ▸ What If: Narrow the MLPs…: it shows the width strip for the model in
// focus (on top of its depth what-if, if one is on) and the narrowed model at the strip's settings.
func (w *Window) openWidthWhatIf() {
	if len(w.models) == 0 {
		return
	}
	m := w.models[min(w.focus, len(w.models)-1)]
	var remove []int
	if wi := w.whatIf; wi != nil && (m == wi.pruned || m == wi.orig) {
		m, remove = wi.orig, slices.Clone(wi.remove)
	}
	d := m
	if len(remove) > 0 {
		var err error
		if d, err = modelio.RemoveBlocks(m, remove); err != nil {
			w.banner.show(err.Error())
			return
		}
	}
	if _, err := modelio.MLPUnits(d); err != nil {
		w.banner.show(err.Error())
		return
	}
	p := w.width
	p.active, p.applied, p.model, p.remove, p.scores = true, false, m, remove, nil
	methods := []string{"ppm", "vow", "pon"}
	if canActivate(m) {
		methods = append(methods, "activation", "hybrid")
	}
	p.method.Options = methods
	if !slices.Contains(methods, p.method.Selected) {
		p.method.Selected = methods[0]
	}
	p.method.Refresh()
	if m.HasWeights() && m.Quant == nil && !m.GGUF {
		p.method.Enable()
	} else {
		p.method.Disable()
	}
	p.content.Show()
	p.modeChanged()
	p.rescore()
}

// withBlocksRemoved combines a depth what-if with the width what-if on m: the neurons are scored again
// on the model without those blocks and the strip's settings applied to it. It reports whether the
// width what-if took it over (false when the strip is not on m).
func (p *widthPanel) withBlocksRemoved(m *modelio.Model, remove []int) bool {
	if !p.active || p.model != m {
		return false
	}
	p.remove = slices.Clone(remove)
	p.rescore()
	return true
}

// depthModel is the full model without the depth what-if's blocks.
func (p *widthPanel) depthModel() (*modelio.Model, error) {
	if len(p.remove) == 0 {
		return p.model, nil
	}
	return modelio.RemoveBlocks(p.model, p.remove)
}

// methodPicked is the method in the picker.
func (p *widthPanel) methodPicked() neurons.Method {
	m, err := neurons.ParseMethod(p.method.Selected)
	if err != nil {
		return neurons.DefaultMethod
	}
	return m
}

// rescore scores the neurons with the method picked, off the UI goroutine (activations through the
// compute session, with progress and Cancel), then applies the settings. A model without weights
// needs no scores: only its widths are shown.
func (p *widthPanel) rescore() {
	if !p.active || p.model == nil {
		return
	}
	p.stopRun()
	p.scores = nil
	m := p.model
	if !m.HasWeights() || m.Quant != nil || m.GGUF {
		p.apply()
		return
	}
	d, err := p.depthModel()
	if err != nil {
		p.w.banner.show(err.Error())
		return
	}
	method := p.methodPicked()
	var j job
	if method.NeedsActivations() {
		var pr problem
		if j, pr = p.w.importance.job(m); pr.what != "" {
			p.showNote(pr.what + " " + pr.next)
			return
		}
	}
	p.seq++
	seq := p.seq
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.bar.Max, p.bar.Value = 1, 0
	p.bar.Refresh()
	p.busy.Show()
	p.showNote("Scoring " + m.Name + "'s MLP neurons by " + method.String() + "…")
	started := time.Now()
	pg := &progress{show: func(done, total int, msg string) {
		if seq != p.seq || total <= 0 {
			return
		}
		p.bar.Max = float64(total)
		p.bar.SetValue(float64(done))
		switch {
		case method.NeedsActivations() && msg != "blocks scored":
			// The forward pass: its speed and time left, as the importance run shows them.
			p.note.SetText(method.String() + " activations: " + progressWhat(msg) + rate(done, total, j.samples*j.seqLen, time.Since(started)))
		case msg != "":
			p.note.SetText(method.String() + ": " + msg)
		}
	}}
	eng := p.w.importance.eng
	p.runs.Add(1)
	go func() {
		var s *neurons.Scores
		var err error
		if method.NeedsActivations() {
			var acts *compute.Activations
			if a, ok := eng.(activationEngine); !ok {
				err = errors.New("activations need the compute engine")
			} else if acts, err = a.Activations(ctx, j, d, pg.update); err == nil {
				s, err = neurons.ScoreActivations(ctx, d, method, acts.Norms, func(done, total int) { pg.update(done, total, "blocks scored") })
			}
		} else {
			s, err = neurons.Score(ctx, d, method, func(done, total int) { pg.update(done, total, "blocks scored") })
		}
		fyne.Do(func() {
			defer p.runs.Done()
			if seq != p.seq {
				return
			}
			cancel()
			p.cancel = nil
			p.busy.Hide()
			switch {
			case err != nil && ctx.Err() != nil:
				p.showNote("Scoring cancelled: choose a method to score again.")
			case err != nil:
				p.showNote(err.Error())
			default:
				p.note.Hide()
				p.scores = s
				p.apply()
			}
			if p.onScored != nil {
				p.onScored(err)
			}
		})
	}()
}

func (p *widthPanel) showNote(s string) {
	p.note.SetText(s)
	p.note.Show()
	p.content.Refresh()
}

// stop is Cancel: the scoring stops at the next block and the narrowed model shown stays.
func (p *widthPanel) stop() {
	if p.cancel == nil {
		return
	}
	cancel := p.cancel
	p.cancel = nil
	p.seq++
	p.busy.Hide()
	p.showNote("Scoring cancelled: choose a method to score again.")
	cancel() // last: the scoring's goroutine wakes on it and must find the strip moved on
}

func (p *widthPanel) stopRun() {
	p.seq++
	if p.cancel != nil {
		p.cancel()
		p.cancel = nil
	}
}

// target reads the amount: a percentage, or an expansion I/H (2.4 or 240%).
func (p *widthPanel) target() (neurons.Target, error) {
	t := neurons.Target{}
	if i := p.divisor.SelectedIndex(); i > 0 {
		t.Divisor, _ = strconv.Atoi(divisorChoices[i])
	}
	if p.mode.Selected == widthModes[1] {
		s := strings.TrimSpace(p.expansion.Text)
		pct := strings.HasSuffix(s, "%")
		v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
		if err != nil || !(v > 0) || math.IsInf(v, 0) {
			return t, fmt.Errorf("expansion: %q is not a ratio: write I/H as 2.4 (or 240%%)", s)
		}
		if !pct {
			v *= 100
		}
		t.ExpansionPct = v
		return t, nil
	}
	t.Percent = p.slider.Value
	return t, nil
}

// apply shows the narrowed model at the strip's settings, in place of the full one.
func (p *widthPanel) apply() {
	if !p.active || p.model == nil || p.cancel != nil {
		return
	}
	m := p.model
	if m.HasWeights() && m.Quant == nil && !m.GGUF && p.scores == nil {
		return // scoring, or it failed and says so
	}
	cut, pruned, err := p.cut()
	if err != nil {
		p.showNote(err.Error())
		return
	}
	if p.note.Visible() && p.cancel == nil {
		p.note.Hide()
	}
	p.chart.show(cut)
	p.applied = true
	p.w.showWidthWhatIf(m, pruned, p.remove, cut)
	p.content.Refresh()
}

// cut chooses the neurons at the strip's settings and narrows the model.
func (p *widthPanel) cut() (*widthCut, *modelio.Model, error) {
	t, err := p.target()
	if err != nil {
		return nil, nil, err
	}
	d, err := p.depthModel()
	if err != nil {
		return nil, nil, err
	}
	units, err := modelio.MLPUnits(d)
	if err != nil {
		return nil, nil, err
	}
	percent, kept, err := neurons.Widths(units, t)
	if err != nil {
		return nil, nil, errors.New(strings.NewReplacer("--width: ", "", "--expansion: ", "expansion: ", "--divisor: ", "rounding: ").Replace(err.Error()))
	}
	c := &widthCut{method: p.methodPicked(), percent: percent, divisor: t.Divisor, scores: p.scores, hidden: units[0].Hidden}
	if p.scores != nil {
		c.chosen = true
		if c.keep, err = neurons.Keep(p.scores, kept); err != nil {
			return nil, nil, err
		}
	} else { // widths only: the first neurons stand in, as prune --dry-run does without weights
		c.keep = make([][]int, len(units))
		for i, u := range units {
			c.keep[i] = make([]int, kept[u.Key])
			for j := range c.keep[i] {
				c.keep[i][j] = j
			}
		}
	}
	pruned, err := modelio.NarrowMLP(d, c.keep)
	if err != nil {
		return nil, nil, err
	}
	c.former, c.formerIn = modelio.FormerWidths(units)
	c.changes = pruned.Narrowed
	return c, pruned, nil
}

// showWidthWhatIf shows pruned (orig without remove, narrowed by cut) in orig's place.
func (w *Window) showWidthWhatIf(orig, pruned *modelio.Model, remove []int, cut *widthCut) {
	// The pruned model's column first: the full model may stand beside it (Beside the full model).
	i := -1
	if w.whatIf != nil && w.whatIf.orig == orig {
		i = slices.Index(w.models, w.whatIf.pruned)
	}
	if i < 0 {
		i = slices.Index(w.models, orig)
	}
	if i < 0 {
		return
	}
	models := slices.Clone(w.models)
	models[i] = pruned
	w.whatIf = &whatIf{orig: orig, pruned: pruned, remove: slices.Clone(remove), width: cut}
	w.focus = i
	w.show(models)
	w.status.SetText("What if: " + whatIfText(w.whatIf))
}

// setBeside puts the full model beside the narrowed one (compare mode, one scale), or takes it away.
func (p *widthPanel) setBeside(on bool) {
	w := p.w
	wi := w.whatIf
	if !p.active || wi == nil || wi.width == nil {
		return
	}
	i := slices.Index(w.models, wi.pruned)
	j := slices.Index(w.models, wi.orig)
	switch {
	case i < 0:
	case on && j < 0 && len(w.models) < maxCompare:
		w.show(slices.Insert(slices.Clone(w.models), i+1, wi.orig))
	case on && j < 0:
		w.banner.show("Layerscope compares up to five models side by side: remove one first (Compare > Remove).")
		p.beside.SetChecked(false)
	case !on && j >= 0:
		w.show(slices.Delete(slices.Clone(w.models), j, j+1))
	}
}

// refresh hides the strip once its model left the screen or its what-if ended.
func (p *widthPanel) refresh() {
	if e := p.w.importance.eval; e != nil {
		e.refresh() // the perplexity shown follows the what-if too
	}
	if !p.active {
		return
	}
	w := p.w
	onScreen := slices.Contains(w.models, p.model) || (w.whatIf != nil && w.whatIf.orig == p.model)
	if !onScreen || (p.applied && w.whatIf != nil && w.whatIf.width == nil) {
		p.close()
	}
}

// close ends the width what-if's controls (Back to full model, another model, a depth what-if).
func (p *widthPanel) close() {
	p.stopRun()
	if p.beside.Checked {
		p.beside.Checked = false // the check alone: leaveWhatIf takes the duplicate away
		p.beside.Refresh()
	}
	p.active, p.model, p.scores = false, nil, nil
	p.busy.Hide()
	p.note.Hide()
	p.chart.show(nil)
	p.content.Hide()
}

// activationEngine measures MLP activations; realEngine does it through the window's compute session.
type activationEngine interface {
	Activations(ctx context.Context, j job, d *modelio.Model, progress func(done, total int, msg string)) (*compute.Activations, error)
}

// Activations measures d's neuron activations over j's calibration tokens (cut by j.model's tokenizer).
func (e realEngine) Activations(ctx context.Context, j job, d *modelio.Model, progress func(done, total int, msg string)) (*compute.Activations, error) {
	tokens, err := calibrationTokens(j)
	if err != nil {
		return nil, err
	}
	opts := j.opts
	opts.Metrics = nil
	opts.Progress = progress
	return e.session.NeuronActivations(ctx, d, tokens, opts)
}

// neuronChartBox is the strip's per-block view of the sorted neuron scores with the cut marked.
type neuronChartBox struct {
	content *fyne.Container
	block   *keySelect
	caption *widget.Label
	chart   *widgets.NeuronChart
	cut     *widthCut
}

func newNeuronChartBox(w *Window) *neuronChartBox {
	b := &neuronChartBox{caption: widget.NewLabel(""), chart: widgets.NewNeuronChart()}
	b.caption.Truncation = fyne.TextTruncateEllipsis
	b.block = newKeySelect(w, nil, func(string) { b.draw() })
	b.content = container.NewBorder(nil, nil, container.NewVBox(b.block), nil,
		container.NewBorder(b.caption, nil, nil, nil, b.chart))
	b.content.Hide()
	return b
}

// show draws the scores of cut, or hides the chart when there are none (no weights, no what-if).
func (b *neuronChartBox) show(cut *widthCut) {
	b.cut = cut
	if cut == nil || cut.scores == nil {
		b.content.Hide()
		return
	}
	var names []string
	for _, u := range cut.scores.Units {
		name := fmt.Sprintf("block %d", u.Block)
		if u.Expert >= 0 {
			name += fmt.Sprintf(" expert %d", u.Expert)
		}
		names = append(names, name)
	}
	i := max(0, b.block.SelectedIndex())
	b.block.Options = names
	if i >= len(names) {
		i = 0
	}
	b.block.Selected = names[i]
	b.block.Refresh()
	b.content.Show()
	b.draw()
}

func (b *neuronChartBox) draw() {
	c := b.cut
	i := b.block.SelectedIndex()
	if c == nil || c.scores == nil || i < 0 || i >= len(c.keep) {
		return
	}
	u := c.scores.Units[i]
	b.caption.SetText(fmt.Sprintf("%s's neurons by %s, highest first: %d kept of %d, the cut marked",
		u.Path, c.method, len(c.keep[i]), u.Width))
	b.chart.SetScores(c.scores.Score[i], len(c.keep[i]))
}
