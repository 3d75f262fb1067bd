package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"

	"github.com/layerscope/layerscope/compute"
	"github.com/layerscope/layerscope/compute/calibration"
	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/facts"

	"github.com/layerscope/layerscope/modelio/safefile"
)

// textSource is where the calibration text comes from.
type textSource int

const (
	textBuiltIn textSource = iota // the built-in public-domain text
	textFile                      // a text file, or a .json file of token ids (as --tokens takes)
	textPasted                    // typed or pasted into the panel
)

// job is one importance run as the panel asks for it.
type job struct {
	model   *modelio.Model
	source  textSource
	file    string // textFile: the path
	pasted  string // textPasted: the text
	samples int
	seqLen  int
	opts    compute.Options
}

// engine runs a job: the calibration tokens, then the forward pass. The panel calls it off the UI
// goroutine; tests give the panel a fake one.
type engine interface {
	// Probe finds the device a run would use; it may take a second or more.
	Probe() compute.Found
	// Run computes the scores, calling progress after each block as compute.Options.Progress does and
	// returning ctx.Err() soon after ctx is cancelled.
	Run(ctx context.Context, j job, progress func(done, total int, msg string)) (*compute.Result, error)
}

// realEngine is compute with the model's own tokenizer. Its session keeps the device the probe opened
// and the executables a run compiled for the window's lifetime: pressing Run again on the same model
// and settings compiles nothing (seconds on a GPU). The process's exit releases them.
type realEngine struct{ session *compute.Session }

func newRealEngine() realEngine { return realEngine{session: compute.NewSession()} }

func (e realEngine) Probe() compute.Found { return e.session.Probe() }

func (e realEngine) Run(ctx context.Context, j job, progress func(done, total int, msg string)) (*compute.Result, error) {
	tokens, err := calibrationTokens(j)
	if err != nil {
		return nil, err
	}
	opts := j.opts
	opts.Progress = progress
	return e.session.Run(ctx, j.model, tokens, opts)
}

// calibrationTokens cuts the job's text with the model's tokenizer, or reads a file of token ids.
func calibrationTokens(j job) ([][]int, error) {
	text := calibration.Default()
	switch j.source {
	case textFile:
		data, err := safefile.ReadFile(j.file, safefile.MaxTokenizerBytes)
		if err != nil {
			return nil, err
		}
		if strings.EqualFold(filepath.Ext(j.file), ".json") {
			tokens, err := calibration.ParseTokens(data)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", j.file, err)
			}
			return tokens, nil
		}
		text = string(data)
	case textPasted:
		text = j.pasted
	}
	tok, err := calibration.TokenizerFor(j.model)
	if err != nil {
		return nil, err
	}
	return calibration.Cut(tok, text, j.samples, j.seqLen)
}

// problem is a run's failure in plain words: what happened and what to do next.
type problem struct {
	what, next string
}

// precheck says why m cannot be run at all, before anyone presses Run: a gallery model, a folder
// without weights, or a family without a forward pass. The zero problem means it can.
func precheck(m *modelio.Model) problem {
	switch {
	case m == nil:
		return problem{what: "No model is open.", next: "Open a Hugging Face model folder (File ▸ Open Folder…) or drop one on the window."}
	case m.Path == "":
		return problem{
			what: m.Name + " comes from the built-in gallery: Layerscope has its config.json but none of its weights, so it cannot run it.",
			next: "Open the model's own folder with its .safetensors files (File ▸ Open Folder…), or one from the Hugging Face cache, then press Run.",
		}
	case !slices.Contains(compute.Families(), m.Spec.Family) || m.Generic:
		return problem{
			what: fmt.Sprintf("Layerscope can draw %s (model_type %q) but cannot run it yet: there is no forward pass for its family.", m.Name, m.Spec.Family),
			next: "Importance runs on " + strings.Join(compute.Families(), ", ") + " models: open one of those.",
		}
	case m.Remote:
		return problem{
			what: m.Name + " was read from the Hugging Face Hub by its headers only: its weights are not on this machine.",
			next: "Download it (hf download " + strings.TrimPrefix(strings.SplitN(m.Path, "@", 2)[0], "hf:") + "), then open its folder and press Run.",
		}
	case m.ComputeError() != nil:
		return problem{
			what: m.ComputeError().Error() + ".",
			next: "Open the full-precision safetensors folder of the same model to run importance.",
		}
	case !m.HasWeights():
		return problem{
			what: "There are no weights in " + m.Path + ": the folder has no .safetensors files.",
			next: "Put the model's .safetensors files in the folder (huggingface-cli download fetches them), then open it again.",
		}
	}
	return problem{}
}

// hasTokenizer reports whether m's folder holds a tokenizer.json (or .gz).
func hasTokenizer(m *modelio.Model) bool {
	if m == nil || m.Path == "" {
		return false
	}
	dir := m.Path
	if info, err := os.Stat(dir); err == nil && !info.IsDir() {
		dir = filepath.Dir(dir)
	}
	for _, name := range []string{"tokenizer.json", "tokenizer.json.gz"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

// explain turns a run's error into a problem. The engine's errors are one line and exact; this adds
// what to do about them.
func explain(err error, j job) problem {
	msg := err.Error()
	if p := precheck(j.model); p.what != "" {
		return p
	}
	switch {
	case errors.Is(err, fs.ErrNotExist) && strings.Contains(msg, "tokenizer.json"):
		return problem{
			what: "There is no tokenizer.json in the model folder: Layerscope needs it to turn the calibration text into tokens.",
			next: "Copy tokenizer.json from the model's Hugging Face page into the folder, or pick a file of token ids " +
				"(a .json array of arrays, as `layerscope importance --tokens` takes) under Calibration text.",
		}
	case errors.Is(err, fs.ErrNotExist):
		return problem{what: msg + ".", next: "Choose the calibration file again."}
	case strings.Contains(msg, "calibration text gives"):
		return problem{what: upperFirst(msg) + ".", next: "Lower the samples or the tokens per sample, or give a longer text."}
	case strings.Contains(msg, "calibration text is empty"):
		return problem{what: "The calibration text is empty.", next: "Paste some text, pick a text file, or use the built-in text."}
	case strings.Contains(msg, "outside the vocabulary") || strings.Contains(msg, "max_position_embeddings"):
		return problem{what: upperFirst(msg) + ".", next: "The token ids do not fit this model: use ids from its own tokenizer, or shorter samples."}
	case j.opts.Backend == compute.BackendGPU || strings.Contains(msg, "CUDA") || strings.Contains(msg, "PJRT"):
		return problem{
			what: "The GPU run failed: " + msg + ".",
			next: "Choose CPU under Run on and press Run again: slower, but it needs no GPU. For the GPU, check its " +
				"driver; `layerscope setup-backend cuda` installs the CUDA plugin.",
		}
	}
	return problem{what: upperFirst(msg) + ".", next: "Check the model folder, or run `layerscope importance` on it in a terminal for the details."}
}

// noteText rewords a run's notes: dtype overflows and fallbacks in plain words, others as they are.
func noteText(n string) string {
	switch {
	case strings.Contains(n, "non-finite values in fp16"):
		return "fp16 overflowed (" + n + "): the scores are from the repeated run, which is slower but exact."
	case strings.Contains(n, "non-finite values"):
		return "The numbers overflowed (" + n + "): the scores are from the repeated run."
	case strings.Contains(n, "falling back to the pure Go backend"):
		return "The GPU could not be used, so the run went on the CPU: " + n + "."
	case strings.Contains(n, "has no fp16"):
		return "The CPU has no fp16: the run computed in fp32, which is exact."
	}
	return upperFirst(n) + "."
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// progress carries the engine's progress calls to the UI goroutine without flooding it: the newest
// value waits for one fyne.Do at a time, so an ablation run's thousands of quick steps cost the UI
// a frame's worth of updates.
type progress struct {
	mu      sync.Mutex
	done    int
	total   int
	msg     string
	pending bool
	show    func(done, total int, msg string) // on the UI goroutine
}

func (p *progress) update(done, total int, msg string) {
	p.mu.Lock()
	p.done, p.total, p.msg = done, total, msg
	schedule := !p.pending
	p.pending = true
	p.mu.Unlock()
	if !schedule {
		return
	}
	fyne.Do(func() {
		p.mu.Lock()
		d, t, m := p.done, p.total, p.msg
		p.pending = false
		p.mu.Unlock()
		p.show(d, t, m)
	})
}

// rate writes the speed and what is left of a run from its progress: the tokens through the whole
// model per second (the CLI's final figure), and the time left at that pace.
func rate(done, total, tokens int, elapsed time.Duration) string {
	if done <= 0 || total <= 0 || elapsed <= 0 {
		return "starting…"
	}
	tps := float64(tokens) * float64(done) / float64(total) / elapsed.Seconds()
	left := time.Duration(float64(elapsed) * float64(total-done) / float64(done))
	s := fmt.Sprintf("%s tokens/s", facts.Commas(int64(tps+0.5)))
	switch {
	case done < total && left < time.Second:
		s += " · almost done"
	case done < total:
		s += " · about " + humanDuration(left) + " left"
	}
	return s
}

// humanDuration writes a duration as a person says it: "4 s", "2 min 10 s".
func humanDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Second:
		return "under a second"
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min %d s", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
}
