package neurons

import (
	"math/rand/v2"
	"testing"
)

// The per-row kernels on one SmolLM2-135M row (576 weights), in cache (peaks is AVX2 where the CPU
// has it, l1 and shiftedSums the Go kernels): what scoring costs beyond the
// reading (BenchmarkWidthScore in modelio/prune measures the whole on a real-size file).
func benchRow(b *testing.B, fn func([]float32)) {
	v := make([]float32, 576)
	for i := range v {
		v[i] = float32(rand.NormFloat64())
	}
	b.SetBytes(int64(4 * len(v)))
	for b.Loop() {
		fn(v)
	}
}

func BenchmarkRowPeaks(b *testing.B) { benchRow(b, func(v []float32) { peaks(v) }) }
func BenchmarkRowL1(b *testing.B)    { benchRow(b, func(v []float32) { l1(v) }) }
func BenchmarkRowSums(b *testing.B)  { benchRow(b, func(v []float32) { shiftedSums(v, float64(v[0])) }) }

// The same kernels as feedRows calls them, 16 rows at a time (AVX2 where the CPU has it).
func benchRows(b *testing.B, fn func(dst []float64, rows []float32)) {
	rows := make([]float32, 16*576)
	for i := range rows {
		rows[i] = float32(rand.NormFloat64())
	}
	dst := make([]float64, 3*16)
	b.SetBytes(int64(4 * len(rows)))
	for b.Loop() {
		fn(dst, rows)
	}
}

func BenchmarkRows16L1(b *testing.B) {
	benchRows(b, func(dst []float64, rows []float32) { l1Rows(dst[:16], rows, 576) })
}

func BenchmarkRows16Sums(b *testing.B) {
	benchRows(b, func(dst []float64, rows []float32) { sumsRows(dst[:16], dst[16:32], dst[32:], rows, 576) })
}
