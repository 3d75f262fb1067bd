package widgets

import (
	"image/color"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
)

// The sorted scores are orange up to the cut and grey after it, with the cut drawn as a line, whatever
// order the scores come in.
func TestNeuronChartCut(t *testing.T) {
	test.NewTempApp(t)
	scores := make([]float64, 100)
	for i := range scores {
		scores[i] = float64((i*37)%100 + 1) // 1..100, shuffled
	}
	c := NewNeuronChart()
	c.SetScores(scores, 40)
	if k, n := c.Cut(); k != 40 || n != 100 {
		t.Fatalf("cut %d of %d", k, n)
	}
	w := test.NewTempWindow(t, c)
	w.SetPadded(false)
	w.Resize(fyne.NewSize(200, neuronChartHeight))
	img := w.Canvas().Capture()
	h := img.Bounds().Dy()
	same := func(a, b color.Color) bool {
		r1, g1, b1, _ := a.RGBA()
		r2, g2, b2, _ := b.RGBA()
		return r1>>8 == r2>>8 && g1>>8 == g2>>8 && b1>>8 == b2>>8
	}
	for _, tc := range []struct {
		x, y int
		kept bool
		what string
	}{
		{10, h - 2, true, "the highest-scoring neurons"},
		{70, h - 2, true, "just before the cut"},
		{90, h - 2, false, "just after the cut"},
		{190, h - 2, false, "the lowest-scoring neurons"},
	} {
		if got := same(img.At(tc.x, tc.y), keptColour); got != tc.kept {
			t.Errorf("%s (x %d): %v, kept colour %v", tc.what, tc.x, img.At(tc.x, tc.y), tc.kept)
		}
	}
	// The highest neuron's column is full height; the lowest is short: the bars fall left to right.
	if same(img.At(190, 2), img.At(190, h-2)) || !same(img.At(2, 2), keptColour) {
		t.Error("the sorted scores do not fall from left to right")
	}
	// The cut line at rank 40 (x 80) crosses the chart's top, where no bar reaches after the peak.
	if same(img.At(80, 1), img.At(150, 1)) {
		t.Errorf("no cut line at x 80: %v, background %v", img.At(80, 1), img.At(150, 1))
	}
}
