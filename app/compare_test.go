package app

import (
	"slices"
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// The differences table is headed by the models' names, has the rows a lecturer compares, and makes
// bold only the values that differ from the others.
func TestCompareTable(t *testing.T) {
	w := newTestWindow(t)
	five := []string{"llama-3.2-1b", "qwen3-0.6b", "gemma-3-270m", "phi-4-mini-instruct", "distilgpt2"}
	w.open(five, false)
	w.waitLoads()
	rows := map[string]diffRow{}
	var labels []string
	for _, r := range summary(w.models) {
		rows[r.label] = r
		labels = append(labels, r.label)
	}
	for _, want := range []string{"head dim", "vocabulary", "context", "positions", "norm", "tied embed.", "per block"} {
		if _, ok := rows[want]; !ok {
			t.Errorf("no %q row in %v", want, labels)
		}
	}
	for _, tc := range []struct {
		row  string
		want []string
		odd  []bool
	}{
		{"mlp", []string{"GLU", "GLU", "GLU", "GLU", "classic"}, []bool{false, false, false, false, true}},
		{"head dim", []string{"64", "128", "256", "128", "64"}, []bool{true, true, true, true, true}},
		{"positions", []string{"RoPE", "RoPE", "RoPE", "partial RoPE 75%", "learned"}, []bool{false, false, false, true, true}},
		{"vocabulary", []string{"128.3 K", "151.9 K", "262.1 K", "200.1 K", "50.3 K"}, []bool{true, true, true, true, true}},
	} {
		r := rows[tc.row]
		if !slices.Equal(r.values, tc.want) || !slices.Equal(r.odd(), tc.odd) {
			t.Errorf("%s: %q, bold %v; want %q, bold %v", tc.row, r.values, r.odd(), tc.want, tc.odd)
		}
	}
	// The header row names the models.
	var texts []string
	for _, o := range test.LaidOutObjects(w.compare.box) {
		if rt, ok := o.(*widget.RichText); ok {
			texts = append(texts, rt.String())
		}
	}
	for _, name := range five {
		if !slices.Contains(texts, name) {
			t.Errorf("the table has no heading %q: %q", name, texts)
		}
	}
}
