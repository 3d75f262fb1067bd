package simplego

// Layerscope patch (see third_party/gomlx/PATCH.md): faster float32 executors for two patterns that
// upstream runs through per-element index iterators, the largest single-core and per-element costs left
// in a transformer block after the matrix products:
//
//   - ReduceSum and ReduceMax over the last axis only (RMSNorm's mean of squares, softmax's max and
//     sum): a tight loop per output element instead of reduceOutputIterator;
//   - Add, Sub, Mul, Div, Max, Min and Pow with an input broadcast to the output's shape (x * rsqrt(var),
//     x * weight, scores - max): the broadcast input is first expanded into a buffer of the output's
//     shape with block copies, and the op's own executor then takes its same-shape path instead of
//     broadcastIterator.
//
// Both give the values of upstream's executors bit for bit: the reductions accumulate each output in
// the same order, from the same initial value, with the same float32 operations; the binary ops apply
// the same executor to the same pairs of values.

import (
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// fastBinaryOps are the binary ops whose broadcast inputs fastExecutor expands.
var fastBinaryOps = map[backends.OpType]bool{
	backends.OpTypeAdd: true, backends.OpTypeSub: true, backends.OpTypeMul: true, backends.OpTypeDiv: true,
	backends.OpTypeMax: true, backends.OpTypeMin: true, backends.OpTypePow: true,
}

// fastExecutor returns the executor to run node with: exec itself, or exec wrapped by a fast path.
func fastExecutor(exec nodeExecutor, node *Node) nodeExecutor {
	if node.shape.DType != dtypes.Float32 {
		return exec
	}
	switch {
	case node.opType == backends.OpTypeReduceSum || node.opType == backends.OpTypeReduceMax:
		return func(b *Backend, n *Node, inputs []*Buffer, owned []bool) (*Buffer, error) {
			if out, ok := reduceLastAxis(b, n, inputs[0]); ok {
				return out, nil
			}
			return exec(b, n, inputs, owned)
		}
	case fastBinaryOps[node.opType]:
		return func(b *Backend, n *Node, inputs []*Buffer, owned []bool) (*Buffer, error) {
			return expandBroadcast(exec, b, n, inputs, owned)
		}
	}
	return exec
}

// reduceLastAxis reduces a float32 operand over its last axis alone; ok is false for any other
// reduction, which the caller leaves to upstream's executor.
func reduceLastAxis(b *Backend, node *Node, operand *Buffer) (*Buffer, bool) {
	axes, _ := node.data.([]int)
	rank := operand.shape.Rank()
	if len(axes) != 1 || rank == 0 || axes[0] != rank-1 || operand.shape.DType != dtypes.Float32 {
		return nil, false
	}
	n := operand.shape.Dimensions[rank-1]
	in := operand.flat.([]float32)
	output := b.getBufferForShape(node.shape)
	out := output.flat.([]float32)
	if n == 0 || len(out)*n != len(in) {
		b.putBuffer(output)
		return nil, false
	}
	if node.opType == backends.OpTypeReduceSum {
		for i := range out {
			s := float32(0)
			for _, v := range in[i*n : (i+1)*n] {
				s += v
			}
			out[i] = s
		}
	} else {
		lowest := dtypes.Float32.LowestValue().(float32)
		for i := range out {
			m := lowest
			for _, v := range in[i*n : (i+1)*n] {
				m = max(m, v)
			}
			out[i] = m
		}
	}
	return output, true
}

// expandBroadcast runs a binary op with each non-scalar float32 input of another shape than the output
// expanded to the output's shape first, so the executor takes its same-shape path. A scalar right-hand
// side is left as is (the executors' own fast path); so is everything the expansion does not cover.
func expandBroadcast(exec nodeExecutor, b *Backend, node *Node, inputs []*Buffer, owned []bool) (*Buffer, error) {
	out := node.shape
	var args []*Buffer // inputs with the expanded ones in place; nil while none is
	var argsOwned []bool
	for i, in := range inputs {
		if in.shape.Equal(out) || (i == 1 && in.shape.Size() == 1) || in.shape.DType != dtypes.Float32 ||
			in.shape.Rank() != out.Rank() {
			continue
		}
		if args == nil {
			args = append([]*Buffer(nil), inputs...)
			argsOwned = append([]bool(nil), owned...)
		}
		e := b.getBufferForShape(out)
		expand(e.flat.([]float32), in.flat.([]float32), in.shape.Dimensions, out.Dimensions)
		args[i], argsOwned[i] = e, false // not owned: the executor leaves it, and it is pooled below
	}
	if args == nil {
		return exec(b, node, inputs, owned)
	}
	res, err := exec(b, node, args, argsOwned)
	for i, in := range inputs {
		switch {
		case args[i] == in:
		case args[i] == nil: // an owned input the executor took over, as it marks it
			inputs[i] = nil
		default:
			b.putBuffer(args[i])
		}
	}
	return res, err
}

// expand writes src, of dimensions from (each equal to to's or 1), broadcast to dimensions to into dst.
func expand(dst, src []float32, from, to []int) {
	if len(to) == 0 {
		dst[0] = src[0]
		return
	}
	inner, innerSrc := 1, 1
	same := true
	for a := 1; a < len(to); a++ {
		inner *= to[a]
		innerSrc *= from[a]
		same = same && from[a] == to[a]
	}
	for i := range to[0] {
		j := i
		if from[0] == 1 {
			j = 0
		}
		d, s := dst[i*inner:(i+1)*inner], src[j*innerSrc:(j+1)*innerSrc]
		switch {
		case same:
			copy(d, s)
		case innerSrc == 1:
			v := s[0]
			for k := range d {
				d[k] = v
			}
		default:
			expand(d, s, from[1:], to[1:])
		}
	}
}
