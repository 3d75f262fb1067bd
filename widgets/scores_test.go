package widgets

import (
	"math"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"

	"github.com/layerscope/layerscope/render"
)

// testScores are 16 scores like a BI run's: high at the ends, low in the middle, two marked.
func testScores() render.Scores {
	v := []float64{0.61, 0.21, 0.12, 0.09, 0.08, 0.05, 0.07, 0.06, 0.08, 0.07, 0.04, 0.06, 0.09, 0.11, 0.14, 0.32}
	return render.Scores{Metric: "BI", Values: v, Candidates: []int{5, 10}}
}

// The stack the window draws after a run: every block on its own card, shaded on the viridis scale,
// the candidates outlined, the importance key in the legend.
func TestDiagramViewScoresGolden(t *testing.T) {
	v := newView(t, "llama-3.2-1b")
	test.WithTestTheme(t, func() {
		v.SetOptions(render.Options{Scores: map[int]render.Scores{0: testScores()}})
		assertImageClose(t, "diagramview_scores.png", capture(t, v))
	})
}

func TestScoreChartGolden(t *testing.T) {
	test.NewTempApp(t)
	s := testScores()
	s.Values = append([]float64(nil), s.Values...)
	s.Values[3] = -0.05 // ΔNLL can fall below zero: the bar hangs below the zero line
	c := NewScoreChart()
	c.SetScores(s)
	test.WithTestTheme(t, func() {
		w := test.NewTempWindow(t, c)
		w.SetPadded(false)
		w.Resize(fyne.NewSize(320, chartHeight))
		assertImageClose(t, "scorechart.png", w.Canvas().Capture())
	})
}

func TestScoreChartTapAndHover(t *testing.T) {
	test.NewTempApp(t)
	c := NewScoreChart()
	c.SetScores(testScores())
	w := test.NewTempWindow(t, c)
	w.SetPadded(false)
	w.Resize(fyne.NewSize(320, chartHeight))
	x, y, pw, ph := c.plot(c.Size())
	col := pw / 16
	var tapped []int
	c.OnTapped = func(b int) { tapped = append(tapped, b) }
	for _, b := range []int{0, 5, 15} {
		test.TapAt(c, fyne.NewPos(x+col*(float32(b)+0.5), y+ph/2))
	}
	test.TapAt(c, fyne.NewPos(x/2, y+ph/2)) // on the axis labels: no block
	if len(tapped) != 3 || tapped[0] != 0 || tapped[1] != 5 || tapped[2] != 15 {
		t.Errorf("taps reported blocks %v, want [0 5 15]", tapped)
	}

	r := test.WidgetRenderer(c).(*scoreChartRenderer)
	c.MouseMoved(&desktop.MouseEvent{PointEvent: fyne.PointEvent{Position: fyne.NewPos(x+col*5.5, y+ph/2)}})
	if got, want := r.caption.Text, "block 5: BI 0.0500 · marked for removal"; got != want {
		t.Errorf("hover caption %q, want %q", got, want)
	}
	c.MouseOut()
	if got := r.caption.Text; got != "BI by block" {
		t.Errorf("caption after the pointer left %q", got)
	}
	// A shorter run replaces the bars; a block without a score has no bar.
	c.SetScores(render.Scores{Metric: "angular n=2", Values: []float64{0.3, 0.2, math.NaN()}})
	if len(r.bars) != 3 || !r.bars[2].Hidden || r.bars[0].Hidden {
		t.Errorf("%d bars after a 3-block run; hidden: %v %v", len(r.bars), r.bars[0].Hidden, r.bars[2].Hidden)
	}
}
