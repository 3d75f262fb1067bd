package render_test

import (
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/config"
	"github.com/layerscope/layerscope/render"
)

// narrowed is a gallery model with its intermediate_size set to width, as a width pruning leaves it,
// with the former widths of its MLP projections in Former and FormerIn.
func narrowed(t *testing.T, stem string, width int64) render.Model {
	return narrowedBy(t, stem, "intermediate_size", width)
}

// narrowedBy is narrowed for a family whose MLP width has another config.json key (GPT-2's n_inner,
// OPT's ffn_dim).
func narrowedBy(t *testing.T, stem, key string, width int64) render.Model {
	t.Helper()
	full := load(t, stem)
	cfg, err := config.ReadFile(filepath.Join("..", "modelio", "gallery", "configs", stem+".config.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.With(key, json.Number(itoa(int(width))))
	f, _ := arch.Lookup(cfg.String("model_type", ""))
	spec, err := f.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := render.Model{Name: full.Name, Params: spec.Root.NumParams(), Arch: arch.Describe(spec),
		Former: map[string]int64{}, FormerIn: map[string]int64{}}
	for _, b := range full.Arch.Blocks {
		for _, p := range b.Parts {
			switch p.Role {
			case arch.RoleGate, arch.RoleUp, arch.RoleGateUp:
				m.Former[p.Path] = p.Out
			case arch.RoleDown:
				m.FormerIn[p.Path] = p.In
			}
		}
	}
	return m
}

// inputLine returns the thin input-width line under the bar at path and its dashed outline; nil when
// the diagram draws none.
func inputLine(d *render.Diagram, path string) (line, outline *render.Item) {
	for i := range d.Items {
		it := &d.Items[i]
		if it.Kind != render.KindLine || it.Ref.Path != path {
			continue
		}
		switch {
		case it.Fill == "" && it.Stroke != "" && it.Dashed && outline == nil:
			outline = it
		case it.Fill != "" && line == nil:
			line = it
		}
	}
	return line, outline
}

// A projection whose input was cut (down_proj, fc2, GPT-2's c_proj) keeps its bar, the output width,
// and gets a thin line under it as long as its kept input width on the shared scale, over a dashed
// outline of its former input width; none in the full model.
func TestFormerInputLine(t *testing.T) {
	tests := []struct {
		stem, key   string
		kept        int64
		down        string // the projection whose input was cut
		out, former int64  // its output width, its input width before
	}{
		{llama1B, "intermediate_size", 4916, "model.layers.0.mlp.down_proj", 2048, 8192},
		{phi4, "intermediate_size", 4096, "model.layers.0.mlp.down_proj", 3072, 8192},
		{gpt2, "n_inner", 1843, "transformer.h.0.mlp.c_proj", 768, 3072},
		{"facebook__opt-125m", "ffn_dim", 1843, "model.decoder.layers.0.fc2", 768, 3072},
	}
	for _, tt := range tests {
		full := render.Layout([]render.Model{load(t, tt.stem)}, render.Options{})
		if l, o := inputLine(full, tt.down); l != nil || o != nil {
			t.Errorf("%s: the full model draws an input line under %s", tt.stem, tt.down)
		}
		d := render.Layout([]render.Model{narrowedBy(t, tt.stem, tt.key, tt.kept)}, render.Options{})
		b := bar(t, d, 0, tt.down)
		if want := float64(tt.out) * d.Scale; math.Abs(b.W-want) > 0.01 {
			t.Errorf("%s %s: bar %.2f, want its output %d × scale = %.2f", tt.stem, tt.down, b.W, tt.out, want)
		}
		line, outline := inputLine(d, tt.down)
		if line == nil || outline == nil {
			t.Fatalf("%s %s: input line %v, outline %v", tt.stem, tt.down, line, outline)
		}
		if want := float64(tt.kept) * d.Scale; math.Abs(line.W-want) > 0.01 {
			t.Errorf("%s %s: input line %.2f, want the kept %d × scale = %.2f", tt.stem, tt.down, line.W, tt.kept, want)
		}
		if want := float64(tt.former) * d.Scale; math.Abs(outline.W-want) > 0.01 {
			t.Errorf("%s %s: input outline %.2f, want the former %d × scale = %.2f", tt.stem, tt.down, outline.W, tt.former, want)
		}
		// Thin, under the bar, from its left end, and inside the card: not a second bar.
		if line.H > b.H/4 || line.Y < b.Y+b.H || line.X != b.X || outline.X != b.X || math.Abs(outline.Y-line.Y) > 1 {
			t.Errorf("%s %s: line %+v, outline %+v, bar %+v: want a thin line under the bar", tt.stem, tt.down, *line, *outline, b)
		}
		card := cards(d, 0)[0]
		if outline.X+outline.W > card.X+card.W+0.01 || outline.Y+outline.H > card.Y+card.H {
			t.Errorf("%s: the former input outline (%.1f..%.1f, y %.1f) leaves the card (%.1f..%.1f, bottom %.1f)",
				tt.stem, outline.X, outline.X+outline.W, outline.Y+outline.H, card.X, card.X+card.W, card.Y+card.H)
		}
		if !strings.Contains(b.Tip, fmt.Sprintf("input %d wide, %d before width pruning", tt.kept, tt.former)) {
			t.Errorf("%s %s: tip %q does not give the input widths", tt.stem, tt.down, b.Tip)
		}
		if !hasText(d, "thin line: input width") || hasText(full, "thin line: input width") {
			t.Errorf("%s: the legend should name the input line in the narrowed model only", tt.stem)
		}
		// The PNG (and the window, which draws the same way): the down colour under the bar's end, past
		// it along the kept input, and not past the kept input, where only the outline is.
		img := image.NewRGBA(image.Rect(0, 0, int(math.Ceil(d.Width)), int(math.Ceil(d.Height))))
		d.Draw(img, 1)
		cy := int(line.Y + line.H/2)
		past, beyond := int(line.X+(b.W+line.W)/2), int(line.X+(line.W+outline.W)/2)
		if c := img.RGBAAt(past, cy); !near(c, line.Fill) {
			t.Errorf("%s: PNG at (%d, %d), on the kept input past the bar, is %v, want %s", tt.stem, past, cy, c, line.Fill)
		}
		if c := img.RGBAAt(beyond, cy); near(c, line.Fill) {
			t.Errorf("%s: PNG at (%d, %d), past the kept input, is the line's colour", tt.stem, beyond, cy)
		}
		var svg strings.Builder
		if err := d.SVG(&svg); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(svg.String(), `<rect class="line" x="`+num(line.X)) {
			t.Errorf("%s: the SVG has no input line", tt.stem)
		}
	}
}

func hasText(d *render.Diagram, s string) bool {
	for _, it := range d.Items {
		if it.Kind == render.KindText && it.Text == s {
			return true
		}
	}
	return false
}

// near reports whether c is within a few levels of the "#rrggbb" colour hex.
func near(c color.RGBA, hex string) bool {
	var r, g, b uint8
	fmt.Sscanf(hex, "#%02x%02x%02x", &r, &g, &b)
	d := func(x, y uint8) int { return max(int(x), int(y)) - min(int(x), int(y)) }
	return d(c.R, r) < 24 && d(c.G, g) < 24 && d(c.B, b) < 24
}

func num(f float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", f), "0"), ".")
}

// A width-pruned model's gate and up bars shrink to the kept width on the scale of the full model,
// over a dashed outline of their former width; attention and down keep their length.
func TestFormerWidthOutline(t *testing.T) {
	tests := []struct {
		stem       string
		kept       int64
		paths      []string // bars that shrink
		same       string   // a bar that does not
		fullWidth  int64
		scaleWidth int64 // the widest former projection, which sets the scale
	}{
		{llama1B, 4916, []string{"mlp.gate_proj", "mlp.up_proj"}, "mlp.down_proj", 8192, 8192},
		{phi4, 4096, []string{"mlp.gate_up_proj"}, "self_attn.o_proj", 16384, 16384},
	}
	for _, tt := range tests {
		full := render.Layout([]render.Model{load(t, tt.stem)}, render.Options{})
		d := render.Layout([]render.Model{narrowed(t, tt.stem, tt.kept)}, render.Options{})
		if d.Widest != tt.scaleWidth || math.Abs(d.Scale-full.Scale) > 1e-9 {
			t.Errorf("%s: widest %d scale %g, want the full model's %d and %g", tt.stem, d.Widest, d.Scale, full.Widest, full.Scale)
		}
		for _, p := range tt.paths {
			path := "model.layers.0." + p
			var kept, outline *render.Item
			for i := range d.Items {
				it := &d.Items[i]
				if it.Kind != render.KindBar || it.Ref.Path != path {
					continue
				}
				if it.Fill == "" && it.Stroke != "" && it.Dashed && outline == nil {
					outline = it
				} else if it.Fill != "" && kept == nil {
					kept = it
				}
			}
			if kept == nil || outline == nil {
				t.Fatalf("%s %s: bar %v, outline %v", tt.stem, path, kept, outline)
			}
			out := tt.kept
			if strings.HasSuffix(p, "gate_up_proj") {
				out *= 2
			}
			if want := float64(out) * d.Scale; math.Abs(kept.W-want) > 0.01 {
				t.Errorf("%s %s: bar %.2f, want %d × scale = %.2f", tt.stem, path, kept.W, out, want)
			}
			former := bar(t, full, 0, path).W
			if math.Abs(outline.W-former) > 0.01 || outline.X != kept.X || outline.Y != kept.Y {
				t.Errorf("%s %s: outline %.2f at (%g, %g), want the full model's bar %.2f at the bar's place (%g, %g)",
					tt.stem, path, outline.W, outline.X, outline.Y, former, kept.X, kept.Y)
			}
			if !strings.Contains(kept.Tip, "wide before width pruning") {
				t.Errorf("%s %s: tip %q does not give the former width", tt.stem, path, kept.Tip)
			}
		}
		if a, b := bar(t, d, 0, "model.layers.0."+tt.same).W, bar(t, full, 0, "model.layers.0."+tt.same).W; math.Abs(a-b) > 0.01 {
			t.Errorf("%s %s: %.2f, was %.2f: it should not change", tt.stem, tt.same, a, b)
		}
		var svg strings.Builder
		if err := d.SVG(&svg); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(svg.String(), `stroke-dasharray`) {
			t.Errorf("%s: the SVG has no dashed outline", tt.stem)
		}
	}
}
