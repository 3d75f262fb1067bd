package neurons

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// stats are running statistics of one vector per neuron, only those the method needs: max and min
// (ppm), the L1 norm (pon), or sums of x − shift and of its square (vow), shift being the vector's
// first element so the variance keeps its digits when the mean is far from zero. Elements are read
// as float32 (every weight dtype widens to it exactly); sums run in float64.
//
// The loops are written by hand, not with gonum's floats/stat, because they run over the bytes of
// rows as read from the file, and over columns of a [rows, neurons] matrix at once, with four
// independent accumulators so the additions pipeline; gonum works on one []float64 vector at a time. The row
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

// workers splits [0, n) into contiguous parts, one per CPU (fewer where n is small: a part holds at
// least least elements), runs fn on each, and returns the first error.
func workers(n, least int, fn func(lo, hi int) error) error {
	p := max(min(runtime.GOMAXPROCS(0), n/least), 1)
	var wg sync.WaitGroup
	var first atomic.Pointer[error]
	for w := range p {
		lo, hi := n*w/p, n*(w+1)/p
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(lo, hi); err != nil {
				first.CompareAndSwap(nil, &err)
			}
		}()
	}
	wg.Wait()
	if err := first.Load(); err != nil {
		return *err
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

// rowsInto is a [neurons, width] matrix whose rows feed a stats: row j is neuron j's whole vector.
type rowsInto struct {
	s *stats
	x matrix
}

// feedRows sets each job's statistics from its matrix, every one [neurons, width]. The rows go out
// a chunk (readChunk) at a time to one worker per CPU, which reads the chunk and hands it to the
// kernels 16 rows at a time (the AVX2 ones interleave four rows); a worker takes the next chunk,
// of either matrix, when it is done, so the cores stay busy until the last chunk.
func feedRows(neurons, width int, jobs ...rowsInto) error {
	per, maxRow := 0, 0 // rows read at once, bytes of the widest dtype's row
	for _, job := range jobs {
		job.s.n = width
		rowBytes := width * elemSize(job.x.dtype)
		if int64(neurons)*int64(rowBytes) > job.x.size {
			return fmt.Errorf("%s: %d rows of %d weights are more than the tensor's %d bytes", job.x.path, neurons, width, job.x.size)
		}
		per, maxRow = max(per, readChunk/rowBytes, 1), max(maxRow, rowBytes)
	}
	chunks := (neurons + per - 1) / per
	var next atomic.Int64
	return workers(len(jobs)*chunks, 1, func(int, int) error {
		raw, buf, put := scratch(per*maxRow, 16*width) // buf: where a dtype is converted, 16 rows at a time
		defer put()
		for {
			c := int(next.Add(1) - 1)
			if c >= len(jobs)*chunks {
				return nil
			}
			job := jobs[c/chunks]
			rowBytes := width * elemSize(job.x.dtype)
			j := c % chunks * per
			k := min(per, neurons-j)
			b := raw[:k*rowBytes]
			if err := job.x.readAt(b, int64(j)*int64(rowBytes)); err != nil {
				return err
			}
			for r := 0; r < k; r += 16 {
				n := min(16, k-r)
				feedRowChunk(job.s, job.x.dtype, b[r*rowBytes:(r+n)*rowBytes], j+r, n, width, buf)
			}
		}
	})
}

// feedRowChunk feeds k rows, neurons j to j+k, whose bytes are data, to the method's kernel.
func feedRowChunk(s *stats, dtype string, data []byte, j, k, width int, buf []float32) {
	// BF16, the common dtype of real checkpoints, goes to the kernels as it lies in the file: they
	// widen it in their registers (twice the weights per byte read).
	if dtype == "BF16" && littleEndian {
		raw := unsafe.Slice((*uint16)(unsafe.Pointer(&data[0])), k*width)
		switch s.method {
		case PPM:
			for r := range k {
				s.max[j+r], s.min[j+r] = peaksBF16(raw[r*width:(r+1)*width], buf)
			}
		case PON:
			l1RowsBF16(s.l1[j:j+k], raw, width, buf)
		case VOW:
			sumsRowsBF16(s.sum[j:j+k], s.sq[j:j+k], s.shift[j:j+k], raw, width, buf)
		}
		return
	}
	rows := floats(buf, dtype, data)
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

// shiftedSums are Σ(x−shift) and Σ(x−shift)² in float64, with four accumulators each (lane k takes
// elements k, k+4, …), the squares added by fused multiply-adds: the AVX2 kernel's order, lane for lane.
func shiftedSums(v []float32, shift float64) (sum, sq float64) {
	var s0, s1, s2, s3, q0, q1, q2, q3 float64
	i := 0
	for ; i+4 <= len(v); i += 4 {
		w := v[i : i+4 : i+4]
		d0, d1, d2, d3 := float64(w[0])-shift, float64(w[1])-shift, float64(w[2])-shift, float64(w[3])-shift
		s0 += d0
		s1 += d1
		s2 += d2
		s3 += d3
		q0 = math.FMA(d0, d0, q0)
		q1 = math.FMA(d1, d1, q1)
		q2 = math.FMA(d2, d2, q2)
		q3 = math.FMA(d3, d3, q3)
	}
	for ; i < len(v); i++ {
		d := float64(v[i]) - shift
		s0 += d
		q0 = math.FMA(d, d, q0)
	}
	return (s0 + s1) + (s2 + s3), (q0 + q1) + (q2 + q3)
}

// feedCols adds x, a [rows, neurons] matrix, to the statistics: column j is more of neuron j's
// vector. The rows are read a chunk of whole rows at a time, and the workers share each chunk's
// columns out.
func feedCols(s *stats, x matrix, rows, neurons int) error {
	eb := elemSize(x.dtype)
	rowBytes := neurons * eb
	if int64(rows)*int64(rowBytes) > x.size {
		return fmt.Errorf("%s: %d rows of %d weights are more than the tensor's %d bytes", x.path, rows, neurons, x.size)
	}
	first := s.n == 0
	s.n += rows
	per := max(readChunk/rowBytes, 1)
	raw, _, put := scratch(per*rowBytes, 0)
	defer put()
	for r0 := 0; r0 < rows; r0 += per {
		k := min(per, rows-r0)
		if err := x.readAt(raw[:k*rowBytes], int64(r0)*int64(rowBytes)); err != nil {
			return err
		}
		err := workers(neurons, 64, func(lo, hi int) error {
			feedColChunk(s, x.dtype, raw[:k*rowBytes], first && r0 == 0, neurons, lo, hi)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// feedColChunk adds columns lo to hi of whole rows data to the statistics; first says the first row
// is the first element of every vector.
func feedColChunk(s *stats, dtype string, data []byte, first bool, neurons, lo, hi int) {
	eb := elemSize(dtype)
	rows := len(data) / (neurons * eb)
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
}
