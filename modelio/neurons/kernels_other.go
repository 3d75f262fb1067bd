//go:build !amd64

package neurons

// Without the AVX2 kernels of kernels_amd64.go, the Go kernels.

func peaks(v []float32) (float64, float64) { return peaksGo(v) }

func l1Rows(dst []float64, rows []float32, width int) { l1RowsGo(dst, rows, width) }

func sumsRows(sum, sq, shift []float64, rows []float32, width int) {
	sumsRowsGo(sum, sq, shift, rows, width)
}

func widenBF16(out []float32, src []uint16) { widenBF16Go(out, src) }

func peaksBF16(raw []uint16, buf []float32) (float64, float64) {
	widenBF16Go(buf[:len(raw)], raw)
	return peaksGo(buf[:len(raw)])
}

func l1RowsBF16(dst []float64, raw []uint16, width int, buf []float32) {
	for r := range dst {
		row := buf[:width]
		widenBF16Go(row, raw[r*width:(r+1)*width])
		dst[r] = l1(row)
	}
}

func sumsRowsBF16(sum, sq, shift []float64, raw []uint16, width int, buf []float32) {
	for r := range sum {
		row := buf[:width]
		widenBF16Go(row, raw[r*width:(r+1)*width])
		sumsRowsGo(sum[r:r+1], sq[r:r+1], shift[r:r+1], row, width)
	}
}
