// Package compute runs the real forward pass of a model folder with GoMLX, block by block, and scores
// each decoder block's importance (../shared/reference/IMPORTANCE.md): Block Influence, the angular
// distance of n-block spans, the NLL increase when a block is skipped, and optipfair's flattened
// cosine.
//
// A run streams: the calibration hidden states [batch, seq, hidden] pass through block i with block
// i's weights uploaded as executable parameters and released afterwards, so the device holds one
// block's weights plus the activations and a model larger than the GPU can still be scored. Weights
// come from the mmap'd safetensors files, converted to the compute dtype on the way up.
//
// Backends: a CUDA PJRT plugin through GoMLX's xla backend when one is found and loads (fp16 by
// default), else GoMLX's pure Go backend in float32. A plugin that fails to load, or a run that fails
// on it, falls back to the next backend; a block whose output overflows the dtype repeats the run in
// bf16 (GPU) or fp32. Each fallback is said in Result.Notes. GoMLX stays inside this package.
package compute

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/layerscope/layerscope/modelio"
)

// Metric names an importance score.
type Metric string

const (
	MetricBI       Metric = "bi"       // Block Influence: 1 − mean per-token cosine of a block's input and output
	MetricAngular  Metric = "angular"  // angular distance of n-block spans, n = 1..4, last token
	MetricAblation Metric = "ablation" // NLL increase when the block is skipped
	MetricFlat     Metric = "flat"     // optipfair's flattened cosine
)

// AllMetrics lists every metric in the order a report shows them.
var AllMetrics = []Metric{MetricBI, MetricAngular, MetricAblation, MetricFlat}

// MaxSpan is the longest block span the angular distance is reported for.
const MaxSpan = 4

// ParseMetrics reads a --metric value: one metric name, a comma-separated list, or "all".
func ParseMetrics(s string) ([]Metric, error) {
	if s == "all" {
		return AllMetrics, nil
	}
	var out []Metric
	for _, name := range strings.Split(s, ",") {
		switch m := Metric(strings.TrimSpace(name)); m {
		case MetricBI, MetricAngular, MetricAblation, MetricFlat:
			out = append(out, m)
		default:
			return nil, fmt.Errorf("--metric %q: expected bi, angular, ablation, flat or all", name)
		}
	}
	return out, nil
}

// Options choose how a run computes.
type Options struct {
	Backend string   // BackendAuto (""), BackendGPU or BackendCPU
	DType   string   // FP16, BF16, FP32, or "" for fp16 on a GPU and fp32 on the CPU
	Metrics []Metric // nil: BI, angular and flat, which one pass gives; ablation costs L²/2 blocks more
	// Progress, when set, is called after every block evaluation and head run.
	Progress func(done, total int, msg string)
	// Prune, when set, runs the model as that pruning would leave it (blocks skipped, MLP neurons
	// left out), without writing anything.
	Prune *Pruning
}

// Result holds one run's scores and how they were computed.
type Result struct {
	Model  string `json:"model"`
	Family string `json:"family"`
	Blocks int    `json:"blocks"`

	// Scores per block, in block order; nil for a metric not asked for.
	BI       []float64 `json:"bi,omitempty"`
	Flat     []float64 `json:"flat,omitempty"`
	Ablation []float64 `json:"ablation,omitempty"` // ΔNLL: NLL without the block − NLL of the full model
	// Angular maps a span length n to the distances of the spans starting at blocks 0..Blocks−n.
	Angular map[int][]float64 `json:"angular,omitempty"`

	NLL       float64 `json:"nll"`        // mean next-token NLL of the full model, in nats
	NLLTokens int     `json:"nll_tokens"` // positions that had a real next token

	Samples int           `json:"samples"`
	SeqLen  int           `json:"seq_len"` // the longest sample; shorter ones are padded
	Tokens  int           `json:"tokens"`  // real tokens processed
	Backend string        `json:"backend"` // "go" or "xla"
	Device  string        `json:"device"`
	DType   string        `json:"dtype"` // fp16, bf16 or fp32
	Elapsed time.Duration `json:"elapsed_ns"`
	// Notes say what happened on the way: a plugin that failed to load, a dtype switched on overflow.
	Notes []string `json:"notes,omitempty"`
}

// Run scores every decoder block of m on tokens: one sample per slice, used exactly as given (no BOS
// added), padded on the right to the longest. Errors are one line; a cancelled ctx stops the run
// between blocks and returns ctx.Err(). Run opens a backend and compiles for this run alone; a
// Session keeps both for the next run.
func Run(ctx context.Context, m *modelio.Model, tokens [][]int, opts Options) (*Result, error) {
	res, _, err := run(ctx, m, tokens, opts, passOptions{})
	return res, err
}

// run is Run that also returns the pass's raw results, which the tests compare with PyTorch's.
func run(ctx context.Context, m *modelio.Model, tokens [][]int, opts Options, po passOptions) (*Result, *passResult, error) {
	s := NewSession()
	defer s.Close()
	return s.run(ctx, m, tokens, opts, po)
}

// scores forms the metrics asked for from a pass's statistics.
func scores(pr *passResult, p *plan, in *batch, want map[Metric]bool) *Result {
	res := &Result{Blocks: p.layers, Samples: in.batch, SeqLen: in.seq, Tokens: in.real, NLL: pr.nll, NLLTokens: pr.nllN}
	if want[MetricBI] {
		res.BI = blockInfluence(pr.stats, in)
	}
	if want[MetricFlat] {
		res.Flat = flatCosine(pr.stats, in)
	}
	if want[MetricAngular] {
		res.Angular = angularDistances(pr.stats, in, p.hidden, MaxSpan)
	}
	if want[MetricAblation] {
		res.Ablation = make([]float64, p.layers)
		for i, v := range pr.skipNLL {
			res.Ablation[i] = v - pr.nll
		}
	}
	return res
}

// runOnDevice runs the pass on one device, switching to a wider dtype when a block overflows.
func runOnDevice(ctx context.Context, p *plan, st *store, dev *device, in *batch, dtype string, po passOptions) (
	*passResult, dtypes.DType, []string, error) {
	dt, note, err := dtypeFor(dtype, dev)
	if err != nil {
		return nil, 0, nil, err
	}
	var notes []string
	if note != "" {
		notes = append(notes, note)
	}
	for {
		e := newEngine(p, st, dev, dt, in)
		pr, err := e.pass(ctx, po)
		e.close()
		var of *overflowError
		if errors.As(err, &of) && dt != dtypes.Float32 {
			wider := dtypes.Float32
			if dev.gpu && dt == dtypes.Float16 && dev.supports(dtypes.BFloat16) {
				wider = dtypes.BFloat16
			}
			notes = append(notes, fmt.Sprintf("%v; running again in %s", err, dtypeName(wider)))
			dt = wider
			continue
		}
		if err != nil {
			return nil, dt, notes, err
		}
		return pr, dt, notes, nil
	}
}

// setup builds the forward pass, maps the weights, checks them and shapes the batch: everything that
// can fail on bad input fails here, before a backend is opened.
func setup(m *modelio.Model, tokens [][]int) (*plan, *store, *batch, error) {
	if m == nil || m.Spec == nil {
		return nil, nil, nil, errors.New("compute: no model")
	}
	build, ok := forwards[m.Spec.Family]
	if !ok || m.Generic {
		return nil, nil, nil, fmt.Errorf("%s: model_type %q has no forward pass in Layerscope (it runs %s)",
			m.Name, m.Spec.Family, strings.Join(Families(), ", "))
	}
	if err := m.ComputeError(); err != nil {
		return nil, nil, nil, err
	}
	if !m.HasWeights() {
		return nil, nil, nil, fmt.Errorf("%s: no weights (.safetensors files) to compute with", m.Name)
	}
	p, err := build(m)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %v", m.Name, err)
	}
	in, err := newBatch(tokens, p.hyper.Vocab, p.hyper.MaxPositions, p.hidden)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", m.Name, err)
	}
	st, err := openStore(m.Weights, m.TensorName)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := p.validate(st); err != nil {
		st.Close()
		return nil, nil, nil, fmt.Errorf("%s: %v", m.Name, err)
	}
	return p, st, in, nil
}

// ErrBadSamples marks an error in the calibration samples themselves (an id outside the vocabulary,
// a sample longer than the model's positions), so a caller can name the file they came from.
var ErrBadSamples = errors.New("bad calibration samples")

// samplesError is an error of the samples; it wraps ErrBadSamples.
type samplesError struct{ msg string }

func (e samplesError) Error() string        { return e.msg }
func (e samplesError) Is(target error) bool { return target == ErrBadSamples }

// batch is the calibration input, right-padded to the longest sample.
type batch struct {
	batch, seq int
	real       int       // real tokens
	lens       []int     // [batch]: each sample's real tokens
	tokens     []int     // [batch·seq], padding as id 0 (masked everywhere)
	keyMask    []float32 // [batch·seq]: 1 for a real token
	last       []float32 // [batch·seq]: 1 at each sample's last real token
	targets    []int32   // [batch·seq]: the next token, 0 where there is none
	hasTarget  []bool    // [batch·seq]: a real next token follows
}

// maxActivation bounds a run's hidden state, samples × longest sample × hidden_size values, checked
// before anything is sized from it: 2^31 values are 8 GiB in fp32 on the host and again on the device,
// and 64 samples of 4,096 tokens of an 8,192-wide model fit.
const maxActivation = 1 << 31

func newBatch(samples [][]int, vocab, maxPos, hidden int) (*batch, error) {
	if len(samples) == 0 {
		return nil, samplesError{"no calibration samples: the text or token list is empty"}
	}
	b := &batch{batch: len(samples)}
	for i, s := range samples {
		if len(s) == 0 {
			return nil, samplesError{fmt.Sprintf("sample %d is empty", i)}
		}
		if maxPos > 0 && len(s) > maxPos {
			return nil, samplesError{fmt.Sprintf("sample %d has %d tokens, more than max_position_embeddings (%d)", i, len(s), maxPos)}
		}
		for j, id := range s {
			if id < 0 || id >= vocab {
				return nil, samplesError{fmt.Sprintf("sample %d, token %d: id %d is outside the vocabulary (vocab_size %d)", i, j, id, vocab)}
			}
		}
		b.seq = max(b.seq, len(s))
	}
	if float64(b.batch)*float64(b.seq)*float64(max(hidden, 1)) > maxActivation {
		return nil, samplesError{fmt.Sprintf("%d samples of up to %d tokens make a hidden state of %.3g values at hidden_size %d: at most %d (use fewer or shorter samples)",
			b.batch, b.seq, float64(b.batch)*float64(b.seq)*float64(hidden), hidden, maxActivation)}
	}
	n := b.batch * b.seq
	b.tokens, b.keyMask, b.last = make([]int, n), make([]float32, n), make([]float32, n)
	b.targets, b.hasTarget = make([]int32, n), make([]bool, n)
	for i, s := range samples {
		b.lens = append(b.lens, len(s))
		row := i * b.seq
		copy(b.tokens[row:], s)
		for j := range s {
			b.keyMask[row+j] = 1
			if j+1 < len(s) {
				b.targets[row+j], b.hasTarget[row+j] = int32(s[j+1]), true
			}
		}
		b.last[row+len(s)-1] = 1
		b.real += len(s)
	}
	return b, nil
}
