package widgets

import (
	"image"
	"image/color"
	"math"
	"slices"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

var _ fyne.Widget = (*NeuronChart)(nil)

// neuronChartHeight is tall enough to see the fall of the sorted scores, short enough for the strip
// above the stack.
const neuronChartHeight = 56

// Colours of the kept and removed neurons: the MLP's orange (render's up_proj) and the theme's
// disabled grey; the cut is a line in the foreground colour.
var keptColour = color.NRGBA{R: 0xe6, G: 0x9f, B: 0x00, A: 0xff}

// NeuronChart draws one MLP's neuron scores sorted from the highest down, one column per rank (several
// ranks share a column when there are more neurons than pixels: the column shows their highest), the
// kept neurons in orange, the removed ones in grey, and the cut between them as a line.
type NeuronChart struct {
	widget.BaseWidget

	sorted []float64 // descending
	kept   int
}

// NewNeuronChart returns an empty chart.
func NewNeuronChart() *NeuronChart {
	c := &NeuronChart{}
	c.ExtendBaseWidget(c)
	return c
}

// SetScores shows scores (one per neuron, in any order) with the kept highest ones marked. NaN scores
// rank lowest and draw as zero.
func (c *NeuronChart) SetScores(scores []float64, kept int) {
	c.sorted = slices.Clone(scores)
	for i, v := range c.sorted {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			c.sorted[i] = 0
		}
	}
	slices.Sort(c.sorted)
	slices.Reverse(c.sorted)
	c.kept = max(0, min(kept, len(scores)))
	c.Refresh()
}

// Cut returns the kept count and the number of neurons.
func (c *NeuronChart) Cut() (kept, total int) { return c.kept, len(c.sorted) }

// CreateRenderer is part of fyne.Widget.
func (c *NeuronChart) CreateRenderer() fyne.WidgetRenderer {
	c.ExtendBaseWidget(c)
	r := &neuronChartRenderer{c: c}
	r.raster = canvas.NewRaster(r.draw)
	return r
}

type neuronChartRenderer struct {
	c      *NeuronChart
	raster *canvas.Raster
}

// draw paints the chart at w×h pixels.
func (r *neuronChartRenderer) draw(w, h int) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, max(w, 1), max(h, 1)))
	s := r.c.sorted
	if len(s) == 0 || w <= 0 || h <= 0 {
		return img
	}
	top := s[0]
	bottom := math.Min(0, s[len(s)-1])
	span := top - bottom
	if span <= 0 {
		span = 1
	}
	removed := theme.Color(theme.ColorNameDisabled)
	line := theme.Color(theme.ColorNameForeground)
	cut := -1
	for x := range w {
		lo := x * len(s) / w
		hi := max(lo+1, (x+1)*len(s)/w)
		v := s[lo] // the column's highest: the sort is descending
		fill := color.Color(keptColour)
		if lo >= r.c.kept {
			fill = removed
		}
		if lo < r.c.kept && hi > r.c.kept || (lo == r.c.kept && cut < 0) {
			cut = x
		}
		bar := int(math.Round((v - bottom) / span * float64(h)))
		for y := h - max(bar, 1); y < h; y++ {
			img.Set(x, y, fill)
		}
	}
	if cut >= 0 && r.c.kept < len(s) {
		for y := range h {
			img.Set(cut, y, line)
		}
	}
	return img
}

func (r *neuronChartRenderer) Layout(size fyne.Size) { r.raster.Resize(size) }

func (r *neuronChartRenderer) MinSize() fyne.Size {
	return fyne.NewSize(chartMinWidth, neuronChartHeight)
}

func (r *neuronChartRenderer) Refresh() { canvas.Refresh(r.raster) }

func (r *neuronChartRenderer) Objects() []fyne.CanvasObject { return []fyne.CanvasObject{r.raster} }

func (r *neuronChartRenderer) Destroy() {}
