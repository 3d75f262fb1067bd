//go:build !amd64

package neurons

// Without the AVX2 kernels of kernels_amd64.go, the Go kernels.

func peaks(v []float32) (float64, float64) { return peaksGo(v) }

func l1Rows(dst []float64, rows []float32, width int) { l1RowsGo(dst, rows, width) }

func sumsRows(sum, sq, shift []float64, rows []float32, width int) {
	sumsRowsGo(sum, sq, shift, rows, width)
}

func widenBF16(out []float32, src []uint16) { widenBF16Go(out, src) }
