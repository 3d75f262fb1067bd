package simplego

// Layerscope patch (see third_party/gomlx/PATCH.md): element-wise ops and reductions that keep the
// leading axis run on every core, split along that axis, so a transformer block keeps all cores busy
// between its matrix products. Each part runs the op's own executor on sub-buffers that alias slices
// of the inputs and of the one output buffer; the results are the same values as the unsplit op's.

import (
	"reflect"
	"runtime"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/pkg/errors"
)

// splitMinSize is the output size below which an op is not worth splitting.
const splitMinSize = 1 << 15

// splitOps are the ops whose output element i along the leading axis depends only on the inputs'
// element i along it (or on inputs broadcast along it).
var splitOps = map[backends.OpType]bool{
	backends.OpTypeAdd: true, backends.OpTypeSub: true, backends.OpTypeMul: true, backends.OpTypeDiv: true,
	backends.OpTypeMax: true, backends.OpTypeMin: true, backends.OpTypePow: true,
	backends.OpTypeNeg: true, backends.OpTypeAbs: true, backends.OpTypeExp: true, backends.OpTypeLog: true,
	backends.OpTypeLogistic: true, backends.OpTypeTanh: true, backends.OpTypeRsqrt: true,
	backends.OpTypeSqrt: true, backends.OpTypeErf: true, backends.OpTypeWhere: true,
	backends.OpTypeReduceSum: true, backends.OpTypeReduceMax: true, backends.OpTypeReduceMin: true,
	backends.OpTypeTranspose: true, backends.OpTypeSlice: true, // when they keep axis 0: keepsAxis0
}

// keepsAxis0 reports whether a Transpose or a Slice maps output row i along axis 0 to input row i
// (the permutation keeps axis 0 first; the slice takes all of axis 0, in order), so that it splits
// like an element-wise op.
func keepsAxis0(node *Node, inputs []*Buffer) bool {
	switch p := node.data.(type) {
	case []int:
		return node.opType != backends.OpTypeTranspose || len(p) > 0 && p[0] == 0
	case *sliceNode:
		return node.opType == backends.OpTypeSlice && len(p.starts) > 0 && p.starts[0] == 0 && p.strides[0] == 1 &&
			p.limits[0] == inputs[0].shape.Dimensions[0]
	}
	return node.opType != backends.OpTypeTranspose && node.opType != backends.OpTypeSlice
}

// reduceOps are the reductions among splitOps: split only when axis 0 is not reduced.
var reduceOps = map[backends.OpType]bool{
	backends.OpTypeReduceSum: true, backends.OpTypeReduceMax: true, backends.OpTypeReduceMin: true,
}

// execSplit runs exec on node, split along the leading axis across the cores when the op allows it
// and the output is large enough; otherwise it calls exec as is.
func (b *Backend) execSplit(exec nodeExecutor, node *Node, inputs []*Buffer, owned []bool) (*Buffer, error) {
	exec = fastExecutor(exec, node) // exec_fast.go
	out := node.shape
	work := out.Size()
	if reduceOps[node.opType] && len(inputs) > 0 {
		work = inputs[0].shape.Size() // a reduction's work is its operand's size, not its output's
	}
	if !splitOps[node.opType] || out.Rank() == 0 || work < splitMinSize || b.isFinalized || !keepsAxis0(node, inputs) {
		return exec(b, node, inputs, owned)
	}
	parts := min(runtime.GOMAXPROCS(0), out.Dimensions[0])
	if parts < 2 {
		return exec(b, node, inputs, owned)
	}
	reduce := false
	if axes, ok := node.data.([]int); ok && reduceOps[node.opType] {
		for _, a := range axes {
			if a == 0 {
				return exec(b, node, inputs, owned)
			}
		}
		reduce = true
	}
	// How each input is handed to a part: sliced along axis 0, or whole (a scalar, or broadcast along
	// axis 0).
	sliced := make([]bool, len(inputs))
	for i, in := range inputs {
		switch {
		case in.shape.Size() == 1:
		case reduce || in.shape.Rank() == out.Rank() && in.shape.Dimensions[0] == out.Dimensions[0]:
			sliced[i] = true
		case in.shape.Rank() == out.Rank() && in.shape.Dimensions[0] == 1:
		default:
			return exec(b, node, inputs, owned)
		}
	}
	// The output: an input of the output's shape and dtype that this op uses for the last time is
	// taken over and computed in place; else a copy of such an input is, part by part; else each part
	// writes a buffer of its own, copied into place.
	var output *Buffer
	src := -1
	if !reduce {
		for i, in := range inputs {
			if in.shape.Equal(out) && (src < 0 || owned[i]) {
				src = i
				if owned[i] {
					break
				}
			}
		}
	}
	if src >= 0 && owned[src] {
		output = inputs[src]
		inputs[src] = nil // taken over, as the executors mark it
	} else {
		output = b.getBufferForShape(out)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	rows := out.Dimensions[0]
	for p := range parts {
		lo, hi := p*rows/parts, (p+1)*rows/parts
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { // an executor's panic becomes the op's error, as in the caller's goroutine
				if r := recover(); r != nil {
					mu.Lock()
					if first == nil {
						first = errors.Errorf("%s: %v", node.opType, r)
					}
					mu.Unlock()
				}
			}()
			partInputs := make([]*Buffer, len(inputs))
			partOwned := make([]bool, len(inputs))
			for i, in := range inputs {
				switch {
				case i == src && in == nil: // taken over above: computed in place
					partInputs[i], partOwned[i] = subBuffer(output, lo, hi), true
				case i == src: // copied into the output, then computed in place
					o := subBuffer(output, lo, hi)
					reflect.Copy(reflect.ValueOf(o.flat), reflect.ValueOf(subBuffer(in, lo, hi).flat))
					partInputs[i], partOwned[i] = o, true
				case sliced[i]:
					partInputs[i] = subBuffer(in, lo, hi)
				default:
					partInputs[i] = in
				}
			}
			partNode := *node
			partNode.shape = subShape(out, lo, hi)
			res, err := exec(b, &partNode, partInputs, partOwned)
			if err == nil {
				if dst := subBuffer(output, lo, hi); !sameData(res, dst) {
					reflect.Copy(reflect.ValueOf(dst.flat), reflect.ValueOf(res.flat))
					b.putBuffer(res)
				}
			}
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first != nil {
		b.putBuffer(output)
		return nil, first
	}
	return output, nil
}

// subShape is shape with its leading axis cut to lo..hi.
func subShape(s shapes.Shape, lo, hi int) shapes.Shape {
	dims := append([]int{hi - lo}, s.Dimensions[1:]...)
	return shapes.Make(s.DType, dims...)
}

// subBuffer is a buffer aliasing rows lo..hi (along the leading axis) of buf; it is never pooled.
func subBuffer(buf *Buffer, lo, hi int) *Buffer {
	inner := buf.shape.Size() / buf.shape.Dimensions[0]
	flat := reflect.ValueOf(buf.flat).Slice(lo*inner, hi*inner).Interface()
	return &Buffer{shape: subShape(buf.shape, lo, hi), valid: true, flat: flat}
}

// sameData reports whether two buffers share their first element (a part computed in place).
func sameData(a, b *Buffer) bool {
	va, vb := reflect.ValueOf(a.flat), reflect.ValueOf(b.flat)
	return va.Len() > 0 && vb.Len() > 0 && va.Index(0).Addr().Pointer() == vb.Index(0).Addr().Pointer()
}
