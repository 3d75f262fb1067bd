package compute

import (
	"fmt"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/x448/float16"
)

// Weights reach the device in one of two ways.
//   - On a PJRT device they go up in the dtype the checkpoint stores, straight from a view of the
//     mapped file, and the executable converts them to the compute dtype: the host does no work per
//     element, and a bf16 checkpoint moves half the bytes of its float32 form.
//   - On the pure Go backend (which has no float16, and whose "device" is host memory) they are
//     converted on the host straight into the backend's buffer, one pass over the data.
// Either way the next block's weights go up while the current block runs (prefetch).

// paramDType is the dtype a weight has as an executable parameter.
func (e *engine) paramDType(s slot) dtypes.DType {
	if e.dev.kind != "xla" {
		return e.dt
	}
	if t, ok := e.st.set.Tensors[e.st.resolve(s.name)]; ok {
		var dt dtypes.DType
		switch t.DType {
		case "F32":
			dt = dtypes.Float32
		case "BF16":
			dt = dtypes.BFloat16
		case "F16":
			dt = dtypes.Float16
		}
		if dt != dtypes.InvalidDType && e.dev.supports(dt) {
			return dt
		}
	}
	return e.dt
}

// roundTo returns the rounding of float32 values to dt (identity for float32).
func roundTo(dt dtypes.DType) func(float32) float32 {
	switch dt {
	case dtypes.Float16:
		return func(x float32) float32 { return float16.Fromfloat32(x).Float32() }
	case dtypes.BFloat16:
		return func(x float32) float32 { return bf16RNE(x).Float32() }
	}
	return func(x float32) float32 { return x }
}

// convertHostInto converts float32 values into dst (a slice from newHostSlice) from offset off.
func convertHostInto(dst any, off int, v []float32) {
	switch d := dst.(type) {
	case []float16.Float16:
		for i, x := range v {
			d[off+i] = float16.Fromfloat32(x)
		}
	case []bfloat16.BFloat16:
		for i, x := range v {
			d[off+i] = bf16RNE(x)
		}
	case []float32:
		copy(d[off:], v)
	}
}

// newHostSlice makes a Go slice of n elements of dt.
func newHostSlice(dt dtypes.DType, n int) any {
	switch dt {
	case dtypes.Float16:
		return make([]float16.Float16, n)
	case dtypes.BFloat16:
		return make([]bfloat16.BFloat16, n)
	}
	return make([]float32, n)
}

// uploadWeights puts a list of weights on the device, each in its paramDType. A weight's mapped pages
// are released once it is up.
func (e *engine) uploadWeights(slots []slot) (bufs []backends.Buffer, err error) {
	defer recoverError(&err)
	defer trace.since("upload weights", time.Now())
	defer func() {
		if err != nil {
			e.release(bufs)
			bufs = nil
		}
	}()
	b := e.dev.backend
	for _, s := range slots {
		name := e.st.resolve(s.name)
		dt := e.paramDType(s)
		shape := shapes.Make(dt, s.shape...)
		var buf backends.Buffer
		if b.HasSharedBuffers() {
			var flat any
			if buf, flat, err = b.NewSharedBuffer(0, shape); err != nil {
				return bufs, err
			}
			bufs = append(bufs, buf)
			if err = e.st.fill(name, s.shape, flat); err != nil {
				return bufs, err
			}
		} else {
			flat, err := e.st.view(name, s.shape, dt)
			if err != nil {
				return bufs, err
			}
			if buf, err = b.BufferFromFlatData(0, flat, shape); err != nil {
				return bufs, err
			}
			bufs = append(bufs, buf)
		}
		e.st.release(name)
	}
	return bufs, nil
}

// view returns a tensor as a Go slice of dt: a view of the map where the stored dtype is dt and the
// data aligned, else a converted copy.
func (s *store) view(name string, want []int, dt dtypes.DType) (any, error) {
	t, b, err := s.check(name, want)
	if err != nil {
		return nil, err
	}
	n := int(t.Elements())
	switch {
	case dt == dtypes.Float32:
		if v, ok := f32View(t.DType, b); ok {
			return v, s.touch(name, b)
		}
	case dt == dtypes.BFloat16 && t.DType == "BF16", dt == dtypes.Float16 && t.DType == "F16":
		if v, ok := u16View(b); ok {
			if dt == dtypes.BFloat16 {
				return castU16[bfloat16.BFloat16](v), s.touch(name, b)
			}
			return castU16[float16.Float16](v), s.touch(name, b)
		}
	}
	out := newHostSlice(dt, n)
	return out, s.fill(name, want, out)
}

func (e *engine) release(bufs []backends.Buffer) {
	for _, b := range bufs {
		_ = e.dev.backend.BufferFinalize(b)
	}
}

// blockWeights is one block's weights on the device, or why they are not.
type blockWeights struct {
	slots []slot
	bufs  []backends.Buffer
	err   error
}

// prefetcher uploads block weights one block ahead, in a goroutine, while the current block runs.
type prefetcher struct {
	e       *engine
	next    chan blockWeights
	pending bool
}

func newPrefetcher(e *engine) *prefetcher { return &prefetcher{e: e, next: make(chan blockWeights, 1)} }

// start begins uploading block j's weights.
func (p *prefetcher) start(j int) {
	p.pending = true
	go func() {
		slots, err := p.e.p.blockSlots(j)
		var bufs []backends.Buffer
		if err == nil {
			bufs, err = p.e.uploadWeights(slots)
		}
		if err != nil {
			err = fmt.Errorf("layer %d: %v", j, err)
		}
		p.next <- blockWeights{slots: slots, bufs: bufs, err: err}
	}()
}

// wait returns the weights started last.
func (p *prefetcher) wait() blockWeights {
	p.pending = false
	defer trace.since("wait for upload", time.Now())
	return <-p.next
}

// drain releases an upload still in flight, on the way out of a failed or cancelled pass.
func (p *prefetcher) drain() {
	if p.pending {
		p.e.release(p.wait().bufs)
	}
}
