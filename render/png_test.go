package render_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"testing"

	"github.com/layerscope/layerscope/render"
)

func TestPNG(t *testing.T) {
	for _, theme := range []render.Theme{render.Light, render.Dark} {
		d := render.Layout(loadAll(t, llama1B, phi4), render.Options{Theme: theme})
		for _, scale := range []float64{1, 2} {
			var buf bytes.Buffer
			if err := d.PNG(&buf, scale); err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(&buf)
			if err != nil {
				t.Fatalf("%s ×%g: %v", theme.Name, scale, err)
			}
			w, h := int(math.Ceil(d.Width*scale)), int(math.Ceil(d.Height*scale))
			if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
				t.Fatalf("%s ×%g: %v, want %d×%d", theme.Name, scale, b, w, h)
			}
			// The corner is the background; the middle of q_proj's bar is its colour.
			if got, want := rgb(img.At(1, 1)), d.Background; got != want {
				t.Errorf("%s ×%g: corner %s, want background %s", theme.Name, scale, got, want)
			}
			q := bar(t, d, 0, "model.layers.0.self_attn.q_proj")
			if got := rgb(img.At(int((q.X+q.W/2)*scale), int((q.Y+2)*scale))); got != q.Fill {
				t.Errorf("%s ×%g: q_proj bar pixel %s, want %s", theme.Name, scale, got, q.Fill)
			}
			// Labels are drawn: some pixels of the title's box differ from the background.
			if inked(img, d, scale) == 0 {
				t.Errorf("%s ×%g: no ink in the title", theme.Name, scale)
			}
		}
	}
}

func rgb(c color.Color) string {
	r, g, b, _ := c.RGBA()
	const hex = "0123456789abcdef"
	out := []byte{'#'}
	for _, v := range []uint32{r >> 8, g >> 8, b >> 8} {
		out = append(out, hex[v>>4], hex[v&15])
	}
	return string(out)
}

func inked(img image.Image, d *render.Diagram, scale float64) int {
	for _, it := range d.Items {
		if it.Kind != render.KindText || it.Ref.What != render.RefModel {
			continue
		}
		n := 0
		for y := int(it.Y * scale); y < int((it.Y+it.H)*scale); y++ {
			for x := int(it.X * scale); x < int((it.X+it.W)*scale); x++ {
				if rgb(img.At(x, y)) != d.Background {
					n++
				}
			}
		}
		return n
	}
	return 0
}

func BenchmarkLayoutLlama31_8B(b *testing.B) {
	models := loadAll(b, llama8B)
	b.ReportAllocs()
	for b.Loop() {
		render.Layout(models, render.Options{})
	}
}

func BenchmarkLayoutFiveModels(b *testing.B) {
	models := loadAll(b, llama1B, phi4, gemma270, qwen3, gpt2)
	b.ReportAllocs()
	for b.Loop() {
		render.Layout(models, render.Options{})
	}
}

// BenchmarkPNG is one frame: layout and rasterisation of five models at scale 1, as a toolkit-free
// preview redraws it. The target is under 16 ms.
func BenchmarkPNG(b *testing.B) {
	models := loadAll(b, llama1B, phi4, gemma270, qwen3, gpt2)
	d := render.Layout(models, render.Options{})
	img := image.NewRGBA(image.Rect(0, 0, int(math.Ceil(d.Width)), int(math.Ceil(d.Height))))
	b.ReportAllocs()
	for b.Loop() {
		render.Layout(models, render.Options{}).Draw(img, 1)
	}
}

// BenchmarkPNGExport is a whole 2× export: layout, rasterisation and PNG encoding.
func BenchmarkPNGExport(b *testing.B) {
	models := loadAll(b, llama1B, phi4, gemma270, qwen3, gpt2)
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := render.Layout(models, render.Options{}).PNG(&buf, 2); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSVG(b *testing.B) {
	models := loadAll(b, llama1B, phi4, gemma270, qwen3, gpt2)
	d := render.Layout(models, render.Options{})
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := d.SVG(&buf); err != nil {
			b.Fatal(err)
		}
	}
}
