package neurons

import (
	"math"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// With the Go kernels, scoring is bound by its arithmetic, not by reading the rows: they do about one
// weight per nanosecond per core. These AVX2 kernels (kernels_amd64.s) do 8 floats per instruction.
// Written in assembly, not with a SIMD library: none in our package list fits, and the AVX2 float32
// Max/Min/Sum of a library such as viterin/vek neither report NaN (ppm refuses broken weights) nor sum
// in float64 in a fixed order (pon's and vow's digits); Go's own simd package needs
// GOEXPERIMENT=simd. Each keeps its Go kernel's order of operations lane for lane, and several rows
// interleaved give the additions the independent chains that more accumulators would, so every score
// equals the Go kernel's bit for bit (TestKernelsMatchGo).
var hasAVX2 = cpu.X86.HasAVX2

// hasFMA: vow's kernel adds its squares with fused multiply-adds (every AVX2 CPU has them but VIA's).
var hasFMA = cpu.X86.HasFMA

//go:noescape
func peaksAVX2(p *float32, blocks int, out *[24]float32)

//go:noescape
func l1Rows4AVX2(p *float32, stride, quads int, out *[16]float64)

//go:noescape
func sumsRows4AVX2(p *float32, stride, quads int, shift *[4]float64, out *[32]float64)

//go:noescape
func sumsRows4BF16AVX2(p *uint16, stride, quads int, shift *[4]float64, out *[32]float64)

//go:noescape
func widenBF16AVX2(dst *float32, src *uint16, blocks int)

// widenBF16 sets out[i] to the BF16 value src[i], exactly.
func widenBF16(out []float32, src []uint16) {
	i := 0
	if blocks := len(src) / 16; hasAVX2 && blocks > 0 {
		widenBF16AVX2(&out[0], &src[0], blocks)
		i = 16 * blocks
	}
	widenBF16Go(out[i:], src[i:])
}

//go:noescape
func peaksBF16AVX2(p *uint16, blocks int, out *[24]float32)

//go:noescape
func l1Rows4BF16AVX2(p *uint16, stride, quads int, out *[16]float64)

// peaks is peaksGo's result (NaN for both when an element is NaN or infinite).
func peaks(v []float32) (float64, float64) {
	blocks := len(v) / 32
	if !hasAVX2 || blocks == 0 {
		return peaksGo(v)
	}
	var out [24]float32
	peaksAVX2(&v[0], blocks, &out)
	mx, mn, nan := peaksLanes(&out)
	for _, x := range v[32*blocks:] {
		mx, mn, nan = peaksAdd(mx, mn, nan, x)
	}
	return peaksResult(mx, mn, nan)
}

// peaksBF16 is peaks of the BF16 values raw, widened in the AVX2 kernel's registers (elsewhere
// into buf, which must hold them).
func peaksBF16(raw []uint16, buf []float32) (float64, float64) {
	blocks := len(raw) / 32
	if !hasAVX2 || blocks == 0 {
		widenBF16Go(buf[:len(raw)], raw)
		return peaksGo(buf[:len(raw)])
	}
	var out [24]float32
	peaksBF16AVX2(&raw[0], blocks, &out)
	mx, mn, nan := peaksLanes(&out)
	for _, u := range raw[32*blocks:] {
		mx, mn, nan = peaksAdd(mx, mn, nan, math.Float32frombits(uint32(u)<<16))
	}
	return peaksResult(mx, mn, nan)
}

// peaksLanes reduces the AVX2 kernels' lanes.
func peaksLanes(out *[24]float32) (mx, mn float32, nan bool) {
	mx, mn = out[0], out[8]
	for k := range 8 {
		mx, mn = max(mx, out[k]), min(mn, out[8+k])
		nan = nan || math.Float32bits(out[16+k]) != 0
	}
	return mx, mn, nan
}

func peaksAdd(mx, mn float32, nan bool, x float32) (float32, float32, bool) {
	if x > mx {
		mx = x
	}
	if x < mn {
		mn = x
	}
	return mx, mn, nan || x-x != 0
}

// peaksResult is NaN for both when an element was NaN or infinite, as peaksGo.
func peaksResult(mx, mn float32, nan bool) (float64, float64) {
	if nan || math.IsInf(float64(mx), 1) || math.IsInf(float64(mn), -1) {
		return math.NaN(), math.NaN()
	}
	return float64(mx), float64(mn)
}

// l1Rows sets dst[r] to l1 of row r of rows ([len(dst), width]).
func l1Rows(dst []float64, rows []float32, width int) {
	quads, r := width/4, 0
	if hasAVX2 && quads > 0 {
		var out [16]float64
		for ; r+4 <= len(dst); r += 4 {
			block := rows[r*width : (r+4)*width]
			l1Rows4AVX2(&block[0], width, quads, &out)
			for k := range 4 {
				a := out[4*k : 4*k+4]
				for _, x := range block[k*width+4*quads : (k+1)*width] {
					a[0] += math.Abs(float64(x))
				}
				dst[r+k] = (a[0] + a[1]) + (a[2] + a[3])
			}
		}
	}
	l1RowsGo(dst[r:], rows[r*width:], width)
}

// l1RowsBF16 is l1Rows of the BF16 rows raw, widened in the AVX2 kernel's registers (elsewhere, and
// for the last rows, into buf, which must hold a row).
func l1RowsBF16(dst []float64, raw []uint16, width int, buf []float32) {
	quads, r := width/4, 0
	if hasAVX2 && quads > 0 {
		var out [16]float64
		for ; r+4 <= len(dst); r += 4 {
			block := raw[r*width : (r+4)*width]
			l1Rows4BF16AVX2(&block[0], width, quads, &out)
			for k := range 4 {
				a := out[4*k : 4*k+4]
				for _, u := range block[k*width+4*quads : (k+1)*width] {
					a[0] += math.Abs(float64(math.Float32frombits(uint32(u) << 16)))
				}
				dst[r+k] = (a[0] + a[1]) + (a[2] + a[3])
			}
		}
	}
	for ; r < len(dst); r++ {
		row := buf[:width]
		widenBF16Go(row, raw[r*width:(r+1)*width])
		dst[r] = l1(row)
	}
}

// sumsRows sets shift[r] to row r's first element and sum[r], sq[r] to its shiftedSums.
func sumsRows(sum, sq, shift []float64, rows []float32, width int) {
	r := sumsRows4(sum, sq, shift, rows, width)
	sumsRowsGo(sum[r:], sq[r:], shift[r:], rows[r*width:], width)
}

// sumsRowsBF16 is sumsRows of the BF16 rows raw, widened in the AVX2 kernel's registers (elsewhere,
// and for the last rows, into buf, which must hold a row).
func sumsRowsBF16(sum, sq, shift []float64, raw []uint16, width int, buf []float32) {
	r := sumsRows4(sum, sq, shift, raw, width)
	for ; r < len(sum); r++ {
		row := buf[:width]
		widenBF16Go(row, raw[r*width:(r+1)*width])
		sumsRowsGo(sum[r:r+1], sq[r:r+1], shift[r:r+1], row, width)
	}
}

// sumsRows4 runs the four-row vow kernel for elements of type T (float32, or uint16: BF16's bits)
// over rows four at a time, where the CPU has AVX2 and FMA, and returns how many rows it did.
func sumsRows4[T float32 | uint16](sum, sq, shift []float64, rows []T, width int) int {
	var zero T
	_, bf16 := any(zero).(uint16)
	wide := func(x T) float32 {
		if bf16 {
			return math.Float32frombits(uint32(uint16(x)) << 16)
		}
		return float32(x)
	}
	r := 0
	quads := width / 4
	if !hasAVX2 || !hasFMA || quads == 0 {
		return 0
	}
	var sh [4]float64
	var out [32]float64
	for ; r+4 <= len(sum); r += 4 {
		block := rows[r*width : (r+4)*width]
		for k := range 4 {
			sh[k] = float64(wide(block[k*width]))
		}
		if bf16 {
			sumsRows4BF16AVX2((*uint16)(unsafe.Pointer(&block[0])), width, quads, &sh, &out)
		} else {
			sumsRows4AVX2((*float32)(unsafe.Pointer(&block[0])), width, quads, &sh, &out)
		}
		// The elements past the last group of four go to lane 0, as in the Go kernel.
		for k := range 4 {
			shift[r+k] = sh[k]
			s, q := out[4*k:4*k+4], out[16+4*k:16+4*k+4]
			for _, x := range block[k*width+4*quads : (k+1)*width] {
				d := float64(wide(x)) - sh[k]
				s[0] += d
				q[0] = math.FMA(d, d, q[0])
			}
			sum[r+k], sq[r+k] = (s[0]+s[1])+(s[2]+s[3]), (q[0]+q[1])+(q[2]+q[3])
		}
	}
	return r
}
