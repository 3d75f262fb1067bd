package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"time"

	"github.com/layerscope/layerscope/compute"
	"github.com/layerscope/layerscope/compute/calibration"
	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/printable"
	"github.com/layerscope/layerscope/modelio/safefile"
)

// runImportance scores every decoder block of a model on calibration text (see docs/IMPORTANCE_JSON.md).
func runImportance(env *Env, args []string) error {
	fs := flag.NewFlagSet("importance", flag.ContinueOnError)
	metric := fs.String("metric", "bi", "bi, angular, ablation, flat, all, or a comma-separated list")
	textFile := fs.String("text", "", "calibration text FILE (default: the built-in public-domain text)")
	tokensFile := fs.String("tokens", "", "JSON array of token-id arrays, one per sample, used exactly as given")
	samples := fs.Int("samples", calibration.DefaultSamples, "number of samples cut from the text")
	seqLen := fs.Int("seq-len", calibration.DefaultSeqLen, "tokens per sample")
	backend := fs.String("backend", "auto", "auto, gpu or cpu")
	dtype := fs.String("dtype", "", "fp16, bf16 or fp32 (default: fp16 on a GPU, fp32 on the CPU)")
	asJSON := fs.Bool("json", false, "print the scores as JSON")
	repeat := fs.Int("repeat", 1, "run N times in one process, reusing the opened device and compiled executables (timing)")
	path, err := parse(fs, args, "MODEL")
	if err != nil {
		return err
	}
	metrics, err := compute.ParseMetrics(*metric)
	if err != nil {
		return errUsage{"importance: " + err.Error()}
	}
	switch *backend {
	case "auto", "gpu", "cpu":
	default:
		return errUsage{"importance: --backend must be auto, gpu or cpu"}
	}
	switch *dtype {
	case "", "fp16", "bf16", "fp32":
	default:
		return errUsage{"importance: --dtype must be fp16, bf16 or fp32"}
	}
	if *tokensFile != "" && *textFile != "" {
		return errUsage{"importance: give --text or --tokens, not both"}
	}
	if *repeat < 1 {
		return errUsage{"importance: --repeat must be 1 or more"}
	}
	if *samples < 1 || *samples > calibration.MaxSamples {
		return errUsage{fmt.Sprintf("importance: --samples must be between 1 and %d, got %d", calibration.MaxSamples, *samples)}
	}
	if *seqLen < 2 || *seqLen > calibration.MaxSeqLen {
		return errUsage{fmt.Sprintf("importance: --seq-len must be between 2 and %d, got %d", calibration.MaxSeqLen, *seqLen)}
	}

	m, err := openModel(env, path)
	if err != nil {
		return err
	}
	if err := localWeights(m, "importance"); err != nil {
		return err
	}
	warn(env, m)
	tokens, err := calibrationTokens(m, *tokensFile, *textFile, *samples, *seqLen)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// One session for the repeats: the first run opens the device and compiles, the others only run,
	// as a second Run press in the app does.
	session := compute.NewSession()
	defer session.Close()
	var res *compute.Result
	var runSeconds []float64
	for i := range *repeat {
		bar := newProgressBar(env.Stderr)
		res, err = session.Run(ctx, m, tokens, compute.Options{
			Backend: backendOption(*backend), DType: *dtype, Metrics: metrics, Progress: bar.update,
		})
		bar.done()
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("interrupted: no scores written")
			}
			if *tokensFile != "" && errors.Is(err, compute.ErrBadSamples) {
				return fmt.Errorf("%s: %v", *tokensFile, err)
			}
			return err
		}
		runSeconds = append(runSeconds, res.Elapsed.Seconds())
		if *repeat > 1 {
			fmt.Fprintf(env.Stderr, "run %d of %d: %s, %.0f tokens/s\n", i+1, *repeat,
				res.Elapsed.Round(time.Millisecond), float64(res.Tokens)/res.Elapsed.Seconds())
		}
	}
	for _, n := range res.Notes {
		fmt.Fprintln(env.Stderr, "note: "+printable.String(n))
	}
	if *asJSON {
		rep := compute.NewReport(res)
		if *repeat > 1 {
			rep.RunSeconds = runSeconds
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return printImportance(env.Stdout, res)
}

func backendOption(s string) string {
	switch s {
	case "gpu":
		return compute.BackendGPU
	case "cpu":
		return compute.BackendCPU
	}
	return compute.BackendAuto
}

// calibrationTokens returns the samples: from --tokens as given, or the text cut with the model's
// tokenizer (as the app's compute panel does).
func calibrationTokens(m *modelio.Model, tokensFile, textFile string, samples, seqLen int) ([][]int, error) {
	if tokensFile != "" {
		data, err := safefile.ReadFile(tokensFile, safefile.MaxTokenizerBytes)
		if err != nil {
			return nil, err
		}
		tokens, err := calibration.ParseTokens(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", tokensFile, err)
		}
		return tokens, nil
	}
	tok, err := calibration.TokenizerFor(m)
	if err != nil {
		if errors.Is(err, calibration.ErrGalleryModel) {
			return nil, err
		}
		return nil, fmt.Errorf("%v (or pass --tokens FILE)", err)
	}
	text := calibration.Default()
	if textFile != "" {
		data, err := safefile.ReadFile(textFile, safefile.MaxTokenizerBytes)
		if err != nil {
			return nil, err
		}
		text = string(data)
	}
	tokens, err := calibration.Cut(tok, text, samples, seqLen)
	if err != nil && textFile != "" {
		return nil, fmt.Errorf("%s: %v", textFile, err)
	}
	return tokens, err
}

// lowest returns the indices of the k lowest scores.
func lowest(scores []float64, k int) map[int]bool {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	out := map[int]bool{}
	for _, i := range idx[:min(k, len(idx))] {
		out[i] = true
	}
	return out
}

// candidates is how many blocks the table marks: an eighth of the depth, at least one.
func candidates(blocks int) int { return max(1, blocks/8) }

func printImportance(w io.Writer, r *compute.Result) error {
	type column struct {
		name   string
		scores []float64
	}
	var cols []column
	if r.BI != nil {
		cols = append(cols, column{"BI", r.BI})
	}
	if a := r.Angular[1]; a != nil {
		cols = append(cols, column{"angular n=1", a})
	}
	if r.Ablation != nil {
		cols = append(cols, column{"ΔNLL", r.Ablation})
	}
	if r.Flat != nil {
		cols = append(cols, column{"flat cos", r.Flat})
	}
	rank := cols[0]
	marked := lowest(rank.scores, candidates(r.Blocks))
	fmt.Fprintf(w, "%-6s", "block")
	for _, c := range cols {
		fmt.Fprintf(w, " %12s", c.name)
	}
	fmt.Fprintln(w)
	for i := 0; i < r.Blocks; i++ {
		fmt.Fprintf(w, "%-6d", i)
		for _, c := range cols {
			fmt.Fprintf(w, " %12.5f", c.scores[i])
		}
		if marked[i] {
			fmt.Fprintf(w, "   ◀ lowest %s", rank.name)
		}
		fmt.Fprintln(w)
	}
	for n := 2; n <= compute.MaxSpan; n++ {
		a := r.Angular[n]
		if len(a) == 0 {
			continue
		}
		best := 0
		for i := range a {
			if a[i] < a[best] {
				best = i
			}
		}
		fmt.Fprintf(w, "angular n=%d: the span of blocks %d-%d changes the last token least (%.5f)\n", n, best, best+n-1, a[best])
	}
	tps := float64(r.Tokens) / r.Elapsed.Seconds()
	_, err := fmt.Fprintf(w, "%s on %s (%s, %s): %d samples × %d tokens, %d tokens in %s (%.0f tokens/s); NLL %.4f over %d positions\n",
		printable.String(r.Model), r.Device, r.Backend, r.DType, r.Samples, r.SeqLen, r.Tokens, r.Elapsed.Round(time.Millisecond), tps, r.NLL, r.NLLTokens)
	return err
}

// progressBar draws "[=====>    ] 12/30 blocks  ETA 4s" on a terminal's stderr, and nothing when
// stderr is a file or pipe (logs stay clean).
type progressBar struct {
	w       io.Writer
	tty     bool
	start   time.Time
	drawn   bool
	lastLen int
}

func newProgressBar(w io.Writer) *progressBar {
	tty := false
	if f, ok := w.(*os.File); ok {
		if info, err := f.Stat(); err == nil && info.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progressBar{w: w, tty: tty, start: time.Now()}
}

func (p *progressBar) update(done, total int, msg string) {
	if !p.tty || total <= 0 {
		return
	}
	const width = 30
	filled := done * width / total
	eta := ""
	if done > 0 {
		left := time.Duration(float64(time.Since(p.start)) * float64(total-done) / float64(done))
		eta = "  ETA " + left.Round(time.Second).String()
	}
	line := fmt.Sprintf("\r[%s%s] %d/%d %s%s", strings.Repeat("=", filled), strings.Repeat(" ", width-filled), done, total, msg, eta)
	pad := max(0, p.lastLen-len(line))
	fmt.Fprint(p.w, line+strings.Repeat(" ", pad))
	p.lastLen, p.drawn = len(line), true
}

func (p *progressBar) done() {
	if p.drawn {
		fmt.Fprint(p.w, "\r"+strings.Repeat(" ", p.lastLen)+"\r")
	}
}
