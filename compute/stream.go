package compute

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// engine streams a batch through one plan on one device in one dtype: block i's weights are uploaded
// as parameters of the block executable, used, and released after block i, so the device holds one
// block's weights plus the activations (and, while block i runs, block i+1's weights going up).
// Blocks of the same signature (weight shapes and dtypes, norm eps) share one compiled executable; the
// sliding window and the RoPE tables are inputs, not constants, so Gemma 3's sliding and full layers
// share one too. Executables live in the device's cache (graphCache), so a session's next run of the
// same model, batch shape and dtype compiles nothing.
type engine struct {
	p   *plan
	st  *store
	dev *device
	dt  dtypes.DType
	in  *batch

	key string         // what this run fixes of its executables' cache keys (graphKey)
	bg  sync.WaitGroup // executables compiling in the background

	// Inputs shared by every block, on the device for the whole run.
	keyMask, last backends.Buffer         // [batch, seq] float32
	normsKey      string                  // the slot of the down projection whose input is measured; "": none
	windows       map[int]backends.Buffer // int32 scalars by window (0: full attention)
	cos, sin      []backends.Buffer       // [seq, rotary] float32 per RoPE kind
	// The head's vocabulary slices (row ids [slice, 1], validity [slice]) and every position's next
	// token [batch·seq] (see runHead).
	headIDs, headValid []backends.Buffer
	headTargets        backends.Buffer
}

func newEngine(p *plan, st *store, dev *device, dt dtypes.DType, in *batch) *engine {
	return &engine{p: p, st: st, dev: dev, dt: dt, in: in, key: graphKey(p, dt, in), windows: map[int]backends.Buffer{}}
}

// compileAhead starts compiling an executable in the background; whoever asks for it next waits for
// it instead of compiling it again. An error is kept for that caller.
func (e *engine) compileAhead(get func() (*Graph, error)) {
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		_, _ = get()
	}()
}

// upload copies host data to a new device buffer.
func (e *engine) upload(flat any, dt dtypes.DType, dims ...int) (backends.Buffer, error) {
	return e.dev.backend.BufferFromFlatData(0, flat, shapes.Make(dt, dims...))
}

// prepare uploads the inputs every block reads.
func (e *engine) prepare() (err error) {
	defer recoverError(&err)
	defer trace.since("prepare inputs", time.Now())
	B, S := e.in.batch, e.in.seq
	if e.keyMask, err = e.upload(e.in.keyMask, dtypes.Float32, B, S); err != nil {
		return err
	}
	if e.last, err = e.upload(e.in.last, dtypes.Float32, B, S); err != nil {
		return err
	}
	for _, w := range e.p.layerWindow {
		if _, ok := e.windows[w]; ok {
			continue
		}
		v := int32(w)
		if w == 0 || w > S {
			v = int32(S) // full attention: every earlier key is within reach
		}
		if e.windows[w], err = e.upload([]int32{v}, dtypes.Int32); err != nil {
			return err
		}
	}
	for _, rc := range e.p.ropes {
		r, err := ropeFor(rc, S)
		if err != nil {
			return err
		}
		c, s := r.tables(S)
		cb, err := e.upload(c, dtypes.Float32, S, r.dim)
		if err != nil {
			return err
		}
		sb, err := e.upload(s, dtypes.Float32, S, r.dim)
		if err != nil {
			return err
		}
		e.cos, e.sin = append(e.cos, cb), append(e.sin, sb)
	}
	return nil
}

// close releases the engine's device buffers, after any background compile has finished; the
// executables stay in the device's cache.
func (e *engine) close() {
	e.bg.Wait()
	free := func(b backends.Buffer) {
		if b != nil {
			_ = e.dev.backend.BufferFinalize(b)
		}
	}
	free(e.keyMask)
	free(e.last)
	for i := range e.headIDs {
		free(e.headIDs[i])
		free(e.headValid[i])
	}
	free(e.headTargets)
	for _, b := range e.windows {
		free(b)
	}
	for i := range e.cos {
		free(e.cos[i])
		free(e.sin[i])
	}
}

// embed computes the input of block 0 on the host and uploads it. → [batch, seq, hidden]
// The samples are embedded in parallel, each straight into the upload's dtype: 64×512 tokens of a
// 2048-wide model are 67 M values, most of a second on one core.
func (e *engine) embed() (t *tensors.Tensor, err error) {
	defer recoverError(&err)
	defer trace.since("embed + upload", time.Now())
	t0 := time.Now()
	flat, err := e.embedHost()
	if err != nil {
		return nil, err
	}
	trace.since("embed (host)", t0)
	buf, err := e.upload(flat, e.dt, e.in.batch, e.in.seq, e.p.hidden)
	if err != nil {
		return nil, err
	}
	return tensors.FromBuffer(e.dev.backend, buf)
}

// embedHost is the input of block 0 as a Go slice of the compute dtype.
func (e *engine) embedHost() (any, error) {
	B, S, H := e.in.batch, e.in.seq, e.p.hidden
	flat := newHostSlice(e.dt, B*S*H)
	round := roundTo(e.dt)
	err := parallelFor(B, func(scratch *[]float32, b int) error {
		tokens, real := e.in.tokens[b*S:(b+1)*S], e.in.lens[b]
		if f32, ok := flat.([]float32); ok {
			return e.p.embed(e.st, tokens, real, round, f32[b*S*H:(b+1)*S*H])
		}
		if *scratch == nil {
			*scratch = make([]float32, S*H)
		}
		if err := e.p.embed(e.st, tokens, real, round, *scratch); err != nil {
			return err
		}
		convertHostInto(flat, b*S*H, *scratch)
		return nil
	})
	e.st.release(e.st.resolve(e.p.embedName))
	return flat, err
}

// parallelFor calls f(scratch, i) for i in 0..n-1 on every core, each worker with its own scratch
// slice (nil at first, for f to size); the first error wins.
func parallelFor(n int, f func(scratch *[]float32, i int) error) error {
	workers := min(n, runtime.GOMAXPROCS(0))
	var (
		next  atomic.Int64
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var scratch []float32
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := f(&scratch, i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// signature identifies the executable a list of weights needs: their names in the graph, shapes,
// parameter dtypes and norm eps.
func (e *engine) signature(slots []slot) string {
	var b strings.Builder
	for _, s := range slots {
		fmt.Fprintf(&b, "%s%v%s/%g;", s.key, s.shape, e.paramDType(s), s.eps)
	}
	return b.String()
}

// weightParams declares the weights as parameters of g, converted to the compute dtype.
func (e *engine) weightParams(g *Graph, slots []slot) weightSet {
	w := weightSet{nodes: map[string]*Node{}, eps: map[string]float64{}}
	for _, s := range slots {
		w.nodes[s.key] = ConvertDType(Parameter(g, s.key, shapes.Make(e.paramDType(s), s.shape...)), e.dt)
		w.eps[s.key] = s.eps
	}
	return w
}

// blockGraph returns the compiled executable for blocks with these weights, compiling it the first
// time. Its inputs: x, key mask, last-token one-hot, window, [cos, sin], then the weights; its outputs:
// the block's output and the statistics the metrics need (see blockStats).
func (e *engine) blockGraph(slots []slot) (*Graph, error) {
	return e.dev.graphs.get(e.key+"block|"+e.signature(slots), func() (*Graph, error) { return e.compileBlock(slots) })
}

func (e *engine) compileBlock(slots []slot) (g *Graph, err error) {
	defer recoverError(&err)
	defer trace.since("compile block", time.Now())
	B, S, H := e.in.batch, e.in.seq, e.p.hidden
	g = NewGraph(e.dev.backend, fmt.Sprintf("%s_block", e.p.m.Spec.Family))
	x := Parameter(g, "x", shapes.Make(e.dt, B, S, H))
	keyMask := Parameter(g, "key_mask", shapes.Make(dtypes.Float32, B, S))
	last := Parameter(g, "last", shapes.Make(dtypes.Float32, B, S))
	window := Parameter(g, "window", shapes.Make(dtypes.Int32))
	var cos, sin *Node
	if len(e.p.ropes) > 0 {
		rd := ropeDim(e.p.ropes[0])
		cos = Parameter(g, "cos", shapes.Make(dtypes.Float32, S, rd))
		sin = Parameter(g, "sin", shapes.Make(dtypes.Float32, S, rd))
	}
	w := e.weightParams(g, slots)
	env := newBlockEnv(keyMask, window, cos, sin, e.dt)
	var down *Node
	if e.normsKey != "" { // record the down projection's input as the block is built (activation.go)
		down = w.get(e.normsKey)
		taps.watch(down)
		defer taps.forget(down)
	}
	env.queryChunk = e.queryChunk()
	y := e.p.block(env, x, w)
	y.AssertDims(B, S, H)
	outs := append([]*Node{y}, blockStats(x, y, last)...)
	if down != nil {
		norms, err := activationSums(taps.input(down), keyMask)
		if err != nil {
			return nil, err
		}
		outs = append(outs, norms)
	}
	g.Compile(outs...)
	return g, nil
}

// ropeDim is the rotated width of a RoPE kind, the same for every kind of a model (they differ in
// base and scaling only).
func ropeDim(rc ropeConfig) int {
	frac := rc.fraction
	if frac == 0 {
		frac = 1
	}
	d := int(float64(rc.headDim) * frac)
	return d - d%2
}

// blockOut is one block run: its output on the device and its statistics on the host.
type blockOut struct {
	actSums []float32 // with MLP activations measured: Σ over real tokens of each neuron's squared input to down
	y       *tensors.Tensor
	stats   blockStat
}

// runBlock runs layer i's block on x with the weights already uploaded.
func (e *engine) runBlock(i int, g *Graph, x *tensors.Tensor, w []backends.Buffer) (out blockOut, err error) {
	defer recoverError(&err)
	defer trace.since("run block", time.Now())
	xb, err := x.Buffer(e.dev.backend, 0)
	if err != nil {
		return out, err
	}
	inputs := []backends.Buffer{xb, e.keyMask, e.last, e.windows[e.p.layerWindow[i]]}
	if len(e.cos) > 0 {
		k := e.p.layerRope[i]
		inputs = append(inputs, e.cos[k], e.sin[k])
	}
	inputs = append(inputs, w...)
	outs := g.RunWithBuffers(inputs, make([]bool, len(inputs)), 0)
	out.y = outs[0]
	out.stats, err = readStats(outs[1:min(len(outs), 1+blockStatCount)])
	if err == nil && len(outs) > 1+blockStatCount {
		out.actSums, err = tensors.CopyFlatData[float32](outs[1+blockStatCount])
	}
	for _, t := range outs[1:] {
		t.FinalizeAll()
	}
	if err != nil {
		out.y.FinalizeAll()
		return blockOut{}, err
	}
	return out, nil
}
