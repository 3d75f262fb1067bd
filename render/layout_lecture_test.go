package render_test

import (
	"strings"
	"testing"

	"github.com/layerscope/layerscope/render"
)

// Columns compared side by side label their bars alike, at every width: all "q_proj 1024 → 2048" or all
// "q 2048", never both on one screen.
func TestBarLabelsAlikeAcrossColumns(t *testing.T) {
	five := loadAll(t, llama1B, qwen3, gemma270, phi4, gpt2)
	for _, width := range []float64{1160, 1280, 1680, 1920} {
		for _, tight := range []bool{false, true} {
			d := render.Layout(five, render.Options{Width: width, Tight: tight})
			style := map[string]int{} // "long" (with the arrow) or "short", counted
			for _, it := range d.Items {
				if it.Kind != render.KindText || it.Ref.What != render.RefPart || it.Ref.Start < 0 ||
					!strings.Contains(it.Ref.Path, "proj") && !strings.Contains(it.Ref.Path, "c_") {
					continue
				}
				if strings.Contains(it.Text, "·") { // q_norm · k_norm: not a projection label
					continue
				}
				if strings.Contains(it.Text, "→") {
					style["long"]++
				} else {
					style["short"]++
				}
			}
			if len(style) != 1 {
				t.Errorf("width %v (tight %v): bar labels in two styles: %v", width, tight, style)
			}
		}
	}
}

// A label inside a fused bar never runs across the hairline between its parts (Phi-4-mini's gate_up
// beside four other models).
func TestLabelsStayInTheirPart(t *testing.T) {
	five := loadAll(t, llama1B, qwen3, gemma270, phi4, gpt2)
	for _, width := range []float64{1160, 1280, 1680, 1920} {
		d := render.Layout(five, render.Options{Width: width})
		var hairlines []render.Item
		for _, it := range d.Items {
			if it.Kind == render.KindLine && it.H < 40 && it.W < 2 && it.Ref.What == render.RefNone && it.Y > 0 {
				hairlines = append(hairlines, it)
			}
		}
		for _, it := range d.Items {
			if it.Kind != render.KindText || it.Ref.What != render.RefPart {
				continue
			}
			for _, h := range hairlines {
				sameRow := it.Y < h.Y+h.H && h.Y < it.Y+it.H
				if sameRow && it.X < h.X && it.X+it.W > h.X+h.W {
					t.Errorf("width %v: %q (x %.0f–%.0f) runs across the part boundary at x %.0f", width, it.Text, it.X, it.X+it.W, h.X)
				}
			}
		}
	}
}

// The embeddings and the LM head span the column whatever their width: the legend says so.
func TestLegendSaysWideBarsAreNotToScale(t *testing.T) {
	d := render.Layout(loadAll(t, gpt2), render.Options{})
	var wte, wpe float64
	for _, it := range d.Items {
		if it.Kind == render.KindBar && it.Ref.Path == "transformer.wte" {
			wte = it.W
		}
		if it.Kind == render.KindBar && it.Ref.Path == "transformer.wpe" {
			wpe = it.W
		}
	}
	found := false
	for _, it := range d.Items {
		found = found || (it.Kind == render.KindText && strings.Contains(it.Text, "not to scale"))
	}
	if wte == wpe && !found {
		t.Errorf("wte (50257 rows) and wpe (1024) are both %.0f long and the legend does not say why", wte)
	}
}

// Block 0's outlier does not flatten the rest to one shade: the shading is by rank, and the legend
// says so.
func TestShadeByRank(t *testing.T) {
	s := render.Scores{Metric: "BI", Values: []float64{5, 0.10, 0.11, 0.12, 0.13, 0.13}}
	seen := map[string]int{}
	for i := range s.Values {
		c, ok := s.Shade(i)
		if !ok {
			t.Fatalf("block %d has no shade", i)
		}
		seen[c]++
	}
	if len(seen) != 5 || seen[func() string { c, _ := s.Shade(4); return c }()] != 2 {
		t.Errorf("six scores, two of them equal, got %d shades: %v", len(seen), seen)
	}
	lo, _ := s.Shade(1)
	hi, _ := s.Shade(0)
	if lo != render.ScoreColor(0) || hi != render.ScoreColor(1) {
		t.Errorf("the lowest is %s and the highest %s, want the scale's ends", lo, hi)
	}
	m := loadAll(t, llama1B)
	d := render.Layout(m, render.Options{Scores: map[int]render.Scores{0: {Metric: "BI", Values: make([]float64, 16)}}})
	found := false
	for _, it := range d.Items {
		found = found || (it.Kind == render.KindText && strings.Contains(it.Text, "by rank"))
	}
	if !found {
		t.Error("the legend does not say the shading is by rank")
	}
}
