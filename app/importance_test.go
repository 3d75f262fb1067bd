package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"github.com/layerscope/layerscope/compute"
	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/render"
)

// fakeEngine stands in for compute: it reports progress, then answers, fails, or waits for Cancel.
type fakeEngine struct {
	found    compute.Found
	steps    int  // progress calls before it answers
	block    bool // wait until cancelled
	result   func(j job) *compute.Result
	err      error
	progress chan int // receives each progress step once shown (buffered)
	jobs     []job
}

func (f *fakeEngine) Probe() compute.Found { return f.found }

func (f *fakeEngine) Run(ctx context.Context, j job, progress func(done, total int, msg string)) (*compute.Result, error) {
	f.jobs = append(f.jobs, j)
	total := f.steps + 1
	for i := 1; i <= f.steps; i++ {
		time.Sleep(time.Millisecond) // a measurable pace for the rate
		progress(i, total, "block "+string(rune('0'+i)))
		if f.progress != nil {
			f.progress <- i
		}
	}
	if f.block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if f.err != nil {
		return nil, f.err
	}
	return f.result(j), nil
}

// fakeResult scores blocks like a BI run: high at the ends, lowest at block 1 of the middle ones.
func fakeResult(blocks int) func(j job) *compute.Result {
	return func(j job) *compute.Result {
		bi := make([]float64, blocks)
		for i := range bi {
			bi[i] = float64(10+i) / 100
		}
		bi[0], bi[blocks-1] = 0.05, 0.9 // the first block is the lowest, but protected by default
		bi[1] = 0.07
		ang := map[int][]float64{}
		for n := 1; n <= min(compute.MaxSpan, blocks); n++ {
			a := make([]float64, blocks-n+1)
			for i := range a {
				a[i] = float64(20+(i*7)%5) / 100
			}
			ang[n] = a
		}
		return &compute.Result{Model: j.model.Name, Family: "llama", Blocks: blocks, BI: bi, Angular: ang,
			Flat: slices.Clone(bi), Samples: j.samples, SeqLen: j.seqLen, Tokens: j.samples * j.seqLen,
			Backend: "go", Device: "pure Go (2 cores)", DType: "fp32", Elapsed: 1500 * time.Millisecond, NLL: 4.6}
	}
}

// modelWithTokenizer is a tiny llama folder with a tokenizer.json, as a downloaded model has.
func modelWithTokenizer(t *testing.T, name string, layers int) string {
	t.Helper()
	dir := tinyModel(t, name, layers)
	src, err := os.Open("../modelio/tokenizer/testdata/llama2/tokenizer.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(filepath.Join(dir, "tokenizer.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	dst.Close()
	return dir
}

// importanceWindow is a test window with a fake engine, showing the Importance tab.
func importanceWindow(t *testing.T, f *fakeEngine) (*Window, *importancePanel) {
	t.Helper()
	w := newTestWindow(t)
	p := w.importance
	p.eng = f
	// The probe first, waited for: Fyne's test driver runs fyne.Do on the calling goroutine, so a
	// probe racing the tab's own layout would be a race the real driver never has.
	p.probe()
	p.runs.Wait()
	w.tabs.SelectIndex(3)
	return w, p
}

func openAndWait(w *Window, paths ...string) {
	w.open(paths, false)
	w.waitLoads()
}

// labels collects the text of every label and rich text under o.
func labels(o fyne.CanvasObject) string {
	var out []string
	var walk func(fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		switch v := o.(type) {
		case *widget.Label:
			if v.Visible() {
				out = append(out, v.Text)
			}
		case *widget.RichText:
			if v.Visible() {
				out = append(out, v.String())
			}
		case *fyne.Container:
			if v.Visible() {
				for _, c := range v.Objects {
					walk(c)
				}
			}
		}
	}
	walk(o)
	return strings.Join(out, "\n")
}

func TestImportanceIdle(t *testing.T) {
	f := &fakeEngine{found: compute.Found{GPU: true, Device: "NVIDIA H100 80GB HBM3"}}
	w, p := importanceWindow(t, f)
	if got := p.device.Text; got != "GPU: NVIDIA H100 80GB HBM3" {
		t.Errorf("device %q", got)
	}
	openAndWait(w, "llama-3.2-1b")
	if p.state != stateIdle || !p.runBtn.Disabled() {
		t.Errorf("gallery model: state %v, Run disabled %v; want idle and disabled", p.state, p.runBtn.Disabled())
	}
	if msg := labels(p.message); !strings.Contains(msg, "built-in gallery") || !strings.Contains(msg, "Open Folder") {
		t.Errorf("gallery model: the panel says %q", msg)
	}
	openAndWait(w, modelWithTokenizer(t, "tiny", 4))
	if p.runBtn.Disabled() || !p.cancelBtn.Disabled() {
		t.Error("a runnable model: Run should be enabled and Cancel disabled")
	}
	if msg := labels(p.message); !strings.Contains(msg, "Press Run") {
		t.Errorf("a runnable model: the panel says %q", msg)
	}
	if p.results.content.Visible() {
		t.Error("results show before any run")
	}
}

func TestImportanceRunDone(t *testing.T) {
	f := &fakeEngine{steps: 4, result: fakeResult(4)}
	w, p := importanceWindow(t, f)
	openAndWait(w, modelWithTokenizer(t, "tiny", 4))
	p.start()
	p.runs.Wait()
	if p.state != stateDone {
		t.Fatalf("state %v after a run, want done; problem %q", p.state, p.problem.what)
	}
	j := f.jobs[0]
	if j.samples != 8 || j.seqLen != 128 || j.opts.Backend != compute.BackendAuto || j.source != textBuiltIn ||
		!slices.Equal(j.opts.Metrics, []compute.Metric{compute.MetricBI, compute.MetricAngular, compute.MetricFlat}) {
		t.Errorf("job %+v", j)
	}
	s, ok := w.view.Options().Scores[0]
	if !ok || len(s.Values) != 4 || s.Metric != "BI" {
		t.Fatalf("the stack's scores: %+v", w.view.Options().Scores)
	}
	// One candidate (an eighth of 4, at least one); block 0 scores lowest but is protected.
	if !slices.Equal(s.Candidates, []int{1}) {
		t.Errorf("candidates %v, want [1]", s.Candidates)
	}
	if !p.results.content.Visible() || len(p.results.chart.Scores().Values) != 4 {
		t.Error("the results, with the chart, should show")
	}
	if rows := len(p.results.table.Objects); rows != 5 {
		t.Errorf("the table has %d rows, want a header and 4 blocks", rows)
	}
	if !strings.Contains(p.results.summary.Text, "8 × 128 tokens") {
		t.Errorf("summary %q", p.results.summary.Text)
	}

	// Another metric needs no run: the angular distance of 2-block spans marks its best span.
	p.metric.SetSelectedIndex(1)
	p.span.SetSelectedIndex(1)
	s = w.view.Options().Scores[0]
	if s.Metric != "angular n=2" || len(s.Candidates) != 2 || s.Candidates[1] != s.Candidates[0]+1 || !math.IsNaN(s.Values[3]) {
		t.Errorf("angular n=2: %+v", s)
	}
	// ΔNLL was not computed: the panel says so and the stack goes unshaded.
	p.metric.SetSelectedIndex(2)
	if _, ok := w.view.Options().Scores[0]; ok || !p.results.missing.Visible() {
		t.Error("ΔNLL not computed: the stack should be unshaded and the panel should say so")
	}
	p.start()
	p.runs.Wait()
	if got := f.jobs[1].opts.Metrics; len(got) != 4 {
		t.Errorf("a run with ΔNLL picked asks for %v", got)
	}
}

func TestImportanceRunningAndCancel(t *testing.T) {
	f := &fakeEngine{steps: 2, result: fakeResult(4)}
	w, p := importanceWindow(t, f)
	openAndWait(w, modelWithTokenizer(t, "tiny", 4))
	p.start()
	p.runs.Wait()
	before := w.scores[modelKey(w.models[0])]

	f.block, f.progress = true, make(chan int, 8)
	p.start()
	<-f.progress
	<-f.progress // the second step has been shown
	if p.state != stateRunning || p.cancelBtn.Disabled() || !p.runBtn.Disabled() || !p.progressBox.Visible() {
		t.Errorf("running: state %v, Cancel disabled %v, Run disabled %v", p.state, p.cancelBtn.Disabled(), p.runBtn.Disabled())
	}
	if p.bar.Value != 2 || p.bar.Max != 3 {
		t.Errorf("progress %v of %v, want 2 of 3", p.bar.Value, p.bar.Max)
	}
	if got := p.rateLabel.Text; !strings.HasPrefix(got, "block 2 · ") || !strings.Contains(got, "tokens/s · ") {
		t.Errorf("rate line %q", got)
	}
	start := time.Now()
	p.stop()
	if p.state != stateCancelled {
		t.Errorf("state %v after Cancel", p.state)
	}
	p.runs.Wait() // the engine saw the cancellation
	if d := time.Since(start); d > time.Second {
		t.Errorf("the run took %v to stop", d)
	}
	if p.state != stateCancelled || w.scores[modelKey(w.models[0])] != before {
		t.Error("the cancelled run's late answer replaced the state or the scores")
	}
	if _, ok := w.view.Options().Scores[0]; !ok {
		t.Error("the scores from before the cancelled run left the stack")
	}
	if msg := labels(p.message); !strings.Contains(msg, "from the run before") {
		t.Errorf("after Cancel the panel says %q", msg)
	}
}

func TestImportanceFailed(t *testing.T) {
	for _, tc := range []struct {
		name       string
		err        error
		backend    int
		want, next string
	}{
		{"gpu", errors.New("NVIDIA H100 (CUDA PJRT, /p.so): out of memory"), 1, "The GPU run failed", "Choose CPU"},
		{"short text", errors.New("the calibration text gives 90 tokens, and 8 samples of 128 need 1024: give a longer text or fewer samples"), 2,
			"The calibration text gives 90 tokens", "Lower the samples"},
		{"other", errors.New("layer 2: missing model.layers.2.mlp.up_proj.weight"), 0, "Layer 2: missing", "layerscope importance"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeEngine{err: tc.err}
			w, p := importanceWindow(t, f)
			openAndWait(w, modelWithTokenizer(t, "tiny", 4))
			p.backend.SetSelectedIndex(tc.backend)
			p.start()
			p.runs.Wait()
			msg := labels(p.message)
			if p.state != stateFailed || !strings.Contains(msg, tc.want) || !strings.Contains(msg, tc.next) {
				t.Errorf("state %v, message %q; want failed, %q and %q", p.state, msg, tc.want, tc.next)
			}
			if p.runBtn.Disabled() {
				t.Error("Run stays disabled after a failure")
			}
		})
	}
}

// Problems found before a run: the model has no tokenizer, or the settings are wrong.
func TestImportanceProblemsBeforeRun(t *testing.T) {
	f := &fakeEngine{result: fakeResult(2)}
	w, p := importanceWindow(t, f)
	openAndWait(w, tinyModel(t, "no-tokenizer", 2))
	p.start()
	if msg := labels(p.message); p.state != stateFailed || !strings.Contains(msg, "no tokenizer.json") || !strings.Contains(msg, "token ids") {
		t.Errorf("no tokenizer: state %v, %q", p.state, msg)
	}
	// A file of token ids needs no tokenizer.
	ids := filepath.Join(t.TempDir(), "ids.json")
	os.WriteFile(ids, []byte("[[1,2,3],[4,5,6]]"), 0o644)
	p.source.SetSelectedIndex(int(textFile))
	p.file = ids
	p.start()
	p.runs.Wait()
	if p.state != stateDone {
		t.Errorf("token ids: state %v, %q", p.state, labels(p.message))
	}
	p.samples.SetText("0")
	p.start()
	if !strings.Contains(labels(p.message), "Samples must be") {
		t.Errorf("0 samples: %q", labels(p.message))
	}
}

func TestCalibrationTokensFromIDs(t *testing.T) {
	w := newTestWindow(t)
	openAndWait(w, tinyModel(t, "tiny", 2))
	ids := filepath.Join(t.TempDir(), "ids.json")
	os.WriteFile(ids, []byte("[[1,2,3],[4,5]]"), 0o644)
	got, err := calibrationTokens(job{model: w.models[0], source: textFile, file: ids})
	if err != nil || len(got) != 2 || len(got[1]) != 2 {
		t.Errorf("tokens %v, %v", got, err)
	}
	_, err = calibrationTokens(job{model: w.models[0], source: textPasted, pasted: "hello", samples: 1, seqLen: 4})
	if p := explain(err, job{model: w.models[0]}); !strings.Contains(p.what, "no tokenizer.json") {
		t.Errorf("no tokenizer: %v → %q", err, p.what)
	}
}

// Scores stay with their model: opening another and coming back shows them again, and in a
// comparison each column shows its own.
func TestImportanceResultsPerModel(t *testing.T) {
	f := &fakeEngine{result: fakeResult(4)}
	w, p := importanceWindow(t, f)
	a, b := modelWithTokenizer(t, "tiny-a", 4), modelWithTokenizer(t, "tiny-b", 3)
	openAndWait(w, a)
	p.start()
	p.runs.Wait()
	openAndWait(w, b)
	if w.view.Options().Scores != nil || p.results.content.Visible() {
		t.Error("model b shows model a's scores")
	}
	f.result = fakeResult(3)
	p.start()
	p.runs.Wait()
	openAndWait(w, a)
	if s := w.view.Options().Scores[0]; len(s.Values) != 4 || !p.results.content.Visible() {
		t.Errorf("back on model a: scores %+v", w.view.Options().Scores)
	}
	openAndWait(w, a, b)
	sc := w.view.Options().Scores
	if len(sc[0].Values) != 4 || len(sc[1].Values) != 3 {
		t.Errorf("comparing: %d and %d scores, want 4 and 3", len(sc[0].Values), len(sc[1].Values))
	}
	w.selected(render.Ref{What: render.RefModel, Model: 1, Start: -1, End: -1}, nil)
	if got := p.results.chart.Scores().Values; len(got) != 3 {
		t.Errorf("focus on model b: the chart shows %d scores", len(got))
	}
}

func TestPickCandidates(t *testing.T) {
	v := []float64{0.05, 0.3, 0.1, 0.11, 0.12, 0.4, 0.02, 0.5}
	for _, tc := range []struct {
		name string
		rule candidateRule
		want []int
	}{
		{"lowest three", candidateRule{count: 3, span: 1}, []int{0, 2, 6}},
		{"protected", candidateRule{count: 3, span: 1, protect: true}, []int{2, 3, 6}},
		{"not adjacent", candidateRule{count: 3, span: 1, protect: true, noAdjacent: true}, []int{2, 4, 6}},
		{"none", candidateRule{count: 0, span: 1}, nil},
		{"all but one", candidateRule{count: 20, span: 1}, []int{0, 1, 2, 3, 4, 5, 6}},
	} {
		if got := pickCandidates(v, tc.rule); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	// A span's scores: v[i] is the span starting at i; the last block has none.
	span := []float64{0.05, 0.1, 0.2, 0.5, math.NaN()}
	if got := pickCandidates(span, candidateRule{span: 2}); !slices.Equal(got, []int{0, 1}) {
		t.Errorf("best span: %v", got)
	}
	if got := pickCandidates(span, candidateRule{span: 2, protect: true}); !slices.Equal(got, []int{1, 2}) {
		t.Errorf("best span, the first block protected: %v", got)
	}
}

// Ticking a block in the table marks it by hand; changing the rule or Reset goes back to the rule.
func TestImportanceTicks(t *testing.T) {
	f := &fakeEngine{result: fakeResult(6)}
	w, p := importanceWindow(t, f)
	openAndWait(w, modelWithTokenizer(t, "tiny", 6))
	p.start()
	p.runs.Wait()
	x := p.results
	x.tick(3, true)
	if got := w.view.Options().Scores[0].Candidates; !slices.Equal(got, []int{1, 3}) || !x.reset.Visible() {
		t.Errorf("after ticking block 3: %v", got)
	}
	x.tick(1, false)
	if got := x.marked(); !slices.Equal(got, []int{3}) {
		t.Errorf("after unticking block 1: %v", got)
	}
	x.count.SetSelected("2")
	if got := x.marked(); !slices.Equal(got, []int{1, 2}) || x.reset.Visible() {
		t.Errorf("after the rule changed: %v", got)
	}
}

// Remove marked blocks shows the pruned model without writing; Back puts the full one back; Save
// writes a copy into a new folder and opens it.
func TestImportanceWhatIfAndSave(t *testing.T) {
	f := &fakeEngine{result: fakeResult(6)}
	w, p := importanceWindow(t, f)
	dir := modelWithTokenizer(t, "tiny", 6)
	openAndWait(w, dir)
	p.start()
	p.runs.Wait()
	x := p.results
	x.tick(3, true) // blocks 1 and 3
	before, _ := os.ReadDir(dir)
	x.remove.OnTapped()
	m := w.models[0]
	if !slices.Equal(m.Removed, []int{1, 3}) || len(m.Arch.Blocks) != 4 || !w.whatIfBar.content.Visible() {
		t.Fatalf("what-if: removed %v, %d blocks, bar shown %v", m.Removed, len(m.Arch.Blocks), w.whatIfBar.content.Visible())
	}
	if got := w.whatIfBar.text.Text; !strings.Contains(got, "without blocks 1, 3: 4 blocks") {
		t.Errorf("what-if bar %q", got)
	}
	if !strings.Contains(w.tree.text.Text, "(0-3): 4 x LlamaDecoderLayer") {
		t.Errorf("the tree does not show 4 blocks:\n%s", w.tree.text.Text)
	}
	if w.view.Options().Scores != nil {
		t.Error("the what-if stack is shaded with the full model's scores")
	}
	if !p.results.content.Visible() || p.focused() != w.whatIf.orig {
		t.Error("during a what-if the panel should keep the full model's results")
	}
	after, _ := os.ReadDir(dir)
	if len(after) != len(before) {
		t.Error("the what-if wrote into the model folder")
	}
	w.leaveWhatIf()
	if w.models[0].Removed != nil || w.whatIfBar.content.Visible() || w.view.Options().Scores == nil {
		t.Error("Back did not restore the full, shaded model")
	}

	dst := filepath.Join(t.TempDir(), "tiny-pruned")
	w.savePruned(w.models[0], []int{1, 3}, dst)
	w.waitLoads()
	if w.banner.visible() {
		t.Fatalf("saving failed: %s", w.banner.text.Text)
	}
	if len(w.models) != 1 || !strings.HasPrefix(w.models[0].Path, dst) || len(w.models[0].Arch.Blocks) != 4 {
		t.Errorf("after saving, the window shows %s with %d blocks", w.models[0].Path, len(w.models[0].Arch.Blocks))
	}
	if !strings.Contains(w.tree.text.Text, "(0-3): 4 x LlamaDecoderLayer") {
		t.Errorf("the saved copy's tree:\n%s", w.tree.text.Text)
	}
	// The source folder is refused as a destination.
	w.savePruned(w.models[0], []int{1}, dst)
	w.waitLoads()
	if !w.banner.visible() || !strings.Contains(w.banner.text.Text, "own folder") {
		t.Errorf("saving into the model's own folder: banner %q", w.banner.text.Text)
	}
}

func TestScoresExport(t *testing.T) {
	res := fakeResult(4)(job{model: modelFor(t), samples: 2, seqLen: 8})
	shown := render.Scores{Metric: "BI", Values: res.BI, Candidates: []int{1}}
	data, err := scoresCSV(res, shown)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if lines[0] != "block,bi,angular_n1,angular_n2,angular_n3,angular_n4,flat,rank_by_bi,marked" || len(lines) != 5 {
		t.Errorf("CSV:\n%s", data)
	}
	if lines[2] != "1,0.07,0.22,0.22,0.22,,0.07,2,true" {
		t.Errorf("block 1's row %q", lines[2])
	}
	if lines[4] != "3,0.9,0.21,,,,0.9,4,false" {
		t.Errorf("block 3's row %q: angular spans past the end should be empty", lines[4])
	}
	data, err = scoresJSON(res, shown)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Blocks   int    `json:"blocks"`
		RankedBy string `json:"ranked_by"`
		Marked   []int  `json:"marked"`
		Metrics  []struct {
			Metric string    `json:"metric"`
			N      int       `json:"n"`
			Scores []float64 `json:"scores"`
		} `json:"metrics"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	if v.Blocks != 4 || v.RankedBy != "BI" || !slices.Equal(v.Marked, []int{1}) || len(v.Metrics) != 6 || v.Metrics[0].Metric != "bi" {
		t.Errorf("JSON %s", data)
	}
}

func modelFor(t *testing.T) *modelio.Model {
	t.Helper()
	w := newTestWindow(t)
	openAndWait(w, "llama-3.2-1b")
	return w.models[0]
}

func TestExplainAndNotes(t *testing.T) {
	for _, tc := range []struct{ note, want string }{
		{"block 3 produced non-finite values in fp16; running again in bf16", "fp16 overflowed"},
		{"CUDA PJRT plugin /x.so: cannot load it: libcudart.so.12: cannot open shared object file; falling back to the pure Go backend",
			"The GPU could not be used"},
		{"pure Go (2 cores) has no fp16; computing in fp32", "The CPU has no fp16"},
	} {
		if got := noteText(tc.note); !strings.Contains(got, tc.want) {
			t.Errorf("noteText(%q) = %q, want %q", tc.note, got, tc.want)
		}
	}
	for _, tc := range []struct {
		done, total, tokens int
		elapsed             time.Duration
		want                string
	}{
		{0, 10, 1024, time.Second, "starting…"},
		{5, 10, 1024, time.Second, "512 tokens/s · about 1 s left"},
		{10, 10, 1024, 2 * time.Second, "512 tokens/s"},
		{1, 100, 100000, 2 * time.Second, "500 tokens/s · about 3 min 18 s left"},
	} {
		if got := rate(tc.done, tc.total, tc.tokens, tc.elapsed); got != tc.want {
			t.Errorf("rate(%d, %d, %d, %v) = %q, want %q", tc.done, tc.total, tc.tokens, tc.elapsed, got, tc.want)
		}
	}
}

// TestImportanceScreens writes the panel's states to $LAYERSCOPE_SCREENS (skipped when unset), to look
// at when changing its layout.
func TestImportanceScreens(t *testing.T) {
	out := os.Getenv("LAYERSCOPE_SCREENS")
	if out == "" {
		t.Skip("set LAYERSCOPE_SCREENS=folder to write the screens")
	}
	os.MkdirAll(out, 0o755)
	f := &fakeEngine{found: compute.Found{Device: "pure Go", Cores: 16}, result: fakeResult(16)}
	w, p := importanceWindow(t, f)
	shot := func(name string) {
		img := w.win.Canvas().Capture()
		fh, err := os.Create(filepath.Join(out, name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		png.Encode(fh, img)
	}
	openAndWait(w, "llama-3.2-1b")
	shot("20-importance-gallery")
	first := modelWithTokenizer(t, "Llama-tiny", 16)
	openAndWait(w, first)
	shot("21-importance-idle")
	f.steps, f.block, f.progress = 9, true, make(chan int, 16)
	p.start()
	for range 9 {
		<-f.progress
	}
	shot("22-importance-running")
	f.progress = nil
	p.stop()
	p.runs.Wait()
	f.block = false
	p.start()
	p.runs.Wait()
	shot("23-importance-done")
	w.win.Resize(fyne.NewSize(1280, 1900)) // the whole panel at once
	shot("24-importance-whole")
	w.win.Resize(fyne.NewSize(1280, 720))
	p.results.remove.OnTapped()
	shot("25-whatif")
	w.leaveWhatIf()
	f.err = errors.New("NVIDIA H100 (CUDA PJRT, /p.so): out of memory")
	p.backend.SetSelectedIndex(1)
	p.start()
	p.runs.Wait()
	shot("26-failed")
	w.setDark(true)
	p.backend.SetSelectedIndex(0)
	f.err = nil
	p.start()
	p.runs.Wait()
	shot("27-dark")
	w.setDark(false)
	w.setPresenting(true)
	shot("28-present")
	w.setPresenting(false)
	other := modelWithTokenizer(t, "Other-tiny", 8)
	openAndWait(w, other)
	f.result = fakeResult(8)
	p.start()
	p.runs.Wait()
	openAndWait(w, first, other)
	shot("29-compare")
}

// At 1280×720, a 16-block model's results show without a scroll: the whole chart, and the ranked
// table's heading and its first rows down to the last pruning candidate, with a row to spare.
func TestImportanceResultsFit1280x720(t *testing.T) {
	f := &fakeEngine{found: compute.Found{Device: "pure Go", Cores: 16}, result: fakeResult(16)}
	w, p := importanceWindow(t, f)
	w.win.Resize(fyne.NewSize(1280, 720))
	openAndWait(w, modelWithTokenizer(t, "Llama-tiny", 16))
	p.start()
	p.runs.Wait()
	if p.scroll.Offset.Y != 0 {
		t.Fatalf("the panel starts scrolled by %v", p.scroll.Offset.Y)
	}
	_, top, _, bottom := box(p.scroll)
	visible := func(what string, o fyne.CanvasObject) {
		t.Helper()
		_, y0, _, y1 := box(o)
		if !o.Visible() || y0 < top-0.5 || y1 > bottom+0.5 {
			t.Errorf("%s spans y %.0f–%.0f, outside the panel's view %.0f–%.0f", what, y0, y1, top, bottom)
		}
	}
	visible("the chart", p.results.chart)
	rows := p.results.table.Objects
	marked := p.results.marked()
	if len(marked) == 0 || len(rows) < 17 {
		t.Fatalf("%d candidates, %d table rows", len(marked), len(rows))
	}
	// The rows after the header, lowest score first: the last candidate's row and the one below it.
	last := 0
	for i, b := range rankOrder(p) {
		if slices.Contains(marked, b) {
			last = i
		}
	}
	visible("the table's header", rows[0])
	for i := 0; i <= last+1; i++ {
		visible(fmt.Sprintf("rank %d's row", i+1), rows[1+i])
	}
}

// rankOrder is the blocks of the ranked table, lowest score first.
func rankOrder(p *importancePanel) []int {
	s, _ := p.w.displayScores(p.results.r, p)
	order := make([]int, len(s.Values))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return s.Values[order[a]] < s.Values[order[b]] })
	return order
}

// After Remove marked blocks the selection and the chart keep the full model's numbers; the module
// tree prints the saved copy (layers 0…n−1) and says above it which blocks are gone.
func TestWhatIfNumbersInTreeSelectionAndChart(t *testing.T) {
	f := &fakeEngine{result: fakeResult(6)}
	w, p := importanceWindow(t, f)
	openAndWait(w, modelWithTokenizer(t, "tiny", 6))
	p.start()
	p.runs.Wait()
	p.results.tick(3, true) // blocks 1 and 3
	p.results.remove.OnTapped()
	if w.whatIf == nil || !slices.Equal(w.whatIf.remove, []int{1, 3}) {
		t.Fatalf("what-if %+v", w.whatIf)
	}
	// The tree: the saved copy's numbers, and which blocks went.
	if !strings.Contains(w.tree.text.Text, "(0-3): 4 x LlamaDecoderLayer") {
		t.Errorf("the tree is not the saved copy's:\n%s", w.tree.text.Text)
	}
	if got := w.tree.renumbered.Text; !w.tree.renumbered.Visible() || !strings.Contains(got, "renumbered 0–3") || !strings.Contains(got, "blocks 1, 3") {
		t.Errorf("above the tree: %q (shown %v)", got, w.tree.renumbered.Visible())
	}
	// The selection: block 4 of the full model is the copy's layer 2.
	w.selected(render.Ref{What: render.RefPart, Model: 0, Start: 2, End: 2, Path: "model.layers.2.self_attn.q_proj"}, nil)
	if got := w.selection.lines.Text; !strings.Contains(got, "block 4\n") || !strings.Contains(got, "block 4 is its layer 2") {
		t.Errorf("the selection of the copy's layer 2 says:\n%s", got)
	}
	// The chart is the full model's: its bar for block 4 selects the card that holds block 4.
	w.view.Select(render.Ref{})
	p.results.selectBlock(4)
	if ref, ok := w.view.Selected(); !ok || ref.Start > 2 || ref.End < 2 {
		t.Errorf("the chart's block 4 selected %+v (%v), want the card of the copy's block 2", ref, ok)
	}
	p.results.selectBlock(3)
	if !strings.Contains(w.status.Text, "Block 3 is removed") {
		t.Errorf("the chart's removed block 3: status %q", w.status.Text)
	}
	if got := p.results.chart.Scores().Values; len(got) != 6 {
		t.Errorf("the chart shows %d blocks, want the full model's 6", len(got))
	}
	// Back: the tree says nothing more.
	w.leaveWhatIf()
	if w.tree.renumbered.Visible() {
		t.Error("the renumbering note stays after Back to full model")
	}
}
