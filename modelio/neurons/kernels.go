package neurons

import (
	"errors"
	"math"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"unsafe"
)

// stats are running statistics of one vector per neuron, only those the method needs: max and min
// (ppm), the L1 norm (pon), or sums of x − shift and of its square (vow), shift being the vector's
// first element so the variance keeps its digits when the mean is far from zero. Elements are read
// as float32 (every weight dtype widens to it exactly); sums run in float64.
//
// The loops are written by hand, not with gonum's floats/stat, because they run over the mapped
// bytes of rows and of columns of a [rows, neurons] matrix at once, with four independent
// accumulators so the additions pipeline; gonum works on one []float64 vector at a time. The row
// kernels (peaks, l1, shiftedSums) have AVX2 twins in kernels_amd64.s that give the same bits.
type stats struct {
	method                       Method
	width                        int // neurons
	max, min, l1, sum, sq, shift []float64
	n                            int // elements per vector so far
}

func newStats(width int, method Method) *stats {
	s := &stats{method: method, width: width}
	switch method {
	case PPM:
		s.max, s.min = make([]float64, width), make([]float64, width)
	case PON:
		s.l1 = make([]float64, width)
	case VOW:
		s.sum, s.sq, s.shift = make([]float64, width), make([]float64, width), make([]float64, width)
	}
	return s
}

// variance is torch.var's default, unbiased: Σ(x−mean)² / (n−1); NaN for one element, as torch.
func (s *stats) variance(j int) float64 {
	n := float64(s.n)
	return (s.sq[j] - s.sum[j]*s.sum[j]/n) / (n - 1)
}

// errFault says the mapped file could not be read: another process truncated or replaced it.
var errFault = errors.New("the file changed or became unreadable while its weights were read")

// workers splits [0, n) into contiguous parts, one per CPU, and runs fn on each. fn reads the mapped
// file, where a file truncated by another process turns a read into SIGBUS: each worker asks the
// runtime for a panic instead of a crash, and workers returns errFault.
func workers(n int, fn func(lo, hi int)) error {
	p := min(runtime.GOMAXPROCS(0), max(n/64, 1))
	var wg sync.WaitGroup
	var faulted atomic.Bool
	for w := range p {
		lo, hi := n*w/p, n*(w+1)/p
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
			defer func() {
				if r := recover(); r != nil {
					if _, ok := r.(interface{ Addr() uintptr }); !ok {
						panic(r)
					}
					faulted.Store(true)
				}
			}()
			fn(lo, hi)
		}()
	}
	wg.Wait()
	if faulted.Load() {
		return errFault
	}
	return nil
}

// littleEndian is true where an F32 tensor's bytes can be read in place.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// floats returns b, of dtype, as float32: a view of b for aligned F32 on a little-endian host, else
// converted into buf (which must hold the elements).
func floats(buf []float32, dtype string, b []byte) []float32 {
	if dtype == "F32" && littleEndian && len(b) > 0 && uintptr(unsafe.Pointer(&b[0]))%4 == 0 {
		return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
	}
	out := buf[:len(b)/elemSize(dtype)]
	if dtype == "BF16" && littleEndian && len(b) > 0 && uintptr(unsafe.Pointer(&b[0]))%2 == 0 {
		// The common dtype of real checkpoints: widen in place of the generic decoder's byte reads.
		widenBF16(out, unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), len(out)))
		return out
	}
	decode32(out, dtype, b)
	return out
}

// widenBF16Go sets out[i] to the BF16 value src[i]: its bits are a float32's top half.
func widenBF16Go(out []float32, src []uint16) {
	for i, u := range src[:len(out)] {
		out[i] = math.Float32frombits(uint32(u) << 16)
	}
}

func elemSize(dtype string) int {
	switch dtype {
	case "F16", "BF16":
		return 2
	case "F64":
		return 8
	}
	return 4
}

// feedRows sets the statistics from a [neurons, width] matrix: row j is neuron j's whole vector.
// Rows go to the kernels several at a time, which lets the AVX2 ones interleave four rows.
func feedRows(s *stats, dtype string, data []byte, neurons, width int) error {
	eb := elemSize(dtype)
	s.n = width
	const chunk = 16 // rows converted at once where the dtype is not read in place
	// BF16, the common dtype of real checkpoints, goes to ppm's and pon's kernels as it lies in the
	// file: they widen it in their registers (twice the weights per byte read).
	bf16 := dtype == "BF16" && littleEndian && len(data) > 0 && uintptr(unsafe.Pointer(&data[0]))%2 == 0 &&
		(s.method == PPM || s.method == PON)
	return workers(neurons, func(lo, hi int) {
		buf := make([]float32, chunk*width)
		for j := lo; j < hi; j += chunk {
			k := min(chunk, hi-j)
			if bf16 {
				raw := unsafe.Slice((*uint16)(unsafe.Pointer(&data[j*width*eb])), k*width)
				if s.method == PPM {
					for r := range k {
						s.max[j+r], s.min[j+r] = peaksBF16(raw[r*width:(r+1)*width], buf)
					}
				} else {
					l1RowsBF16(s.l1[j:j+k], raw, width, buf)
				}
				continue
			}
			rows := floats(buf, dtype, data[j*width*eb:(j+k)*width*eb])
			switch s.method {
			case PPM:
				for r := range k {
					s.max[j+r], s.min[j+r] = peaks(rows[r*width : (r+1)*width])
				}
			case PON:
				l1Rows(s.l1[j:j+k], rows, width)
			case VOW:
				sumsRows(s.sum[j:j+k], s.sq[j:j+k], s.shift[j:j+k], rows, width)
			}
		}
	})
}

// l1RowsGo and sumsRowsGo are l1Rows and sumsRows in Go, row by row.
func l1RowsGo(dst []float64, rows []float32, width int) {
	for r := range dst {
		dst[r] = l1(rows[r*width : (r+1)*width])
	}
}

func sumsRowsGo(sum, sq, shift []float64, rows []float32, width int) {
	for r := range sum {
		row := rows[r*width : (r+1)*width]
		shift[r] = float64(row[0])
		sum[r], sq[r] = shiftedSums(row, shift[r])
	}
}

// peaksGo returns the largest and smallest element, and NaN for both when an element is NaN or
// infinite (Score then refuses the weights). Four lanes of plain comparisons, whose branches predict
// well because a new peak is rare, and the exponent bits' maximum to spot a non-finite element: about
// twice as fast as Go's NaN-propagating max and min builtins on the same rows.
func peaksGo(v []float32) (float64, float64) {
	m0, m1, m2, m3 := v[0], v[0], v[0], v[0]
	n0, n1, n2, n3 := v[0], v[0], v[0], v[0]
	u := unsafe.Slice((*uint32)(unsafe.Pointer(&v[0])), len(v))
	const exponent = 0x7f800000 // all ones: an infinity or a NaN
	var e0, e1 uint32
	i := 0
	for ; i+4 <= len(v); i += 4 {
		w, b := v[i:i+4:i+4], u[i:i+4:i+4]
		x0, x1, x2, x3 := w[0], w[1], w[2], w[3]
		e0 = max(e0, b[0]&exponent, b[1]&exponent)
		e1 = max(e1, b[2]&exponent, b[3]&exponent)
		if x0 > m0 {
			m0 = x0
		}
		if x1 > m1 {
			m1 = x1
		}
		if x2 > m2 {
			m2 = x2
		}
		if x3 > m3 {
			m3 = x3
		}
		if x0 < n0 {
			n0 = x0
		}
		if x1 < n1 {
			n1 = x1
		}
		if x2 < n2 {
			n2 = x2
		}
		if x3 < n3 {
			n3 = x3
		}
	}
	for ; i < len(v); i++ {
		e0 = max(e0, u[i]&exponent)
		if v[i] > m0 {
			m0 = v[i]
		}
		if v[i] < n0 {
			n0 = v[i]
		}
	}
	if max(e0, e1) == exponent {
		return math.NaN(), math.NaN()
	}
	return float64(max(m0, m1, m2, m3)), float64(min(n0, n1, n2, n3))
}

// l1 is Σ|x| in float64, with four accumulators.
func l1(v []float32) float64 {
	var a0, a1, a2, a3 float64
	i := 0
	for ; i+4 <= len(v); i += 4 {
		w := v[i : i+4 : i+4] // one bounds check for the four
		a0 += math.Abs(float64(w[0]))
		a1 += math.Abs(float64(w[1]))
		a2 += math.Abs(float64(w[2]))
		a3 += math.Abs(float64(w[3]))
	}
	for ; i < len(v); i++ {
		a0 += math.Abs(float64(v[i]))
	}
	return (a0 + a1) + (a2 + a3)
}

// shiftedSums are Σ(x−shift) and Σ(x−shift)² in float64, with two accumulators each.
func shiftedSums(v []float32, shift float64) (sum, sq float64) {
	var s0, s1, q0, q1 float64
	i := 0
	for ; i+2 <= len(v); i += 2 {
		w := v[i : i+2 : i+2]
		d0, d1 := float64(w[0])-shift, float64(w[1])-shift
		s0 += d0
		s1 += d1
		q0 += float64(d0 * d0) // rounded before the addition, never fused: the AVX2 kernel's order
		q1 += float64(d1 * d1)
	}
	for ; i < len(v); i++ {
		d := float64(v[i]) - shift
		s0 += d
		q0 += float64(d * d)
	}
	return s0 + s1, q0 + q1
}

// feedCols adds a [rows, neurons] matrix to the statistics: column j is more of neuron j's vector.
func feedCols(s *stats, dtype string, data []byte, rows, neurons int) error {
	eb := elemSize(dtype)
	first := s.n == 0
	s.n += rows
	return workers(neurons, func(lo, hi int) {
		buf := make([]float32, hi-lo)
		for r := range rows {
			row := floats(buf, dtype, data[(r*neurons+lo)*eb:(r*neurons+hi)*eb])
			switch s.method {
			case PPM:
				mx, mn := s.max[lo:hi], s.min[lo:hi]
				if first && r == 0 {
					for j, x := range row {
						mx[j], mn[j] = float64(x), float64(x)
						if x-x != 0 {
							mx[j] = math.NaN()
						}
					}
					continue
				}
				for j, x := range row {
					y := float64(x)
					if y > mx[j] {
						mx[j] = y
					}
					if y < mn[j] {
						mn[j] = y
					}
					if y-y != 0 { // NaN or infinite: the score becomes NaN and stays so
						mx[j] = math.NaN()
					}
				}
			case PON:
				a := s.l1[lo:hi]
				for j, x := range row {
					a[j] += math.Abs(float64(x))
				}
			case VOW:
				sum, sq, shift := s.sum[lo:hi], s.sq[lo:hi], s.shift[lo:hi]
				if first && r == 0 {
					for j, x := range row {
						shift[j] = float64(x)
					}
				}
				for j, x := range row {
					d := float64(x) - shift[j]
					sum[j] += d
					sq[j] += d * d
				}
			}
		}
	})
}
