package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/layerscope/layerscope/compute"
	"github.com/layerscope/layerscope/compute/calibration"
	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/facts"
	"github.com/layerscope/layerscope/modelio/neurons"
	"github.com/layerscope/layerscope/modelio/prune"
)

// widthOptions are prune's width flags.
type widthOptions struct {
	width, expansion, method *string
	divisor                  *int
	asJSON                   *bool
}

// calibSource is where the activation and hybrid methods get their tokens and how they compute.
type calibSource struct {
	textFile, tokensFile, backend, dtype *string
	samples, seqLen                      *int
}

// calibrationFlags adds prune's flags for the activation and hybrid methods (perplexity has its own).
func calibrationFlags(fs *flag.FlagSet) *calibSource {
	return &calibSource{
		textFile:   fs.String("text", "", "activation/hybrid: calibration text FILE (default: the built-in text)"),
		tokensFile: fs.String("tokens", "", "activation/hybrid: JSON array of token-id arrays, used exactly as given"),
		samples:    fs.Int("samples", calibration.DefaultSamples, "activation/hybrid: samples cut from the text"),
		seqLen:     fs.Int("seq-len", calibration.DefaultSeqLen, "activation/hybrid: tokens per sample"),
		backend:    fs.String("backend", "auto", "activation/hybrid: auto, gpu or cpu"),
		dtype:      fs.String("dtype", "", "activation/hybrid: fp16, bf16 or fp32 (default: fp16 on a GPU, fp32 on the CPU)"),
	}
}

// check refuses bad calibration flags in the command line's usage form.
func (c *calibSource) check(cmd string) error {
	switch *c.backend {
	case "auto", "gpu", "cpu":
	default:
		return errUsage{cmd + ": --backend must be auto, gpu or cpu"}
	}
	switch *c.dtype {
	case "", "fp16", "bf16", "fp32":
	default:
		return errUsage{cmd + ": --dtype must be fp16, bf16 or fp32"}
	}
	if *c.tokensFile != "" && *c.textFile != "" {
		return errUsage{cmd + ": give --text or --tokens, not both"}
	}
	return nil
}

func widthFlags(fs *flag.FlagSet) *widthOptions {
	return &widthOptions{
		width:     fs.String("width", "", "the share of every MLP's neurons to remove: 40% (optipfair's pruning_percentage)"),
		expansion: fs.String("expansion", "", "the MLP width to reach, as I/H of the hidden size: 2.4 (or 240%); exclusive with --width"),
		method:    fs.String("method", "", "neuron score: ppm (default; alias maw), vow, pon, activation or hybrid"),
		divisor:   fs.Int("divisor", 0, "round the kept width to the nearest multiple of 32, 64, 128 or 256"),
		asJSON:    fs.Bool("json", false, "print what was kept per block as JSON (docs/PRUNING.md)"),
	}
}

func (w *widthOptions) given() bool { return *w.width != "" || *w.expansion != "" }

// withoutWidth refuses the width-only flags when neither --width nor --expansion is given.
func (w *widthOptions) withoutWidth() error {
	switch {
	case *w.method != "":
		return errUsage{"prune: --method scores MLP neurons: give --width or --expansion with it"}
	case *w.divisor != 0:
		return errUsage{"prune: --divisor rounds a width: give --width or --expansion with it"}
	case *w.asJSON:
		return errUsage{"prune: --json describes a width pruning: give --width or --expansion with it"}
	}
	return nil
}

// target reads the width flags into a neurons.Target and a method.
func (w *widthOptions) target() (neurons.Target, neurons.Method, error) {
	var t neurons.Target
	if *w.width != "" && *w.expansion != "" {
		return t, 0, errUsage{"prune: give --width or --expansion, not both"}
	}
	if *w.width != "" {
		s := strings.TrimSuffix(strings.TrimSpace(*w.width), "%")
		p, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return t, 0, errUsage{fmt.Sprintf("prune: --width: %q is not a percentage (write 40%%)", *w.width)}
		}
		if !(p > 0 && p < 100) {
			return t, 0, errUsage{fmt.Sprintf("prune: --width: %s is outside (0, 100): give the share of neurons to remove, e.g. 40%%", *w.width)}
		}
		t.Percent = p
	}
	if *w.expansion != "" {
		pct, err := expansionPercent(*w.expansion)
		if err != nil {
			return t, 0, errUsage{"prune: --expansion: " + err.Error()}
		}
		t.ExpansionPct = pct
	}
	if d := *w.divisor; d != 0 && d != 32 && d != 64 && d != 128 && d != 256 {
		return t, 0, errUsage{fmt.Sprintf("prune: --divisor: %d is not one of 32, 64, 128, 256", d)}
	}
	t.Divisor = *w.divisor
	method := neurons.DefaultMethod
	if *w.method != "" {
		m, err := neurons.ParseMethod(*w.method)
		if err != nil {
			return t, 0, errUsage{"prune: --method: " + err.Error()}
		}
		method = m
	}
	return t, method, nil
}

// expansionPercent reads an I/H ratio ("2.4", "2.4x", "2.4×") or the same as a percentage of the hidden
// size ("240%") into the percentage optipfair's expansion_rate takes. The ratio's decimal point is
// moved two places in the text, so 2.4 is exactly 240, as a Python user would have typed it.
func expansionPercent(s string) (float64, error) {
	s = strings.TrimSpace(s)
	text := s
	if p, ok := strings.CutSuffix(s, "%"); ok {
		s = p
	} else {
		s = strings.TrimSuffix(strings.TrimSuffix(s, "x"), "×")
		s = shiftDecimal(s, 2)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v > 0) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not an expansion (write 2.4 for I = 2.4 × hidden, or 240%%)", text)
	}
	return v, nil
}

// shiftDecimal multiplies a decimal number written in s by 10^n by moving its point.
func shiftDecimal(s string, n int) string {
	if i := strings.IndexAny(s, "eE"); i >= 0 { // 2.45e0 → 2.45e2
		exp, err := strconv.Atoi(s[i+1:])
		if err != nil {
			return s // stays unreadable
		}
		return s[:i] + "e" + strconv.Itoa(exp+n)
	}
	if s == "" {
		return s
	}
	intPart, frac, _ := strings.Cut(s, ".")
	for len(frac) < n {
		frac += "0"
	}
	return intPart + frac[:n] + "." + frac[n:]
}

// runWidthPrune writes (or, with dryRun, describes) a copy of the model at path with every MLP
// narrowed, after removing the blocks in removeList when given.
func runWidthPrune(env *Env, path, removeList, out string, dryRun bool, w *widthOptions, calib *calibSource) error {
	t, method, err := w.target()
	if err != nil {
		return err
	}
	if err := calib.check("prune"); err != nil {
		return err
	}
	var remove []int
	if removeList != "" {
		if remove, err = modelio.ParseBlocks(removeList); err != nil {
			return errUsage{"prune: --remove: " + err.Error()}
		}
	}
	switch {
	case out == "" && !dryRun:
		return errUsage{"prune: -o NEW_FOLDER is required (or --dry-run to write nothing)"}
	case out != "" && dryRun:
		return errUsage{"prune: give -o or --dry-run, not both"}
	}

	m, err := modelio.Open(path)
	if err != nil {
		return err
	}
	d := m
	if remove != nil {
		if d, err = modelio.RemoveBlocks(m, remove); err != nil {
			return err
		}
	}
	units, keep, percent, chosen, err := chooseNeurons(env, m, d, t, method, dryRun, calib)
	if err != nil {
		return err
	}
	p, err := modelio.NarrowMLP(d, keep)
	if err != nil {
		return err
	}
	report := widthReport(m, d, p, units, keep, chosen, method, percent, t)
	if !dryRun {
		bar := newProgressBar(env.Stderr)
		err = prune.Write(p, nil, out, func(done, total int) { bar.update(done>>20, total>>20, "MiB") })
		bar.done()
		if err != nil {
			return err
		}
		got, err := modelio.Open(out)
		if err != nil {
			return fmt.Errorf("wrote %s, but it does not open: %v", out, err)
		}
		gotUnits, err := modelio.MLPUnits(got)
		if err != nil || len(gotUnits) != len(units) || len(got.Arch.Blocks) != len(p.Arch.Blocks) {
			return fmt.Errorf("wrote %s, but it does not open as the narrowed model (%v)", out, err)
		}
		for i, u := range gotUnits {
			if u.Width != int64(len(keep[i])) {
				return fmt.Errorf("wrote %s, but its %s opens %d neurons wide, not %d", out, u.Path, u.Width, len(keep[i]))
			}
		}
		warn(env, got)
		report.Written = &out
	}
	if *w.asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	return printWidth(env.Stdout, report)
}

// widthReportJSON is what `prune --width --json` prints (docs/PRUNING.md).
type widthReportJSON struct {
	Model  string `json:"model"`
	Method string `json:"method"` // "" when the model has no weights (--dry-run on a gallery model)
	// Percent is the share of each MLP's neurons removed before rounding: --width, or what --expansion
	// works out to.
	Percent   float64          `json:"percent"`
	Expansion *float64         `json:"expansion_target_i_over_h,omitempty"` // --expansion, as I/H
	Divisor   int              `json:"divisor"`
	Removed   []int            `json:"removed_blocks"`
	Widths    []widthChangeOut `json:"widths"`
	Params    struct {
		Before int64 `json:"before"`
		After  int64 `json:"after"`
	} `json:"parameters"`
	MLPs    []mlpOut `json:"mlps"`
	Written *string  `json:"written"` // the folder written; null with --dry-run
}

type widthChangeOut struct {
	Key  string `json:"key"`
	From int64  `json:"from"`
	To   int64  `json:"to"`
	// Both conventions of the expansion ratio, before and after: I/H and (I−H)/H in percent.
	IOverH         [2]float64 `json:"expansion_i_over_h"`
	IMinusHPercent [2]float64 `json:"expansion_i_minus_h_over_h_percent"`
}

type mlpOut struct {
	Block       int    `json:"block"`        // in the copy
	SourceBlock int    `json:"source_block"` // in MODEL
	Expert      *int   `json:"expert,omitempty"`
	Path        string `json:"path"`
	From        int64  `json:"from"`
	Kept        []int  `json:"kept"` // the kept neurons, as MODEL numbers them; null without weights
}

func widthReport(m, d, p *modelio.Model, units []modelio.MLPUnit, keep [][]int, chosen bool, method neurons.Method,
	percent float64, t neurons.Target) *widthReportJSON {
	r := &widthReportJSON{Model: m.Name, Percent: percent, Divisor: t.Divisor, Removed: []int{}}
	if d != m {
		r.Removed = removedHere(m, d)
	}
	if chosen {
		r.Method = method.String()
	}
	if t.ExpansionPct != 0 {
		e := t.ExpansionPct / 100
		r.Expansion = &e
	}
	r.Params.Before, r.Params.After = m.Spec.Root.NumParams(), p.Spec.Root.NumParams()
	hidden := units[0].Hidden
	for _, c := range p.Narrowed {
		ratio := func(i int64) float64 { return float64(i) / float64(hidden) }
		r.Widths = append(r.Widths, widthChangeOut{Key: c.Key, From: c.From, To: c.To,
			IOverH:         [2]float64{round4(ratio(c.From)), round4(ratio(c.To))},
			IMinusHPercent: [2]float64{round4(100 * (ratio(c.From) - 1)), round4(100 * (ratio(c.To) - 1))}})
	}
	for i, u := range units {
		o := mlpOut{Block: u.Block, SourceBlock: u.Block, Path: u.Path, From: u.Width}
		if d.SourceLayer != nil {
			o.SourceBlock = d.SourceLayer[u.Block]
		}
		if u.Expert >= 0 {
			e := u.Expert
			o.Expert = &e
		}
		if chosen {
			o.Kept = keep[i]
		}
		r.MLPs = append(r.MLPs, o)
	}
	return r
}

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

// printWidth says what the width pruning keeps and saves, with both expansion conventions labelled.
func printWidth(w io.Writer, r *widthReportJSON) error {
	fmt.Fprintf(w, "model:      %s\n", r.Model)
	if len(r.Removed) > 0 {
		fmt.Fprintf(w, "removed:    %s\n", modelio.BlocksPhrase(r.Removed))
	}
	if r.Method != "" {
		fmt.Fprintf(w, "method:     %s\n", r.Method)
	} else {
		fmt.Fprintln(w, "method:     none (no weights: only the widths are shown)")
	}
	how := fmt.Sprintf("%s%% of neurons removed", strconv.FormatFloat(r.Percent, 'f', -1, 64))
	if r.Expansion != nil {
		how = fmt.Sprintf("expansion %.2f× I/H asked: %.4g%% of neurons removed", *r.Expansion, r.Percent)
	}
	if r.Divisor != 0 {
		how += fmt.Sprintf(", kept width rounded to a multiple of %d", r.Divisor)
	}
	for _, c := range r.Widths {
		fmt.Fprintf(w, "width:      %s %d → %d (%s)\n", c.Key, c.From, c.To, how)
		fmt.Fprintf(w, "expansion:  %.2f× → %.2f× as I/H (%.0f%% → %.0f%% as (I−H)/H)\n", c.IOverH[0], c.IOverH[1], c.IMinusHPercent[0], c.IMinusHPercent[1])
	}
	saved := r.Params.Before - r.Params.After
	fmt.Fprintf(w, "parameters: %s → %s (%s → %s)\n", facts.Commas(r.Params.Before), facts.Commas(r.Params.After),
		facts.ShortCount(r.Params.Before), facts.ShortCount(r.Params.After))
	fmt.Fprintf(w, "saved:      %s parameters (%.1f%%)\n", facts.Commas(saved), 100*float64(saved)/float64(max(r.Params.Before, 1)))
	if r.Written == nil {
		_, err := fmt.Fprintln(w, "nothing written (--dry-run)")
		return err
	}
	_, err := fmt.Fprintf(w, "wrote:      %s; it opens with the widths above\n", *r.Written)
	return err
}

// chooseNeurons scores d's neurons with method and picks the ones each MLP keeps for target t. A
// model without weights gets only its widths (the first neurons stand in, chosen false) when
// widthsOnly allows it.
func chooseNeurons(env *Env, m, d *modelio.Model, t neurons.Target, method neurons.Method, widthsOnly bool, calib *calibSource) (
	units []modelio.MLPUnit, keep [][]int, percent float64, chosen bool, err error) {
	units, err = modelio.MLPUnits(d)
	if err != nil {
		return nil, nil, 0, false, err
	}
	percent, kept, err := neurons.Widths(units, t)
	if err != nil {
		return nil, nil, 0, false, err
	}
	if !d.HasWeights() {
		if !widthsOnly {
			return nil, nil, 0, false, fmt.Errorf("%s has no weights (a gallery model or a config.json alone): there is nothing to score or copy; use --dry-run to see the widths", m.Name)
		}
		keep = make([][]int, len(units))
		for i, u := range units {
			keep[i] = make([]int, kept[u.Key])
			for j := range keep[i] {
				keep[i][j] = j
			}
		}
		return units, keep, percent, false, nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var scores *neurons.Scores
	if method.NeedsActivations() {
		scores, err = activationScores(ctx, env, m, d, method, calib)
	} else {
		bar := newProgressBar(env.Stderr)
		scores, err = neurons.Score(ctx, d, method, func(done, total int) { bar.update(done, total, "blocks scored") })
		bar.done()
	}
	if errors.Is(err, context.Canceled) {
		return nil, nil, 0, false, errors.New("stopped; nothing written")
	}
	if err != nil {
		return nil, nil, 0, false, err
	}
	if keep, err = neurons.Keep(scores, kept); err != nil {
		return nil, nil, 0, false, err
	}
	return units, keep, percent, true, nil
}

// activationScores measures d's MLP activations over the calibration tokens with the compute engine
// (with progress, tokens/s and Ctrl-C as importance runs), then scores them with method.
func activationScores(ctx context.Context, env *Env, m, d *modelio.Model, method neurons.Method, calib *calibSource) (*neurons.Scores, error) {
	tokens, err := calibrationTokens(m, *calib.tokensFile, *calib.textFile, *calib.samples, *calib.seqLen)
	if err != nil {
		return nil, err
	}
	session := compute.NewSession()
	defer session.Close()
	bar := newProgressBar(env.Stderr)
	acts, err := session.NeuronActivations(ctx, d, tokens, compute.Options{
		Backend: backendOption(*calib.backend), DType: *calib.dtype, Progress: bar.update})
	bar.done()
	if err != nil {
		return nil, err
	}
	for _, n := range acts.Notes {
		fmt.Fprintln(env.Stderr, "note: "+n)
	}
	fmt.Fprintf(env.Stderr, "activations: %d tokens on %s (%s) in %s, %.0f tokens/s\n", acts.Tokens, acts.Device, acts.DType,
		acts.Elapsed.Round(time.Millisecond), float64(acts.Tokens)/acts.Elapsed.Seconds())
	bar = newProgressBar(env.Stderr)
	defer bar.done()
	return neurons.ScoreActivations(ctx, d, method, acts.Norms, func(done, total int) { bar.update(done, total, "blocks scored") })
}
