package compute

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/layerscope/layerscope/modelio"
)

// Pruning is a depth and width pruning to evaluate without writing it: the model runs with the
// blocks Remove skipped, then every MLP restricted to the neurons Keep lists, exactly as its written
// copy would (modelio.RemoveBlocks and modelio.NarrowMLP describe it; the kept neurons' weights are
// gathered from the source files as each block goes up).
type Pruning struct {
	Remove []int   // blocks, as the model numbers them
	Keep   [][]int // per MLP of the model without Remove (modelio.MLPUnits order), ascending; nil: all
}

// Apply returns the model m would be after the pruning.
func (p *Pruning) Apply(m *modelio.Model) (*modelio.Model, error) {
	out := m
	var err error
	if len(p.Remove) > 0 {
		if out, err = modelio.RemoveBlocks(out, p.Remove); err != nil {
			return nil, err
		}
	}
	if p.Keep != nil {
		if out, err = modelio.NarrowMLP(out, p.Keep); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Evaluation is a model's mean next-token loss on some tokens.
type Evaluation struct {
	Model      string  `json:"model"`
	NLL        float64 `json:"nll"`        // mean next-token NLL, in nats
	Perplexity float64 `json:"perplexity"` // exp(NLL)
	// Tokens are the positions scored: every real token with a real next token (each sample's
	// length − 1, summed).
	Tokens  int           `json:"tokens"`
	Backend string        `json:"backend"`
	Device  string        `json:"device"`
	DType   string        `json:"dtype"`
	Elapsed time.Duration `json:"elapsed_ns"`
	Notes   []string      `json:"notes,omitempty"`
}

// Evaluate computes m's perplexity on tokens (one sample per slice, used as given), with the session's
// backends; opts.Prune evaluates a pruning of m without writing it. Metrics in opts are ignored.
func (s *Session) Evaluate(ctx context.Context, m *modelio.Model, tokens [][]int, opts Options) (*Evaluation, error) {
	opts.Metrics = []Metric{MetricBI} // the cheapest: every pass measures it anyway
	res, _, err := s.run(ctx, m, tokens, opts, passOptions{})
	if err != nil {
		return nil, err
	}
	if res.NLLTokens == 0 {
		return nil, fmt.Errorf("no token has a next token to predict: give samples of two tokens or more")
	}
	return &Evaluation{Model: res.Model, NLL: res.NLL, Perplexity: math.Exp(res.NLL), Tokens: res.NLLTokens,
		Backend: res.Backend, Device: res.Device, DType: res.DType, Elapsed: res.Elapsed, Notes: res.Notes}, nil
}

// Evaluate is Session.Evaluate on a session of its own.
func Evaluate(ctx context.Context, m *modelio.Model, tokens [][]int, opts Options) (*Evaluation, error) {
	s := NewSession()
	defer s.Close()
	return s.Evaluate(ctx, m, tokens, opts)
}
