package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/layerscope/layerscope/compute"
	"github.com/layerscope/layerscope/compute/calibration"
	"github.com/layerscope/layerscope/modelio"
)

// perplexityJSON is what `perplexity --json` prints: the model's own figures, and with --remove or
// --width the pruned model's beside them (docs/PRUNING.md).
type perplexityJSON struct {
	NLL        float64     `json:"nll"`
	Perplexity float64     `json:"perplexity"`
	Tokens     int         `json:"tokens"`
	Backend    string      `json:"backend"`
	DType      string      `json:"dtype"`
	Pruned     *prunedJSON `json:"pruned,omitempty"`
}

type prunedJSON struct {
	Name          string      `json:"name"`
	NLL           float64     `json:"nll"`
	Perplexity    float64     `json:"perplexity"`
	Tokens        int         `json:"tokens"`
	RemovedBlocks []int       `json:"removed_blocks"`
	Widths        []widthJSON `json:"widths"`
}

type widthJSON struct {
	Key  string `json:"key"`
	From int64  `json:"from"`
	To   int64  `json:"to"`
}

// runPerplexity prints a model's mean next-token NLL and perplexity on calibration text, and, with
// --remove and/or --width, the pruned model's, computed without writing anything.
func runPerplexity(env *Env, args []string) error {
	fs := flag.NewFlagSet("perplexity", flag.ContinueOnError)
	textFile := fs.String("text", "", "text FILE (default: the built-in public-domain text)")
	tokensFile := fs.String("tokens", "", "JSON array of token-id arrays, one per sample, used exactly as given")
	samples := fs.Int("samples", calibration.DefaultSamples, "number of samples cut from the text")
	seqLen := fs.Int("seq-len", calibration.DefaultSeqLen, "tokens per sample")
	backend := fs.String("backend", "auto", "auto, gpu or cpu")
	dtype := fs.String("dtype", "", "fp16, bf16 or fp32 (default: fp16 on a GPU, fp32 on the CPU)")
	removeList := fs.String("remove", "", "also evaluate the model without these blocks: 3,5 or 10-12")
	w := widthFlags(fs) // --width, --expansion, --method, --divisor, --json
	path, err := parse(fs, args, "MODEL")
	if err != nil {
		return err
	}
	switch *backend {
	case "auto", "gpu", "cpu":
	default:
		return errUsage{"perplexity: --backend must be auto, gpu or cpu"}
	}
	switch *dtype {
	case "", "fp16", "bf16", "fp32":
	default:
		return errUsage{"perplexity: --dtype must be fp16, bf16 or fp32"}
	}
	if *tokensFile != "" && *textFile != "" {
		return errUsage{"perplexity: give --text or --tokens, not both"}
	}
	var remove []int
	if *removeList != "" {
		if remove, err = modelio.ParseBlocks(*removeList); err != nil {
			return errUsage{"perplexity: --remove: " + err.Error()}
		}
	}
	t, method, err := w.target()
	if err != nil {
		return errUsage{"perplexity" + strings.TrimPrefix(err.Error(), "prune")}
	}
	widthSet := w.given()
	if !widthSet && (*w.method != "" || *w.divisor != 0) {
		return errUsage{"perplexity: --method and --divisor go with --width or --expansion"}
	}

	m, err := modelio.Open(path)
	if err != nil {
		return err
	}
	warn(env, m)
	tokens, err := calibrationTokens(m, *tokensFile, *textFile, *samples, *seqLen)
	if err != nil {
		return err
	}
	var pruning *compute.Pruning
	if remove != nil || widthSet {
		pruning = &compute.Pruning{Remove: remove}
		d := m
		if remove != nil {
			if d, err = modelio.RemoveBlocks(m, remove); err != nil {
				return err
			}
		}
		if widthSet {
			calib := &calibSource{textFile: textFile, tokensFile: tokensFile, backend: backend, dtype: dtype, samples: samples, seqLen: seqLen}
			_, keep, _, _, err := chooseNeurons(env, m, d, t, method, false, calib)
			if err != nil {
				return err
			}
			pruning.Keep = keep
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	session := compute.NewSession()
	defer session.Close()
	opts := compute.Options{Backend: backendOption(*backend), DType: *dtype}
	evaluate := func(p *compute.Pruning) (*compute.Evaluation, error) {
		bar := newProgressBar(env.Stderr)
		o := opts
		o.Progress, o.Prune = bar.update, p
		ev, err := session.Evaluate(ctx, m, tokens, o)
		bar.done()
		if err != nil && ctx.Err() != nil {
			return nil, fmt.Errorf("interrupted: no perplexity")
		}
		return ev, err
	}
	full, err := evaluate(nil)
	if err != nil {
		return err
	}
	for _, n := range full.Notes {
		fmt.Fprintln(env.Stderr, "note: "+n)
	}
	out := perplexityJSON{NLL: full.NLL, Perplexity: full.Perplexity, Tokens: full.Tokens, Backend: full.Device, DType: full.DType}
	var pruned *compute.Evaluation
	var pm *modelio.Model
	if pruning != nil {
		if pm, err = pruning.Apply(m); err != nil {
			return err
		}
		if pruned, err = evaluate(pruning); err != nil {
			return err
		}
		out.Pruned = &prunedJSON{Name: pm.Name, NLL: pruned.NLL, Perplexity: pruned.Perplexity, Tokens: pruned.Tokens, RemovedBlocks: remove}
		if out.Pruned.RemovedBlocks == nil {
			out.Pruned.RemovedBlocks = []int{}
		}
		for _, c := range pm.Narrowed {
			out.Pruned.Widths = append(out.Pruned.Widths, widthJSON{c.Key, c.From, c.To})
		}
	}
	if *w.asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(env.Stdout, "model:      %s\n", m.Name)
	fmt.Fprintf(env.Stdout, "tokens:     %d predicted (%s, %s)\n", full.Tokens, full.Device, full.DType)
	fmt.Fprintf(env.Stdout, "nll:        %.4f nats per token\n", full.NLL)
	fmt.Fprintf(env.Stdout, "perplexity: %.3f\n", full.Perplexity)
	if pruned != nil {
		fmt.Fprintf(env.Stdout, "pruned:     %s\n", pm.Name)
		fmt.Fprintf(env.Stdout, "nll:        %.4f (%+.4f)\n", pruned.NLL, pruned.NLL-full.NLL)
		fmt.Fprintf(env.Stdout, "perplexity: %.3f (× %.3f)\n", pruned.Perplexity, pruned.Perplexity/full.Perplexity)
	}
	return nil
}
