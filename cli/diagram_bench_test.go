package cli_test

import (
	"testing"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/gallery"
	"github.com/layerscope/layerscope/render"
)

// BenchmarkOpenToPixels is what a first-time user waits for: opening the default gallery model until its
// stack is laid out and rasterised at scale 1, the picture the window shows. Target: under 300 ms.
func BenchmarkOpenToPixels(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		m, err := modelio.Open(gallery.Default)
		if err != nil {
			b.Fatal(err)
		}
		d := render.Layout([]render.Model{{Name: m.Name, Params: m.Spec.Root.NumParams(), Arch: m.Arch}}, render.Options{})
		if img := d.Image(1); img.Bounds().Dx() == 0 {
			b.Fatal("empty image")
		}
	}
}

// BenchmarkCompareFiveToPixels opens five gallery models and draws them side by side, as "Add to
// comparison" does for the fifth.
func BenchmarkCompareFiveToPixels(b *testing.B) {
	names := []string{"llama-3.2-1b", "qwen3-0.6b", "gemma-3-270m", "phi-4-mini-instruct", "distilgpt2"}
	b.ReportAllocs()
	for b.Loop() {
		var ms []render.Model
		for _, n := range names {
			m, err := modelio.Open(n)
			if err != nil {
				b.Fatal(err)
			}
			ms = append(ms, render.Model{Name: m.Name, Params: m.Spec.Root.NumParams(), Arch: m.Arch})
		}
		render.Layout(ms, render.Options{}).Image(1)
	}
}
