package compute

import (
	"context"
	"fmt"
	"sort"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// overflowError says a block's output held non-finite values: the dtype overflowed (Gemma does in
// fp16), and the run is repeated in a wider one.
type overflowError struct {
	block int
	dtype string
}

func (e *overflowError) Error() string {
	return fmt.Sprintf("block %d produced non-finite values in %s", e.block, e.dtype)
}

// passResult is what one pass over the blocks measured.
type passResult struct {
	stats   []blockStat // per block
	nll     float64     // mean next-token NLL of the full model
	nllN    int
	skipNLL []float64 // with block i skipped (ablation only)
	// actSums[i][j]: Σ over the real tokens of neuron j's input to block i's down projection, squared
	// (passOptions.normsKey only).
	actSums [][]float32

	// For tests: every block's output downloaded ([batch·seq·hidden] each) and the logits.
	hidden [][]float32
	logits []float32
}

// passOptions choose what a pass computes beyond the block statistics and the NLL.
type passOptions struct {
	ablation   bool
	keepHidden bool   // download every block's output (tests)
	logits     bool   // compute the full logits (tests)
	normsKey   string // measure the input of this slot's projection (MLP activations, activation.go)
	progress   func(done, total int, msg string)
}

// pass runs the batch through every block once, in order. With ablation it also carries, for each
// block i already passed, the state of the model with block i skipped: block j's weights are uploaded
// once and applied to the full model's state and to every such skipped state, so the L·(L−1)/2 block
// evaluations of the ablation cost no extra upload. Context cancellation is honoured between blocks.
func (e *engine) pass(ctx context.Context, o passOptions) (res *passResult, err error) {
	L := e.p.layers
	total := L + 1
	if o.ablation {
		total += L*(L-1)/2 + L
	}
	if o.normsKey != "" {
		e.normsKey = o.normsKey
		e.key += "|activations " + o.normsKey
	}
	done := 0
	step := func(msg string) {
		done++
		if o.progress != nil {
			o.progress(done, total, msg)
		}
	}
	// Block 0's executable compiles while the inputs are embedded and uploaded, and the head's while
	// the blocks run: on a GPU compiling takes longer than either.
	if slots, err := e.p.blockSlots(0); err == nil {
		e.compileAhead(func() (*Graph, error) { return e.blockGraph(slots) })
	}
	if err := e.prepare(); err != nil {
		return nil, err
	}
	h, err := e.embed()
	if err != nil {
		return nil, err
	}
	// Every state this pass still owns is freed on the way out, whatever happens.
	var prev *tensors.Tensor // the input of the last block run, the start of "skip that block"
	skipped := map[int]*tensors.Tensor{}
	defer func() {
		for _, t := range append([]*tensors.Tensor{h, prev}, values(skipped)...) {
			if t != nil {
				t.FinalizeAll()
			}
		}
	}()

	res = &passResult{stats: make([]blockStat, L)}
	pf := newPrefetcher(e)
	defer pf.drain()
	pf.start(0)
	for j := 0; j < L; j++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		w := pf.wait()
		if w.err != nil {
			return nil, w.err
		}
		if j+1 < L {
			pf.start(j + 1) // block j+1 goes up while block j runs
		}
		g, err := e.blockGraph(w.slots)
		if err != nil {
			err = fmt.Errorf("layer %d: %v", j, err)
		} else {
			err = e.blockStep(ctx, j, g, w.bufs, &h, &prev, skipped, res, o, step)
		}
		e.release(w.bufs)
		if err != nil {
			return nil, err
		}
		if j == 0 {
			e.compileAhead(func() (*Graph, error) { return e.headGraph(false) })
		}
	}
	if o.ablation {
		skipped[L-1], prev = prev, nil // skipping the last block leaves its input as the final state
	}

	normW, err := e.uploadWeights(e.p.headSlots)
	if err != nil {
		return nil, err
	}
	defer e.release(normW)
	var lmW backends.Buffer // nil: the head's rows go up slice by slice
	if e.headResident() {
		bufs, err := e.uploadWeights([]slot{e.p.lmHead})
		if err != nil {
			return nil, err
		}
		defer e.release(bufs)
		lmW = bufs[0]
	}
	nll, err := e.runHead(h, normW, lmW, false)
	if err != nil {
		return nil, err
	}
	res.nll, res.nllN = meanNLL(nll, e.in)
	step("LM head")
	if o.logits {
		if res.logits, err = e.runHead(h, normW, lmW, true); err != nil {
			return nil, err
		}
	}
	if o.ablation {
		res.skipNLL = make([]float64, L)
		for i := 0; i < L; i++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			nll, err := e.runHead(skipped[i], normW, lmW, false)
			if err != nil {
				return nil, err
			}
			res.skipNLL[i], _ = meanNLL(nll, e.in)
			step(fmt.Sprintf("NLL without block %d", i))
		}
	}
	return res, nil
}

// blockStep runs block j on the full model's state h and, for the ablation, on every skipped state.
func (e *engine) blockStep(ctx context.Context, j int, g *Graph, w []backends.Buffer,
	h, prev **tensors.Tensor, skipped map[int]*tensors.Tensor, res *passResult, o passOptions, step func(string)) error {
	out, err := e.runBlock(j, g, *h, w)
	if err != nil {
		return fmt.Errorf("layer %d: %v", j, err)
	}
	if out.stats.nonFinite > 0 {
		out.y.FinalizeAll()
		return &overflowError{block: j, dtype: dtypeName(e.dt)}
	}
	res.stats[j] = out.stats
	if out.actSums != nil {
		res.actSums = append(res.actSums, out.actSums)
	}
	if o.keepHidden {
		v, err := tensors.CopyFlatData[float32](out.y)
		if err != nil {
			out.y.FinalizeAll()
			return err
		}
		res.hidden = append(res.hidden, v)
	}
	step(fmt.Sprintf("block %d", j))
	if o.ablation {
		if *prev != nil {
			skipped[j-1], *prev = *prev, nil // skip block j-1: its input goes straight into block j
		}
		for _, i := range sortedKeys(skipped) {
			if err := ctx.Err(); err != nil {
				out.y.FinalizeAll()
				return err
			}
			so, err := e.runBlock(j, g, skipped[i], w)
			if err != nil {
				out.y.FinalizeAll()
				return fmt.Errorf("layer %d (block %d skipped): %v", j, i, err)
			}
			skipped[i].FinalizeAll()
			skipped[i] = so.y
			if so.stats.nonFinite > 0 {
				out.y.FinalizeAll()
				return &overflowError{block: j, dtype: dtypeName(e.dt)}
			}
			step(fmt.Sprintf("block %d without block %d", j, i))
		}
		*prev = *h
	} else {
		(*h).FinalizeAll()
	}
	*h = out.y
	return nil
}

func sortedKeys(m map[int]*tensors.Tensor) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}

func values(m map[int]*tensors.Tensor) []*tensors.Tensor {
	out := make([]*tensors.Tensor, 0, len(m))
	for _, t := range m {
		out = append(out, t)
	}
	return out
}
