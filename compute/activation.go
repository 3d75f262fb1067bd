package compute

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/layerscope/layerscope/modelio"
)

// MLP activations for width pruning: the L2 norm, over the calibration tokens, of each neuron's input
// to its MLP's down projection (act(g·x) ⊙ (u·x) in a GLU, act(fc1·x) in a classic MLP), which is
// optipfair's X_d norm (CFSP, equation 8), the data half of its hybrid score.
//
// The families' block graphs are not changed for it: the shared matrix product (matmulBias) reports
// its input when its weight is the one a graph being built watches, and the block executable gets one
// more output, Σ over the real tokens of that input squared, [intermediate].

// tapSet records the input of the product whose weight node is watched, while a graph is built.
// Graphs compile concurrently (compileAhead), so it is guarded; weight nodes belong to one graph.
type tapSet struct {
	mu    sync.Mutex
	in    map[*Node]*Node // watched weight → its product's input (nil until seen)
	twice map[*Node]bool  // the weight fed two products: a block this measurement does not understand
}

var taps = &tapSet{in: map[*Node]*Node{}, twice: map[*Node]bool{}}

func (t *tapSet) watch(w *Node) {
	t.mu.Lock()
	t.in[w] = nil
	t.mu.Unlock()
}

func (t *tapSet) forget(w *Node) {
	t.mu.Lock()
	delete(t.in, w)
	delete(t.twice, w)
	t.mu.Unlock()
}

// see records x as w's input when w is watched.
func (t *tapSet) see(w, x *Node) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if prev, ok := t.in[w]; ok {
		if prev != nil {
			t.twice[w] = true
		}
		t.in[w] = x
	}
}

// input returns what see recorded for w; nil when nothing or more than one product used it.
func (t *tapSet) input(w *Node) *Node {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.twice[w] {
		return nil
	}
	return t.in[w]
}

// activationSums is Σ over the real tokens of x², per neuron, in float32. x: [batch, seq, I].
func activationSums(x, keyMask *Node) (*Node, error) {
	if x == nil {
		return nil, errors.New("the MLP's down projection was not found in the block's graph")
	}
	d := x.Shape().Dimensions
	if len(d) != 3 {
		return nil, fmt.Errorf("the down projection's input has shape %v, not [batch, seq, neurons]", d)
	}
	xf := ConvertDType(x, dtypes.Float32)
	mask := Reshape(keyMask, d[0], d[1], 1)
	return ReduceSum(Mul(Square(xf), mask), 0, 1), nil
}

// Activations are the L2 norms of every MLP neuron's input to down, per block, over some tokens.
type Activations struct {
	Model  string      `json:"model"`
	Norms  [][]float64 `json:"norms"` // [block][neuron]: sqrt(Σ over the real tokens of the input²)
	Tokens int         `json:"tokens"`
	Device string      `json:"device"`
	DType  string      `json:"dtype"`
	// Elapsed is the run's time; Tokens/Elapsed is the tokens/s the panel shows.
	Elapsed time.Duration `json:"elapsed_ns"`
	Notes   []string      `json:"notes,omitempty"`
}

// NeuronActivations runs m over tokens once, block by block as importance runs do (progress, Cancel
// through ctx, GPU fp16 or CPU f32 per opts), and returns each MLP neuron's activation norm.
// Mixture-of-experts blocks are refused: an expert's activations would have to count only the tokens
// routed to it.
func (s *Session) NeuronActivations(ctx context.Context, m *modelio.Model, tokens [][]int, opts Options) (*Activations, error) {
	units, err := modelio.MLPUnits(m)
	if err != nil {
		return nil, err
	}
	for _, u := range units {
		if u.Expert >= 0 {
			return nil, fmt.Errorf("%s: neuron activations of mixture-of-experts blocks are not computed (an expert sees only its routed tokens); use ppm, vow or pon", m.Name)
		}
	}
	build, ok := forwards[m.Spec.Family]
	if !ok || m.Generic {
		return nil, fmt.Errorf("%s: model_type %q has no forward pass in Layerscope", m.Name, m.Spec.Family)
	}
	p, err := build(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", m.Name, err)
	}
	slots, err := p.blockSlots(0)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", m.Name, err)
	}
	key := ""
	for _, sl := range slots {
		if sl.name == units[0].Down.Weight() {
			key = sl.key
		}
	}
	if key == "" {
		return nil, fmt.Errorf("%s: the forward pass has no weight %s", m.Name, units[0].Down.Weight())
	}
	opts.Metrics = []Metric{MetricBI}
	res, pr, err := s.run(ctx, m, tokens, opts, passOptions{normsKey: key})
	if err != nil {
		return nil, err
	}
	if len(pr.actSums) != len(units) {
		return nil, fmt.Errorf("compute: %d blocks measured, %d MLPs", len(pr.actSums), len(units))
	}
	a := &Activations{Model: res.Model, Tokens: res.Tokens, Device: res.Device, DType: res.DType, Elapsed: res.Elapsed, Notes: res.Notes}
	for i, sums := range pr.actSums {
		if int64(len(sums)) != units[i].Width {
			return nil, fmt.Errorf("compute: block %d: %d activations for %d neurons", i, len(sums), units[i].Width)
		}
		n := make([]float64, len(sums))
		for j, v := range sums {
			n[j] = math.Sqrt(float64(v))
		}
		a.Norms = append(a.Norms, n)
	}
	return a, nil
}
