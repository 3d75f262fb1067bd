package render_test

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/config"
	"github.com/layerscope/layerscope/render"
)

// narrowed is a gallery model with its intermediate_size set to width, as a width pruning leaves it,
// with the former widths of its MLP projections in Former.
func narrowed(t *testing.T, stem string, width int64) render.Model {
	t.Helper()
	full := load(t, stem)
	cfg, err := config.ReadFile(filepath.Join("..", "modelio", "gallery", "configs", stem+".config.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.With("intermediate_size", json.Number(itoa(int(width))))
	f, _ := arch.Lookup(cfg.String("model_type", ""))
	spec, err := f.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := render.Model{Name: full.Name, Params: spec.Root.NumParams(), Arch: arch.Describe(spec), Former: map[string]int64{}}
	for _, b := range full.Arch.Blocks {
		for _, p := range b.Parts {
			switch p.Role {
			case arch.RoleGate, arch.RoleUp, arch.RoleGateUp:
				m.Former[p.Path] = p.Out
			}
		}
	}
	return m
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
