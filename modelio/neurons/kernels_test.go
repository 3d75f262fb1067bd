package neurons

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The row kernels that feedRows calls (AVX2 where the CPU has it) against the Go kernels, bit for
// bit, on every length around the vector widths, row counts that leave remainders, and rows with
// zeros of both signs, NaN and infinities.
func TestKernelsMatchGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	type special struct {
		name string
		x    float32
	}
	specials := []special{
		{"none", 0}, {"NaN", float32(math.NaN())}, {"+Inf", float32(math.Inf(1))},
		{"-Inf", float32(math.Inf(-1))}, {"-0", float32(math.Copysign(0, -1))},
	}
	for _, width := range []int{1, 2, 3, 4, 5, 7, 8, 31, 32, 33, 63, 64, 65, 95, 127, 576, 1537} {
		for _, rowsN := range []int{1, 3, 4, 5, 8, 9} {
			for _, sp := range specials {
				rows := make([]float32, rowsN*width)
				for i := range rows {
					rows[i] = float32(rng.NormFloat64()*0.02 + 0.5*float64(i%3))
				}
				if sp.name != "none" {
					rows[rng.IntN(len(rows))] = sp.x
				}
				for r := range rowsN {
					row := rows[r*width : (r+1)*width]
					gotMax, gotMin := peaks(row)
					wantMax, wantMin := peaksGo(row)
					if !same(gotMax, wantMax) || !same(gotMin, wantMin) {
						t.Fatalf("width %d, %s: peaks = %v, %v; Go kernel %v, %v", width, sp.name, gotMax, gotMin, wantMax, wantMin)
					}
				}
				got, want := make([]float64, rowsN), make([]float64, rowsN)
				l1Rows(got, rows, width)
				l1RowsGo(want, rows, width)
				for r := range got {
					if !exact(got[r], want[r]) {
						t.Fatalf("width %d, %d rows, %s: l1 of row %d = %v, Go kernel %v", width, rowsN, sp.name, r, got[r], want[r])
					}
				}
				gs, gq, gh := make([]float64, rowsN), make([]float64, rowsN), make([]float64, rowsN)
				ws, wq, wh := make([]float64, rowsN), make([]float64, rowsN), make([]float64, rowsN)
				sumsRows(gs, gq, gh, rows, width)
				sumsRowsGo(ws, wq, wh, rows, width)
				for r := range gs {
					if !exact(gs[r], ws[r]) || !exact(gq[r], wq[r]) || !exact(gh[r], wh[r]) {
						t.Fatalf("width %d, %d rows, %s: shifted sums of row %d = %v, %v (shift %v); Go kernel %v, %v (%v)",
							width, rowsN, sp.name, r, gs[r], gq[r], gh[r], ws[r], wq[r], wh[r])
					}
				}
			}
		}
	}
}

// same is equality with NaN equal to NaN (peaks may give either zero for a row of zeros).
func same(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }

// exact is the same bits, or both NaN.
func exact(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b) || math.IsNaN(a) && math.IsNaN(b)
}

// The BF16 widening (AVX2 where the CPU has it) against the Go loop, for every length around the
// block of 16 and every bit pattern's top half class (NaN, infinities, subnormals, both zeros).
func TestWidenBF16MatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := range 70 {
		src := make([]uint16, n)
		for i := range src {
			src[i] = uint16(rng.Uint32())
		}
		if n > 4 {
			src[0], src[1], src[2], src[3], src[4] = 0x7fc0, 0xff80, 0x0001, 0x8000, 0x7f80
		}
		got, want := make([]float32, n), make([]float32, n)
		widenBF16(got, src)
		widenBF16Go(want, src)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("length %d: element %d (0x%04x) widened to 0x%08x, want 0x%08x", n, i, src[i], math.Float32bits(got[i]), math.Float32bits(want[i]))
			}
		}
	}
}

// The BF16 kernels of ppm, pon and vow, which widen in their registers, against the Go kernels on the
// widened rows, bit for bit, with NaN, infinities and both zeros among random bit patterns.
func TestBF16KernelsMatchGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	specials := []uint16{0x7fc0, 0x7f80, 0xff80, 0x8000, 0x0000}
	for _, width := range []int{1, 3, 4, 5, 31, 32, 33, 64, 65, 127, 576} {
		for _, rowsN := range []int{1, 4, 5, 9} {
			for sp := -1; sp < len(specials); sp++ {
				raw := make([]uint16, rowsN*width)
				for i := range raw {
					raw[i] = uint16(math.Float32bits(float32(rng.NormFloat64()*0.02)) >> 16)
				}
				if sp >= 0 {
					raw[rng.IntN(len(raw))] = specials[sp]
				}
				wide := make([]float32, len(raw))
				widenBF16Go(wide, raw)
				buf := make([]float32, width)
				for r := range rowsN {
					gotMax, gotMin := peaksBF16(raw[r*width:(r+1)*width], buf)
					wantMax, wantMin := peaksGo(wide[r*width : (r+1)*width])
					if !same(gotMax, wantMax) || !same(gotMin, wantMin) {
						t.Fatalf("width %d, special %d: peaks = %v, %v; Go kernel %v, %v", width, sp, gotMax, gotMin, wantMax, wantMin)
					}
				}
				gs, gq, gh := make([]float64, rowsN), make([]float64, rowsN), make([]float64, rowsN)
				ws, wq, wh := make([]float64, rowsN), make([]float64, rowsN), make([]float64, rowsN)
				sumsRowsBF16(gs, gq, gh, raw, width, buf)
				sumsRowsGo(ws, wq, wh, wide, width)
				for r := range gs {
					if !exact(gs[r], ws[r]) || !exact(gq[r], wq[r]) || !exact(gh[r], wh[r]) {
						t.Fatalf("width %d, %d rows, special %d: shifted sums of row %d = %v, %v (shift %v); Go kernel %v, %v (%v)",
							width, rowsN, sp, r, gs[r], gq[r], gh[r], ws[r], wq[r], wh[r])
					}
				}
				got, want := make([]float64, rowsN), make([]float64, rowsN)
				l1RowsBF16(got, raw, width, buf)
				l1RowsGo(want, wide, width)
				for r := range got {
					if !exact(got[r], want[r]) {
						t.Fatalf("width %d, %d rows, special %d: l1 of row %d = %v, Go kernel %v", width, rowsN, sp, r, got[r], want[r])
					}
				}
			}
		}
	}
}
