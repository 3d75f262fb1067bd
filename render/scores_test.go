package render_test

import (
	"math"
	"os"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/render"
)

func TestScoreColor(t *testing.T) {
	for _, tc := range []struct {
		t    float64
		want string
	}{
		{0, "#440154"},   // viridis' dark purple
		{1, "#fde725"},   // its yellow
		{0.5, "#21918c"}, // its teal, a stop
		{-3, "#440154"},  // clamped
		{7, "#fde725"},
		{math.NaN(), "#440154"},
		{0.05, "#461365"}, // halfway between the first two stops
	} {
		if got := render.ScoreColor(tc.t); got != tc.want {
			t.Errorf("ScoreColor(%v) = %s, want %s", tc.t, got, tc.want)
		}
	}
}

func TestFormatScore(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{0.0123456, "0.0123"},
		{0.41234, "0.412"},
		{2.3456, "2.35"},
		{-0.5, "-0.500"},
		{123.4, "123"},
		{0.00012, "1.2e-04"},
		{0, "0"},
		{math.NaN(), "—"},
		{math.Inf(1), "—"},
	} {
		if got := render.FormatScore(tc.v); got != tc.want {
			t.Errorf("FormatScore(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestScoresShade(t *testing.T) {
	s := render.Scores{Values: []float64{0.2, 0.1, math.NaN(), 0.3}}
	for _, tc := range []struct {
		block int
		want  string
		ok    bool
	}{
		{1, "#440154", true}, // the lowest
		{3, "#fde725", true}, // the highest
		{0, "#21918c", true}, // halfway
		{2, "", false},       // no score
		{9, "", false},
	} {
		got, ok := s.Shade(tc.block)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Shade(%d) = %q, %v; want %q, %v", tc.block, got, ok, tc.want, tc.ok)
		}
	}
	if got, _ := (render.Scores{Values: []float64{1, 1}}).Shade(0); got != "#21918c" {
		t.Errorf("equal scores shade %s, want the middle of the scale", got)
	}
}

// llamaScores gives llama-3.2-1b's 16 blocks scores falling from block 0, and marks two candidates.
func llamaScores() render.Scores {
	v := make([]float64, 16)
	for i := range v {
		v[i] = 0.05 + 0.02*float64(i%5)
	}
	v[0], v[15] = 0.6, 0.3
	return render.Scores{Metric: "BI", Values: v, Candidates: []int{5, 10}}
}

func TestLayoutShadesScoredBlocks(t *testing.T) {
	m := load(t, llama1B)
	s := llamaScores()
	d := render.Layout([]render.Model{m}, render.Options{Scores: map[int]render.Scores{0: s}})

	cards := map[int]render.Item{}
	outlines := 0
	for _, it := range d.Items {
		if it.Kind == render.KindCard && it.Ref.What == render.RefCard {
			if it.Ref.Start != it.Ref.End {
				t.Fatalf("a scored model still has a folded card: blocks %d–%d", it.Ref.Start, it.Ref.End)
			}
			cards[it.Ref.Start] = it
		}
		if it.Kind == render.KindCard && it.Stroke == render.CandidateStroke && it.Ref.What == render.RefNone && it.H >= 30 {
			outlines++
		}
	}
	if len(cards) != 16 {
		t.Fatalf("%d cards, want one per block (16)", len(cards))
	}
	if outlines != 2 {
		t.Errorf("%d candidate outlines, want 2", outlines)
	}
	// Block 5 is drawn compact (same widths as block 0), so its whole card carries the shade.
	if want, _ := s.Shade(5); cards[5].Fill != want {
		t.Errorf("block 5's card fill %s, want its shade %s", cards[5].Fill, want)
	}
	if !strings.Contains(cards[5].Tip, "BI 0.0500 · pruning candidate") {
		t.Errorf("block 5's tip %q names neither its score nor its mark", cards[5].Tip)
	}
	// Block 0 is drawn in full: its header band carries the shade.
	shade0, _ := s.Shade(0)
	band := false
	for _, it := range d.Items {
		if it.Kind == render.KindBar && it.Fill == shade0 && it.Ref == cards[0].Ref {
			band = true
		}
	}
	if !band {
		t.Error("block 0's header has no band in its shade")
	}
	var texts []string
	for _, it := range d.Items {
		if it.Kind == render.KindText && it.Ref.What == render.RefNone {
			texts = append(texts, it.Text)
		}
	}
	legend := strings.Join(texts, "|")
	for _, want := range []string{"importance: BI", "0.0500", "0.600", "pruning candidate"} {
		if !strings.Contains(legend, want) {
			t.Errorf("the legend %q lacks %q", legend, want)
		}
	}
	if os.Getenv("LAYERSCOPE_SCORES_PNG") != "" {
		f, _ := os.Create(os.Getenv("LAYERSCOPE_SCORES_PNG"))
		d.PNG(f, 1)
		f.Close()
	}
}

// Scores that do not fit the model's blocks are left out, and the model draws as without them.
func TestLayoutIgnoresMismatchedScores(t *testing.T) {
	m := load(t, llama1B)
	plain := render.Layout([]render.Model{m}, render.Options{})
	bad := render.Layout([]render.Model{m}, render.Options{Scores: map[int]render.Scores{
		0: {Metric: "BI", Values: []float64{1, 2, 3}},
		3: llamaScores(), // no model 3
	}})
	if len(plain.Items) != len(bad.Items) || plain.Height != bad.Height {
		t.Errorf("mismatched scores changed the drawing: %d items, %.0f high; want %d, %.0f",
			len(bad.Items), bad.Height, len(plain.Items), plain.Height)
	}
}
