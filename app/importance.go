package app

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/layerscope/layerscope/compute"
	"github.com/layerscope/layerscope/compute/calibration"
	"github.com/layerscope/layerscope/modelio"
)

// runState is where the panel is in a run's life.
type runState int

const (
	stateIdle      runState = iota // nothing run yet for this window
	stateRunning                   // a run is in progress
	stateDone                      // the last run finished: its scores are shown
	stateCancelled                 // the last run was cancelled: the scores before it stay
	stateFailed                    // the last run failed: the problem is shown, the scores before it stay
)

var stateNames = [...]string{"idle", "running", "done", "cancelled", "failed"}

func (s runState) String() string { return stateNames[s] }

// The choices of the panel's pickers, as shown.
var (
	backendChoices = []string{"Auto (GPU if found)", "GPU", "CPU"}
	backendValues  = []string{compute.BackendAuto, compute.BackendGPU, compute.BackendCPU}
	dtypeChoices   = []string{"Auto (fp16 GPU, fp32 CPU)", "fp16", "bf16", "fp32"}
	dtypeValues    = []string{"", compute.FP16, compute.BF16, compute.FP32}
	sourceChoices  = []string{"Built-in (Declaration of Independence)", "From a file…", "Pasted text"}
	spanChoices    = []string{"n = 1", "n = 2", "n = 3", "n = 4"}
)

// importancePanel is the Importance tab: it runs the compute engine on the focused model and shows the
// scores, on the stack (shaded), in a chart and in a ranked table, with the blocks marked for removal.
type importancePanel struct {
	w       *Window
	eng     engine
	content fyne.CanvasObject
	scroll  *container.Scroll

	// What the run uses.
	target     *widget.Label
	device     *widget.Label
	deviceNote *widget.Label
	probed     bool
	backend    *keySelect
	dtype      *keySelect
	metric     *keySelect
	span       *keySelect
	source     *keySelect
	fileRow    *fyne.Container
	fileLabel  *widget.Label
	file       string
	fileShape  string // "4 × 256" for a .json file of token ids, whose shape the run takes, not the entries'
	pasted     *keyEntry
	samples    *keyEntry
	seqLen     *keyEntry
	runBtn     *keyButton
	cancelBtn  *keyButton
	settings   *fold

	// While it runs.
	progressBox *fyne.Container
	bar         *widget.ProgressBar
	rateLabel   *widget.Label

	// What happened: a problem, the notes of the last run.
	message *fyne.Container

	// The results of the focused model.
	results *importanceResults
	eval    *evaluatePanel // perplexity, full and what-if (evaluate.go)

	state   runState
	problem problem
	cancel  context.CancelFunc
	seq     int // the newest run; an older one that ends late is ignored
	started time.Time
	tokens  int // of the running job, for the rate: samples × tokens per sample
	running *modelio.Model
	runs    sync.WaitGroup // run goroutines, for tests

	// onFinish, when set, is called on the UI goroutine when a run ends (the test hook).
	onFinish func(state runState, m *modelio.Model)
}

func newImportancePanel(w *Window, eng engine) *importancePanel {
	p := &importancePanel{w: w, eng: eng}
	p.target = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	p.target.Truncation = fyne.TextTruncateEllipsis
	p.device = widget.NewLabel("Looking for a GPU…")
	p.device.Truncation = fyne.TextTruncateEllipsis
	p.deviceNote = widget.NewLabel("")
	p.deviceNote.Wrapping = fyne.TextWrapWord
	p.deviceNote.SizeName = theme.SizeNameCaptionText
	p.deviceNote.Hide()

	p.backend = newKeySelect(w, backendChoices, nil)
	p.backend.SetSelectedIndex(0)
	p.dtype = newKeySelect(w, dtypeChoices, nil)
	p.dtype.SetSelectedIndex(0)
	p.span = newKeySelect(w, spanChoices, func(string) { p.displayChanged() })
	p.span.SetSelectedIndex(0)
	p.metric = newKeySelect(w, metricChoices(), func(string) {
		p.span.Hidden = p.metricKey() != compute.MetricAngular
		p.displayChanged()
	})
	p.metric.SetSelectedIndex(0)

	p.fileLabel = widget.NewLabel("No file chosen")
	p.fileLabel.Truncation = fyne.TextTruncateEllipsis
	choose := newKeyButton(w, "Choose…", theme.FileIcon(), p.chooseFile)
	p.fileRow = container.NewBorder(nil, nil, nil, choose, p.fileLabel)
	p.pasted = newKeyEntry(w, true)
	p.pasted.SetPlaceHolder("Paste ordinary prose here: a few pages, enough for samples × tokens.")
	p.pasted.Wrapping = fyne.TextWrapWord
	p.pasted.SetMinRowsVisible(4)
	p.pasted.OnChanged = func(string) { p.settingsChanged() }
	p.source = newKeySelect(w, sourceChoices, func(string) { p.sourceChanged() })
	p.source.SetSelectedIndex(0)

	p.samples = numberEntry(w, calibration.DefaultSamples)
	p.seqLen = numberEntry(w, calibration.DefaultSeqLen)

	p.runBtn = newKeyButton(w, "Run", theme.MediaPlayIcon(), p.start)
	p.runBtn.Importance = widget.HighImportance
	p.cancelBtn = newKeyButton(w, "Cancel", theme.MediaStopIcon(), p.stop)
	p.cancelBtn.Disable()

	p.bar = widget.NewProgressBar()
	p.bar.TextFormatter = func() string {
		if p.bar.Max <= 0 {
			return ""
		}
		return fmt.Sprintf("%.0f of %.0f", p.bar.Value, p.bar.Max)
	}
	p.rateLabel = widget.NewLabel("")
	p.rateLabel.Truncation = fyne.TextTruncateEllipsis
	p.progressBox = container.NewVBox(p.bar, p.rateLabel)
	p.progressBox.Hide()
	p.message = container.NewVBox()
	p.results = newImportanceResults(p)
	p.eval = newEvaluatePanel(p)

	// The metric and Run on top, where a lecturer finds them without scrolling, the results (chart and
	// ranked table) right below them, and the settings that rarely change last, folded away under a
	// title that sums them up. On a 1280×720 projector the chart and the ranked table's first rows, the
	// pruning candidates, show without a scroll (TestImportanceResultsFit1280x720): the model and the
	// device share a line, and the metric, Run and Cancel another.
	form := container.New(layout.NewFormLayout(),
		key("Run on"), p.backend,
		key("Precision"), p.dtype,
		key("Text"), p.source,
		key("Samples"), container.NewGridWithColumns(2, p.samples,
			container.NewBorder(nil, nil, key("tokens"), nil, p.seqLen)),
	)
	p.settings = newFold(w, container.NewVBox(p.deviceNote, form, p.fileRow, p.pasted), func() {
		if p.scroll != nil {
			p.scroll.Content.Refresh()
		}
	})
	for _, sel := range []*keySelect{p.backend, p.dtype} {
		sel.OnChanged = func(string) { p.settingsChanged() }
	}
	for _, e := range []*keyEntry{p.samples, p.seqLen} {
		e.OnChanged = func(string) { p.settingsChanged() }
	}
	top := container.NewVBox(
		container.NewGridWithColumns(2, p.target,
			container.NewBorder(nil, nil, widget.NewIcon(theme.ComputerIcon()), nil, p.device)),
		container.NewBorder(nil, nil, key("Metric"), container.NewHBox(p.runBtn, p.cancelBtn),
			container.NewBorder(nil, nil, nil, p.span, p.metric)),
		p.progressBox,
		p.message,
	)
	// A margin on the right keeps Cancel's label and the table's last column clear of the scroll bar.
	margin := theme.Size(theme.SizeNameScrollBarSmall) + theme.Padding()
	p.scroll = container.NewVScroll(container.New(layout.NewCustomPaddedLayout(0, 0, 0, margin),
		container.NewVBox(top, p.results.content, p.settings.content, p.eval.content)))
	p.content = p.scroll
	p.sourceChanged()
	p.span.Hide()
	p.settingsChanged()
	p.show()
	return p
}

// settingsChanged sums the folded settings up in their title, short enough for the side panel:
// "Settings: auto, built-in text, 8 × 128".
func (p *importancePanel) settingsChanged() {
	if p.settings == nil {
		return
	}
	parts := []string{[]string{"auto", "GPU", "CPU"}[max(0, p.backend.SelectedIndex())]}
	if i := p.dtype.SelectedIndex(); i > 0 {
		parts = append(parts, dtypeValues[i])
	}
	text := []string{"built-in text", "text file", "pasted text"}[max(0, p.source.SelectedIndex())]
	if p.source.SelectedIndex() == int(textFile) && p.file != "" {
		text = filepath.Base(p.file)
	}
	shape := strings.TrimSpace(p.samples.Text) + " × " + strings.TrimSpace(p.seqLen.Text)
	if p.source.SelectedIndex() == int(textFile) && p.fileShape != "" {
		shape = p.fileShape // the run takes the file's samples and lengths, not the entries'
	}
	parts = append(parts, text, shape)
	p.settings.Title = "Settings: " + strings.Join(parts, ", ")
	p.settings.Refresh()
	if p.eval != nil {
		p.eval.refresh() // a perplexity shown is of the settings before
	}
	// A failure goes once its cause is fixed: with the settings changed, what they still get wrong
	// takes its place, or nothing does.
	if p.state == stateFailed && p.results != nil {
		if _, pr := p.job(p.focused()); pr.what != "" {
			p.problem = pr
		} else {
			p.state, p.problem = stateIdle, problem{}
		}
		p.show()
	}
}

// maxTokenFile bounds the read of a token-id file for its shape: ids of a calibration run are a few
// hundred kilobytes of JSON.
const maxTokenFile = 64 << 20

// tokenFileShape is "samples × longest length" of a .json file of token ids, "" for another file or
// one that does not parse (the run then says what is wrong with it).
func tokenFileShape(path string, r io.Reader) string {
	if !strings.EqualFold(filepath.Ext(path), ".json") {
		return ""
	}
	data, err := io.ReadAll(io.LimitReader(r, maxTokenFile))
	if err != nil {
		return ""
	}
	tokens, err := calibration.ParseTokens(data)
	if err != nil || len(tokens) == 0 {
		return ""
	}
	longest := 0
	for _, t := range tokens {
		longest = max(longest, len(t))
	}
	return fmt.Sprintf("%d × %d", len(tokens), longest)
}

// metricChoices names the metrics as the panel shows them, in compute.AllMetrics' order.
func metricChoices() []string {
	return []string{"Block Influence (BI)", "Angular distance", "ΔNLL when skipped", "Flattened cosine"}
}

// metricKey is the metric picked.
func (p *importancePanel) metricKey() compute.Metric {
	return compute.AllMetrics[max(0, p.metric.SelectedIndex())]
}

// spanN is the angular distance's span picked, 1 to compute.MaxSpan.
func (p *importancePanel) spanN() int {
	if p.metricKey() != compute.MetricAngular {
		return 1
	}
	return max(0, p.span.SelectedIndex()) + 1
}

func numberEntry(w *Window, v int) *keyEntry {
	e := newKeyEntry(w, false)
	e.SetText(strconv.Itoa(v))
	e.Validator = func(s string) error {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err != nil || n < 1 {
			return fmt.Errorf("a whole number, 1 or more")
		}
		return nil
	}
	return e
}

// probe looks for the device once, off the UI goroutine, when the tab is first shown.
func (p *importancePanel) probe() {
	if p.probed {
		return
	}
	p.probed = true
	p.runs.Add(1)
	go func() {
		f := p.eng.Probe()
		fyne.Do(func() {
			defer p.runs.Done()
			p.device.SetText(f.String())
			note := ""
			switch {
			case f.GPU:
				note = "Auto computes in fp16 on the GPU, and again in bf16 should fp16 overflow."
			case len(f.Notes) > 0:
				note = "A PJRT plugin was found but did not load (" + f.Notes[0] + "): runs use the " + f.String() + ", in fp32."
			default:
				note = "No GPU found: runs use the CPU, in fp32. With an NVIDIA GPU, `layerscope setup-backend cuda` installs the CUDA plugin."
			}
			p.deviceNote.SetText(note)
			p.deviceNote.Show()
		})
	}()
}

// sourceChanged shows the file chooser or the text box that the text source needs.
func (p *importancePanel) sourceChanged() {
	src := textSource(max(0, p.source.SelectedIndex()))
	p.fileRow.Hidden = src != textFile
	p.pasted.Hidden = src != textPasted
	p.settingsChanged()
	if p.scroll != nil {
		p.scroll.Content.Refresh()
	}
}

// chooseFile asks for a calibration text file (or a .json file of token ids).
func (p *importancePanel) chooseFile() {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil {
			p.w.banner.show(err.Error())
			return
		}
		if r == nil {
			return
		}
		p.file = r.URI().Path()
		p.fileShape = tokenFileShape(p.file, r)
		r.Close()
		p.fileLabel.SetText(filepath.Base(p.file))
		p.settingsChanged()
	}, p.w.win)
	d.SetFilter(storage.NewExtensionFileFilter([]string{".txt", ".md", ".json"}))
	p.w.startIn(d)
	d.Resize(dialogSize(p.w.win))
	d.Show()
}

// focused is the model the panel runs on and shows results for: the focused column, or the full
// model behind a what-if.
func (p *importancePanel) focused() *modelio.Model {
	w := p.w
	if len(w.models) == 0 {
		return nil
	}
	m := w.models[w.focus]
	if w.whatIf != nil && m == w.whatIf.pruned {
		return w.whatIf.orig
	}
	return m
}

// job reads the settings into a job for m, or says what is wrong with them.
func (p *importancePanel) job(m *modelio.Model) (job, problem) {
	j := job{model: m, source: textSource(max(0, p.source.SelectedIndex())), file: p.file, pasted: p.pasted.Text}
	j.opts.Backend = backendValues[max(0, p.backend.SelectedIndex())]
	j.opts.DType = dtypeValues[max(0, p.dtype.SelectedIndex())]
	// BI, angular and flat come from one pass together; ΔNLL costs L²/2 more block runs, so only when
	// asked. Computing the free ones lets the metric change after the run without running again.
	j.opts.Metrics = []compute.Metric{compute.MetricBI, compute.MetricAngular, compute.MetricFlat}
	if p.metricKey() == compute.MetricAblation {
		j.opts.Metrics = compute.AllMetrics
	}
	var err error
	if j.samples, err = strconv.Atoi(strings.TrimSpace(p.samples.Text)); err != nil || j.samples < 1 {
		return j, problem{what: "Samples must be a whole number, 1 or more.", next: "8 samples is a good start."}
	}
	if j.seqLen, err = strconv.Atoi(strings.TrimSpace(p.seqLen.Text)); err != nil || j.seqLen < 2 {
		return j, problem{what: "Tokens per sample must be a whole number, 2 or more.", next: "128 tokens is a good start."}
	}
	switch j.source {
	case textFile:
		if j.file == "" {
			return j, problem{what: "No calibration file is chosen.", next: "Press Choose… to pick a text file, or use the built-in text."}
		}
	case textPasted:
		if strings.TrimSpace(j.pasted) == "" {
			return j, problem{what: "The text box is empty.", next: "Paste some text into it, or use the built-in text."}
		}
	}
	tokenFile := j.source == textFile && strings.EqualFold(filepath.Ext(j.file), ".json")
	if !tokenFile && m != nil && m.Path != "" && !hasTokenizer(m) && precheck(m).what == "" {
		return j, explain(fmt.Errorf("tokenizer.json: %w", errNoTokenizer), j)
	}
	return j, problem{}
}

// start is Run: it checks the settings and runs the engine off the UI goroutine.
func (p *importancePanel) start() {
	if p.state == stateRunning {
		return
	}
	m := p.focused()
	if pr := precheck(m); pr.what != "" {
		p.fail(pr, m)
		return
	}
	j, pr := p.job(m)
	if pr.what != "" {
		p.fail(pr, m)
		return
	}
	p.probe()
	p.seq++
	seq := p.seq
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.state, p.problem, p.running = stateRunning, problem{}, m
	p.started, p.tokens = time.Now(), j.samples*j.seqLen
	p.bar.Max, p.bar.Value = 1, 0
	p.rateLabel.SetText("Preparing " + m.Name + "…")
	p.show()

	pg := &progress{show: func(done, total int, msg string) {
		if seq != p.seq || p.state != stateRunning {
			return
		}
		if total <= 0 { // not counting yet: the engine says what it waits for
			p.rateLabel.SetText(msg + "…")
			return
		}
		p.bar.Max = float64(total)
		p.bar.SetValue(float64(done))
		p.rateLabel.SetText(progressWhat(msg) + rate(done, total, p.tokens, time.Since(p.started)))
	}}
	p.runs.Add(1)
	go func() {
		res, err := p.eng.Run(ctx, j, pg.update)
		fyne.Do(func() {
			defer p.runs.Done()
			if seq != p.seq {
				return // cancelled: the panel moved on already
			}
			p.cancel = nil
			cancelled := ctx.Err() != nil
			cancel()
			switch {
			case err != nil && cancelled:
				p.state = stateCancelled
			case err != nil:
				p.fail(explain(err, j), m)
				return
			default:
				p.state = stateDone
				p.w.scores[modelKey(m)] = &modelResult{res: res}
			}
			p.show()
			p.w.applyScores()
			p.finished(m)
		})
	}()
}

// progressWhat starts the rate line with what the engine is doing, when it says: "block 9 · ".
func progressWhat(msg string) string {
	if msg == "" {
		return ""
	}
	return msg + " · "
}

// stop is Cancel: the panel returns at once, keeping the scores it had; the engine stops at the next
// block and its late answer is ignored.
func (p *importancePanel) stop() {
	if p.state != stateRunning {
		return
	}
	cancel := p.cancel
	p.cancel = nil
	p.seq++
	p.state = stateCancelled
	m := p.running
	p.show()
	p.finished(m)
	if cancel != nil {
		cancel() // last: the run's goroutine wakes on it and must find the panel moved on
	}
}

// fail shows a problem.
func (p *importancePanel) fail(pr problem, m *modelio.Model) {
	p.state, p.problem = stateFailed, pr
	p.show()
	p.finished(m)
}

func (p *importancePanel) finished(m *modelio.Model) {
	p.running = nil
	if p.onFinish != nil {
		p.onFinish(p.state, m)
	}
}

// displayChanged redraws the scores after the metric, the span or the marks changed.
func (p *importancePanel) displayChanged() {
	if p.results == nil {
		return
	}
	p.w.applyScores()
	p.show()
}

// show brings the panel up to date with the state and the focused model.
func (p *importancePanel) show() {
	m := p.focused()
	running := p.state == stateRunning
	switch {
	case m == nil:
		p.target.SetText("No model open")
	case running && p.running != nil && p.running != m:
		p.target.SetText("Running on " + p.running.Name + " (shown: " + m.Name + ")")
	default:
		p.target.SetText(m.Name)
	}
	p.runBtn.Disable()
	if !running && precheck(m).what == "" {
		p.runBtn.Enable()
	}
	if running {
		p.cancelBtn.Enable()
		p.progressBox.Show()
	} else {
		p.cancelBtn.Disable()
		p.progressBox.Hide()
	}
	for _, wd := range []fyne.Disableable{p.backend, p.dtype, p.source, p.samples, p.seqLen, p.pasted} {
		if running {
			wd.Disable()
		} else {
			wd.Enable()
		}
	}

	p.message.RemoveAll()
	r := p.w.resultFor(m)
	pr := p.problem
	if p.state != stateFailed {
		pr = precheck(m) // say why Run cannot work before it is pressed
		if m == nil {
			pr = problem{}
		}
	}
	switch {
	case pr.what != "":
		p.message.Add(problemBox(pr))
	case p.state == stateCancelled && r != nil:
		p.message.Add(iconLine(theme.InfoIcon(), "Cancelled. The scores below are from the run before."))
	case p.state == stateCancelled:
		p.message.Add(iconLine(theme.InfoIcon(), "Cancelled. Press Run to start again."))
	case r == nil && !running:
		p.message.Add(muted("Press Run to score every block on the calibration text: low scores mark the blocks " +
			"that change the hidden state least, the first to try removing."))
	}
	if r != nil && !running {
		for _, n := range r.res.Notes {
			p.message.Add(iconLine(theme.WarningIcon(), noteText(n)))
		}
	}
	p.results.show(m, r)
	// Parts were shown and hidden: lay the whole panel out again (a container only lays out its
	// children when it is refreshed).
	p.scroll.Content.Refresh()
}

// problemBox shows a problem in the banner's colours: what happened, then what to do.
func problemBox(pr problem) fyne.CanvasObject {
	what := wrapped(pr.what)
	next := mutedText(pr.next, theme.SizeNameText, true)
	return container.NewBorder(nil, nil, container.NewVBox(widget.NewIcon(theme.ErrorIcon())), nil,
		container.NewVBox(what, next))
}
