package neurons

import (
	"math/rand/v2"
	"testing"
)

// The per-row kernels on one SmolLM2-135M row (576 weights), in cache: what scoring costs beyond the
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
