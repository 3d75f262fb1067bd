package app

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/layerscope/layerscope/compute"
	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/facts"
)

// evalEngine computes a model's perplexity on a job's calibration tokens; prune, when set, evaluates
// that pruning of the model without writing anything (compute.Options.Prune).
type evalEngine interface {
	Evaluate(ctx context.Context, j job, prune *compute.Pruning, progress func(done, total int, msg string)) (*compute.Evaluation, error)
}

// Evaluate runs the job's model through the window's compute session and scores its next tokens.
func (e realEngine) Evaluate(ctx context.Context, j job, prune *compute.Pruning, progress func(done, total int, msg string)) (*compute.Evaluation, error) {
	tokens, err := calibrationTokens(j)
	if err != nil {
		return nil, err
	}
	opts := j.opts
	opts.Progress = progress
	opts.Prune = prune
	return e.session.Evaluate(ctx, j.model, tokens, opts)
}

// evaluatePanel is the Importance tab's Evaluate: the perplexity of the model in focus on the
// calibration text the tab is set to, and during a what-if the pruned model's beside it, computed in
// the background with progress and Cancel. The full model's figure is kept per model and settings, so
// moving the width slider and pressing Evaluate again runs only the pruned model.
type evaluatePanel struct {
	p         *importancePanel
	content   *fyne.Container
	button    *keyButton
	cancelBtn *keyButton
	bar       *widget.ProgressBar
	busy      *fyne.Container
	result    *widget.Label

	full map[string]*compute.Evaluation // by model and settings
	// What the result describes: the model, its figure, and the what-if evaluated with it (nil: none).
	shownModel  *modelio.Model
	shownFull   *compute.Evaluation
	shownWhatIf *whatIf
	shownKey    string // the settings it was computed with (settingsKey)
	shownText   string // what the result said then
	seq         int
	cancel      context.CancelFunc
	runs        sync.WaitGroup // evaluation goroutines, for tests
	// onFinish, when set, is called on the UI goroutine when an evaluation ends (the test hook).
	onFinish func(err error)
}

func newEvaluatePanel(p *importancePanel) *evaluatePanel {
	e := &evaluatePanel{p: p, full: map[string]*compute.Evaluation{}}
	e.button = newKeyButton(p.w, "Evaluate perplexity", theme.MediaPlayIcon(), e.start)
	e.cancelBtn = newKeyButton(p.w, "Cancel", theme.MediaStopIcon(), e.stop)
	e.cancelBtn.Disable()
	e.bar = widget.NewProgressBar()
	e.busy = container.NewVBox(e.bar)
	e.busy.Hide()
	e.result = widget.NewLabel("Perplexity on the calibration text: press Evaluate. During a what-if the pruned model's " +
		"is computed beside it, without writing anything.")
	e.result.Wrapping = fyne.TextWrapWord
	width := newKeyButton(p.w, "What if: narrow the MLPs…", theme.ContentCutIcon(), func() { p.w.openWidthWhatIf() })
	e.content = container.NewVBox(widget.NewSeparator(), container.NewGridWithColumns(2, e.button, e.cancelBtn), e.busy, e.result, width)
	return e
}

// settingsKey names what an evaluation's figure depends on besides the model.
func settingsKey(j job) string {
	return fmt.Sprintf("%s|%d|%s|%s|%d|%d|%s|%s", modelKey(j.model), j.source, j.file, j.pasted, j.samples, j.seqLen, j.opts.Backend, j.opts.DType)
}

// start is Evaluate: the full model's perplexity (unless known), then the pruned model's during a
// what-if on the model in focus.
func (e *evaluatePanel) start() {
	p, w := e.p, e.p.w
	if e.cancel != nil {
		return
	}
	m := p.focused()
	if pr := precheck(m); pr.what != "" {
		e.result.SetText(pr.what + " " + pr.next)
		return
	}
	j, pr := p.job(m)
	if pr.what != "" {
		e.result.SetText(pr.what + " " + pr.next)
		return
	}
	ev, ok := p.eng.(evalEngine)
	if !ok {
		e.result.SetText("This build cannot evaluate models.")
		return
	}
	var prune *compute.Pruning
	var label string
	if wi := w.whatIf; wi != nil && wi.orig == m {
		prune = &compute.Pruning{Remove: slices.Clone(wi.remove)}
		if wi.width != nil {
			if !wi.width.chosen {
				e.result.SetText("The width what-if shows widths only (no weights were scored): there is nothing to evaluate.")
				return
			}
			prune.Keep = wi.width.keep
		}
		label = wi.pruned.Name
	}
	fullKey := settingsKey(j)
	known := e.full[fullKey]
	e.seq++
	seq := e.seq
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.button.Disable()
	e.cancelBtn.Enable()
	e.bar.Max, e.bar.Value = 1, 0
	e.bar.Refresh()
	e.busy.Show()
	e.result.SetText("Evaluating " + m.Name + "…")
	stage := ""
	started := time.Now()
	pg := &progress{show: func(done, total int, msg string) {
		if seq != e.seq || total <= 0 {
			return
		}
		e.bar.Max = float64(total)
		e.bar.SetValue(float64(done))
		e.result.SetText("Evaluating " + stage + progressWhat(msg) + rate(done, total, j.samples*j.seqLen, time.Since(started)))
	}}
	e.runs.Add(1)
	go func() {
		var full, pruned *compute.Evaluation
		var err error
		full = known
		if full == nil {
			fyne.Do(func() { stage, started = "the full model: ", time.Now() })
			full, err = ev.Evaluate(ctx, j, nil, pg.update)
		}
		if err == nil && prune != nil {
			fyne.Do(func() { stage, started = "the what-if: ", time.Now() })
			pruned, err = ev.Evaluate(ctx, j, prune, pg.update)
		}
		fyne.Do(func() {
			defer e.runs.Done()
			if seq != e.seq {
				return
			}
			cancel()
			e.cancel = nil
			e.button.Enable()
			e.cancelBtn.Disable()
			e.busy.Hide()
			switch {
			case err != nil && ctx.Err() != nil:
				e.result.SetText("Evaluation cancelled.")
			case err != nil:
				pr := explain(err, j)
				e.result.SetText(pr.what + " " + pr.next)
			default:
				e.full[fullKey] = full
				e.shownModel, e.shownFull, e.shownWhatIf, e.shownKey = m, full, nil, fullKey
				if prune != nil {
					e.shownWhatIf = w.whatIf
				}
				e.shownText = evaluationText(m.Name, full, label, pruned)
				e.result.SetText(e.shownText)
			}
			if e.onFinish != nil {
				e.onFinish(err)
			}
		})
	}()
}

// refresh keeps the result true to the screen: after the what-if changed, only the full model's figure
// stays, with the way to the pruned one's; after the calibration settings changed, the figures stay,
// said to be of the settings before, until Evaluate runs on the new ones (or the settings are set back).
func (e *evaluatePanel) refresh() {
	if e.shownModel == nil || e.cancel != nil {
		return
	}
	w := e.p.w
	m := e.p.focused()
	switch {
	case m != e.shownModel:
		e.shownModel, e.shownFull, e.shownWhatIf = nil, nil, nil
		e.result.SetText("Press Evaluate for the perplexity of " + m.Name + ".")
		return
	case w.whatIf != e.shownWhatIf:
		e.shownWhatIf = nil
		e.shownText = evaluationText(m.Name, e.shownFull, "", nil)
		if w.whatIf != nil && w.whatIf.orig == m {
			e.shownText += " The what-if changed: press Evaluate for its perplexity."
		}
	}
	text := e.shownText
	if j, pr := e.p.job(m); pr.what != "" || settingsKey(j) != e.shownKey {
		text += " The calibration settings changed since: press Evaluate for the figures on the new ones."
	}
	e.result.SetText(text)
}

// stop is Cancel: the run stops at the next block, its late answer ignored.
func (e *evaluatePanel) stop() {
	if e.cancel == nil {
		return
	}
	cancel := e.cancel
	e.cancel = nil
	e.seq++
	e.button.Enable()
	e.cancelBtn.Disable()
	e.busy.Hide()
	e.result.SetText("Evaluation cancelled.")
	if e.onFinish != nil {
		e.onFinish(context.Canceled)
	}
	cancel() // last: the run's goroutine wakes on it and must find the panel moved on
}

// evaluationText says the perplexities: "Perplexity on 1,016 tokens (CPU, fp32): Llama-3.2-1B 9.71;
// Llama-3.2-1B − MLP 8192→4916 23.4 (+141%)."
func evaluationText(name string, full *compute.Evaluation, prunedName string, pruned *compute.Evaluation) string {
	if full == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Perplexity on %s tokens (%s, %s): %s %.4g", facts.Commas(int64(full.Tokens)), full.Device, full.DType, name, full.Perplexity)
	if pruned != nil {
		fmt.Fprintf(&b, "; what-if %s %.4g (%+.1f%%)", prunedName, pruned.Perplexity, 100*(pruned.Perplexity/full.Perplexity-1))
	}
	b.WriteString(". Lower is better.")
	for _, n := range append(slices.Clone(full.Notes), notesOf(pruned)...) {
		b.WriteString(" " + noteText(n))
	}
	return b.String()
}

func notesOf(e *compute.Evaluation) []string {
	if e == nil {
		return nil
	}
	return e.Notes
}
