package compute

import (
	"fmt"
	"math"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// The LM head runs over the vocabulary a slice at a time: the float32 logits of a 152k vocabulary over
// 64×512 tokens would take 20 GB at once. Each run takes every position and a slice of the head's rows
// and returns, per position, the slice's max logit, its sum of exp(logit − max) and the target's logit
// when the target falls in the slice; the host merges the slices into logsumexp − target logit. A
// slice's logits stay near headChunkBytes: small on the CPU, where they are host memory, larger on a
// GPU, where fewer runs cost less.
//
// On a GPU the whole head weight stays on the device for the pass and each run gathers its rows. On the
// pure Go backend, whose device memory is host memory, each run gets only its slice of rows, converted
// from the mapped file as it goes up: a float32 copy of a 49k×576 embedding table would be 40% of a
// bf16 SmolLM2's weight bytes again.
const (
	headChunkBytesCPU = 16 << 20
	headChunkBytesGPU = 512 << 20
	minVocabSlice     = 1024 // below this the products get too thin to run fast
)

// vocabSliceForTest, when set, replaces the slice width so the tests' tiny vocabularies span several
// slices.
var vocabSliceForTest int

// vocabSlice is how many vocabulary rows one head run takes.
func (e *engine) vocabSlice() int {
	if vocabSliceForTest > 0 {
		return vocabSliceForTest
	}
	limit := headChunkBytesCPU
	if e.dev.gpu {
		limit = headChunkBytesGPU
	}
	n := e.in.batch * e.in.seq
	return min(e.p.vocab, max(minVocabSlice, limit/(4*n)))
}

// headResident reports whether the whole LM head weight stays on the device (see above).
func (e *engine) headResident() bool { return residentHeadForTest || !e.dev.backend.HasSharedBuffers() }

// residentHeadForTest makes the pure Go backend keep the head resident, as a GPU does, so the tests
// cover that path too.
var residentHeadForTest bool

// headGraph returns the executable of the final norm and one vocabulary slice of the LM head. Inputs:
// x [batch, seq, hidden]; ids [slice, 1] int32, the head rows of the slice; valid [slice] float32 (0 for
// the padding of the last slice); targets [batch·seq] int32; the final norm's weights; then the head
// weight: all of it [vocab, hidden] when resident, else the slice's rows [slice, hidden]. The logits are
// rounded to the compute dtype and taken to float32, as transformers' loss upcasts them. Outputs, each
// [batch·seq] float32: the slice's max logit, Σ exp(logit − max), and the target's logit (0 when the
// target is elsewhere). With logits true it returns the slice's logits [batch·seq, slice] (for tests).
func (e *engine) headGraph(logits bool) (*Graph, error) {
	logits = logits || e.hostReducesHead()
	key := fmt.Sprintf("%shead|logits %t|slice %d|resident %t|%s", e.key, logits, e.vocabSlice(), e.headResident(),
		e.signature(append([]slot{e.p.lmHead}, e.p.headSlots...)))
	return e.dev.graphs.get(key, func() (*Graph, error) { return e.compileHead(logits) })
}

func (e *engine) compileHead(logits bool) (g *Graph, err error) {
	defer recoverError(&err)
	defer trace.since("compile head", time.Now())
	B, S, H, V := e.in.batch, e.in.seq, e.p.hidden, e.vocabSlice()
	N := B * S
	g = NewGraph(e.dev.backend, e.p.m.Spec.Family+"_head")
	x := Parameter(g, "x", shapes.Make(e.dt, B, S, H))
	ids := Parameter(g, "ids", shapes.Make(dtypes.Int32, V, 1))
	valid := Parameter(g, "valid", shapes.Make(dtypes.Float32, V))
	targets := Parameter(g, "targets", shapes.Make(dtypes.Int32, N))
	w := e.weightParams(g, e.p.headSlots)
	var rows *Node // [slice, hidden]
	if lm := e.p.lmHead; e.headResident() {
		// Gather before converting: only the slice's rows change dtype.
		rows = ConvertDType(Gather(Parameter(g, lm.key, shapes.Make(e.paramDType(lm), lm.shape...)), ids), e.dt)
	} else {
		rows = Parameter(g, lm.key, shapes.Make(e.dt, V, H))
	}
	var bias *Node // [slice]: the LM head's bias entries of the slice's rows
	if b := w.opt("lm_head.bias"); b != nil {
		bias = Gather(Reshape(b, e.p.vocab, 1), ids)
	}
	n := e.p.headNorm(Reshape(x, N, H), w)                   // [N, hidden]
	l := ConvertDType(linear(n, rows, bias), dtypes.Float32) // [N, slice]
	if c := e.p.finalSoftcap; c > 0 {
		l = MulScalar(Tanh(DivScalar(l, c)), c)
	}
	if logits {
		g.Compile(l)
		return g, nil
	}
	l = Add(l, Reshape(MulScalar(OneMinus(valid), maskedScore), 1, V))
	m := ReduceAndKeep(l, ReduceMax, -1)
	sumExp := ReduceSum(Exp(Sub(l, m)), -1)
	isTarget := LogicalAnd(Equal(Reshape(targets, N, 1), Reshape(ids, 1, V)),
		Reshape(GreaterThan(valid, ScalarZero(g, dtypes.Float32)), 1, V))
	tl := ReduceSum(Where(isTarget, l, ScalarZero(g, dtypes.Float32)), -1)
	g.Compile(Reshape(m, N), sumExp, tl)
	return g, nil
}

// runHead runs the head over every position of the final hidden states x, with the final norm's
// weights uploaded (normW) and, when resident, the head weight (lmW). It returns the next-token NLL per
// position [batch·seq] (meaningless where there is no target), or with logits the logits
// [batch·seq·vocab].
func (e *engine) runHead(x *tensors.Tensor, normW []backends.Buffer, lmW backends.Buffer, logits bool) (out []float32, err error) {
	// On the pure Go backend the executable returns the slice's logits and the host reduces them, every
	// core taking a share of the positions in one pass (reduceSlice); on a device the reduction stays
	// there, next to its logits.
	hostReduce := !logits && e.hostReducesHead()
	g, err := e.headGraph(logits)
	if err != nil {
		return nil, err
	}
	if err := e.prepareHead(); err != nil {
		return nil, err
	}
	defer recoverError(&err)
	defer trace.since("run head", time.Now())
	xb, err := x.Buffer(e.dev.backend, 0)
	if err != nil {
		return nil, err
	}
	N, V, slice := e.in.batch*e.in.seq, e.p.vocab, e.vocabSlice()
	maxL, sumExp, target := make([]float64, N), make([]float64, N), make([]float64, N)
	for i := range maxL {
		maxL[i] = math.Inf(-1)
	}
	if logits {
		out = make([]float32, N*V)
	}
	for c := range e.headIDs {
		inputs := append([]backends.Buffer{xb, e.headIDs[c], e.headValid[c], e.headTargets}, normW...)
		rowsW := lmW
		if rowsW == nil {
			if rowsW, err = e.uploadRows(e.p.lmHead, c*slice, min(slice, V-c*slice), slice); err != nil {
				return nil, err
			}
		}
		inputs = append(inputs, rowsW)
		outs := g.RunWithBuffers(inputs, make([]bool, len(inputs)), 0)
		if lmW == nil {
			e.release([]backends.Buffer{rowsW})
		}
		if hostReduce && len(outs) == 1 {
			// The logits are read where the executable left them (the pure Go backend shares its buffers
			// with the host): copying them out first took a core for a fifth of the head's time.
			err = tensors.ConstFlatData(outs[0], func(l []float32) { e.reduceSlice(l, c, maxL, sumExp, target) })
			outs[0].FinalizeAll()
			if err != nil {
				return nil, err
			}
			continue
		}
		vals := make([][]float32, len(outs))
		for k, t := range outs {
			if err == nil {
				vals[k], err = tensors.CopyFlatData[float32](t)
			}
			t.FinalizeAll()
		}
		if err != nil {
			return nil, err
		}
		if logits {
			width := min(slice, V-c*slice)
			for i := 0; i < N; i++ {
				copy(out[i*V+c*slice:i*V+c*slice+width], vals[0][i*slice:i*slice+width])
			}
			continue
		}
		if hostReduce {
			e.reduceSlice(vals[0], c, maxL, sumExp, target)
			continue
		}
		if len(vals) != 3 {
			return nil, fmt.Errorf("compute: head executable returned %d outputs, expected 3", len(vals))
		}
		for i := 0; i < N; i++ {
			m, s := float64(vals[0][i]), float64(vals[1][i])
			if m > maxL[i] {
				sumExp[i] = sumExp[i]*math.Exp(maxL[i]-m) + s
				maxL[i] = m
			} else {
				sumExp[i] += s * math.Exp(m-maxL[i])
			}
			target[i] += float64(vals[2][i])
		}
	}
	if logits {
		return out, nil
	}
	out = make([]float32, N)
	for i := range out {
		out[i] = float32(maxL[i] + math.Log(sumExp[i]) - target[i])
	}
	return out, nil
}

// prepareHead uploads, once per engine, the row ids and validity of every vocabulary slice and the
// targets of every position.
func (e *engine) prepareHead() (err error) {
	if e.headIDs != nil {
		return nil
	}
	defer recoverError(&err)
	V, slice := e.p.vocab, e.vocabSlice()
	if e.headTargets, err = e.upload(e.in.targets, dtypes.Int32, e.in.batch*e.in.seq); err != nil {
		return err
	}
	for start := 0; start < V; start += slice {
		ids, valid := make([]int32, slice), make([]float32, slice)
		for r := range slice {
			if id := start + r; id < V {
				ids[r], valid[r] = int32(id), 1
			}
		}
		ib, err := e.upload(ids, dtypes.Int32, slice, 1)
		if err != nil {
			return err
		}
		e.headIDs = append(e.headIDs, ib)
		vb, err := e.upload(valid, dtypes.Float32, slice)
		if err != nil {
			return err
		}
		e.headValid = append(e.headValid, vb)
	}
	return nil
}

// uploadRows puts rows start..start+n of a 2-D weight on the device as a [rows, width] buffer in the
// compute dtype, zero past n, converting from the mapped file on the way.
func (e *engine) uploadRows(s slot, start, n, rows int) (buf backends.Buffer, err error) {
	defer recoverError(&err)
	name := e.st.resolve(s.name)
	t, b, err := e.st.check(name, s.shape)
	if err != nil {
		return nil, err
	}
	width, eb := s.shape[1], elemBytes[t.DType]
	src := b[start*width*eb : (start+n)*width*eb]
	shape := shapes.Make(e.dt, rows, width)
	var flat any
	if e.dev.backend.HasSharedBuffers() {
		if buf, flat, err = e.dev.backend.NewSharedBuffer(0, shape); err != nil {
			return nil, err
		}
		clear(flatBytes(flat)) // pooled buffers hold old data; the padding rows must be zero
	} else {
		flat = newHostSlice(e.dt, rows*width)
	}
	if err := e.st.guard(name, func() error { return convertInto(t.DType, src, n*width, flat) }); err != nil {
		if buf != nil {
			e.release([]backends.Buffer{buf})
		}
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	releaseBytes(src)
	if buf == nil {
		return e.dev.backend.BufferFromFlatData(0, flat, shape)
	}
	return buf, nil
}

// hostReducesHead reports whether the host reduces the head's logits (see runHead): on the pure Go
// backend, whose device memory is host memory.
func (e *engine) hostReducesHead() bool { return e.dev.kind == "go" && !graphHeadForTest }

// graphHeadForTest keeps the reduction in the head executable on the pure Go backend too, so the tests
// compare both ways.
var graphHeadForTest bool

// reduceSlice merges vocabulary slice c's logits [batch·seq, slice] into the running max, sum of
// exponentials and target logit of every position, on every core. Per slice it computes what the
// head executable's reduction computes, in the same float32 operations and order (max, then
// Σ float32(exp(l − max)) from 0 in column order, the target's logit as is), so either gives the same
// NLL to the bit; here it is one pass over the logits instead of a dozen broadcast ops and
// temporaries of their size.
func (e *engine) reduceSlice(l []float32, c int, maxL, sumExp, target []float64) {
	N, slice := e.in.batch*e.in.seq, e.vocabSlice()
	lo, width := c*slice, min(slice, e.p.vocab-c*slice)
	const rows = 64 // positions per task
	_ = parallelFor((N+rows-1)/rows, func(_ *[]float32, t int) error {
		for i := t * rows; i < min(N, (t+1)*rows); i++ {
			row := l[i*slice : i*slice+width]
			m := float32(math.Inf(-1))
			for _, v := range row {
				m = max(m, v)
			}
			var s float32
			for _, v := range row {
				s += float32(math.Exp(float64(v - m)))
			}
			if m64 := float64(m); m64 > maxL[i] {
				sumExp[i] = sumExp[i]*math.Exp(maxL[i]-m64) + float64(s)
				maxL[i] = m64
			} else {
				sumExp[i] += float64(s) * math.Exp(m64-maxL[i])
			}
			if tg := int(e.in.targets[i]) - lo; tg >= 0 && tg < width {
				target[i] += float64(row[tg])
			}
		}
		return nil
	})
}
