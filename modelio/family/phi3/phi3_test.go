package phi3_test

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/config"
	_ "github.com/layerscope/layerscope/modelio/family/phi3"
	"github.com/layerscope/layerscope/render"
)

const gallery = "../../gallery/configs/"

// load reads a config.json and applies edits to its top-level keys; a nil value deletes the key.
func load(t *testing.T, path string, edits map[string]any) *config.Config {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		t.Fatal(err)
	}
	for k, v := range edits {
		if v == nil {
			delete(raw, k)
		} else {
			raw[k] = v
		}
	}
	if data, err = json.Marshal(raw); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(path, data)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func build(t *testing.T, cfg *config.Config) (*arch.Spec, error) {
	t.Helper()
	f, ok := arch.Lookup(cfg.String("model_type", ""))
	if !ok {
		t.Fatalf("no family registered for model_type %q", cfg.String("model_type", ""))
	}
	return f.Build(cfg)
}

// samePrint compares a print with a golden file (which ends in a newline, as print() writes it).
func samePrint(t *testing.T, got, goldenPath string) {
	t.Helper()
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	w := strings.TrimSuffix(string(want), "\n")
	if got == w {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(w, "\n")
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, x string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			x = wl[i]
		}
		if g != x {
			t.Fatalf("print differs from %s at line %d:\n got: %q\nwant: %q\nwhole print:\n%s", goldenPath, i+1, g, x, got)
		}
	}
}

func TestGallery(t *testing.T) {
	tests := []struct {
		stem  string
		total int64 // params.json of the transformers cross-check, tied embeddings counted once
		hyper arch.Hyper
	}{
		{
			stem:  "microsoft__Phi-4-mini-instruct",
			total: 3_836_021_760,
			hyper: arch.Hyper{
				Layers: 32, Hidden: 3072, Heads: 24, KVHeads: 8, HeadDim: 128, Intermediate: 8192,
				Vocab: 200064, MaxPositions: 131072, MLP: arch.MLPGLU, Activation: "silu", Norm: arch.NormRMS,
				NormsPerBlock: 2, Positional: arch.PosRoPE, RotaryFraction: 0.75, RopeTheta: 10000,
				RopeScaling: "longrope", RopeFactor: 32, SlidingWindow: 262144, TiedEmbeddings: true,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.stem, func(t *testing.T) {
			spec, err := build(t, load(t, gallery+tc.stem+".config.json", nil))
			if err != nil {
				t.Fatal(err)
			}
			samePrint(t, render.ModuleTree(spec.Root), "testdata/"+tc.stem+".causal.txt")
			samePrint(t, render.ModuleTree(spec.Base()), "testdata/"+tc.stem+".base.txt")
			if got := spec.Root.NumParams(); got != tc.total {
				t.Errorf("NumParams = %d, want %d", got, tc.total)
			}
			if !reflect.DeepEqual(spec.Hyper, tc.hyper) {
				t.Errorf("Hyper = %+v\nwant    %+v", spec.Hyper, tc.hyper)
			}
		})
	}
}

func TestVariants(t *testing.T) {
	phi4 := gallery + "microsoft__Phi-4-mini-instruct.config.json"
	tests := []struct {
		name  string
		edits map[string]any
		check func(t *testing.T, s *arch.Spec)
	}{
		{"absent pad_token_id takes Phi3Config's 32000", map[string]any{"pad_token_id": nil}, func(t *testing.T, s *arch.Spec) {
			if e := s.Root.Find("model.embed_tokens"); !e.HasPadding || e.PaddingIdx != 32000 {
				t.Errorf("padding = %v %d, want 32000", e.HasPadding, e.PaddingIdx)
			}
		}},
		{"null pad_token_id means none", map[string]any{"pad_token_id": json.RawMessage("null")}, func(t *testing.T, s *arch.Spec) {
			if e := s.Root.Find("model.embed_tokens"); e.HasPadding {
				t.Errorf("padding_idx = %d, want none", e.PaddingIdx)
			}
		}},
		{"older su rope type is longrope", map[string]any{"rope_scaling": ropeScaling("su", 48, 48)}, func(t *testing.T, s *arch.Spec) {
			if s.Hyper.RopeScaling != "longrope" {
				t.Errorf("RopeScaling = %q, want longrope", s.Hyper.RopeScaling)
			}
		}},
		{"no rope_scaling", map[string]any{"rope_scaling": nil, "partial_rotary_factor": nil}, func(t *testing.T, s *arch.Spec) {
			if h := s.Hyper; h.RopeScaling != "" || h.RopeFactor != 0 || h.RotaryFraction != 1 {
				t.Errorf("rope = %q ×%v on %v of each head, want plain RoPE on all of it", h.RopeScaling, h.RopeFactor, h.RotaryFraction)
			}
		}},
		{"resid_pdrop prints in both dropouts", map[string]any{"resid_pdrop": 0.1}, func(t *testing.T, s *arch.Spec) {
			for _, n := range []string{"resid_attn_dropout", "resid_mlp_dropout"} {
				if p := s.Root.Find("model.layers.5." + n).P; p != 0.1 {
					t.Errorf("%s p = %v, want 0.1", n, p)
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := build(t, load(t, phi4, tc.edits))
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, spec)
		})
	}
}

// ropeScaling returns a rope_scaling object of the given type with factor lists of the given lengths
// (a negative length leaves that list out).
func ropeScaling(kind string, short, long int) map[string]any {
	rs := map[string]any{"type": kind}
	for key, n := range map[string]int{"short_factor": short, "long_factor": long} {
		if n < 0 {
			continue
		}
		f := make([]float64, n)
		for i := range f {
			f[i] = 1
		}
		rs[key] = f
	}
	return rs
}

func TestConfigErrors(t *testing.T) {
	phi4 := gallery + "microsoft__Phi-4-mini-instruct.config.json"
	tests := []struct {
		name  string
		edits map[string]any
		want  string
	}{
		{"long_factor one short", map[string]any{"rope_scaling": ropeScaling("longrope", 48, 47)},
			"rope_scaling.long_factor has 47 entries, want 48: int(hidden_size / num_attention_heads (128) × partial_rotary_factor (0.75)) / 2"},
		{"short_factor for full rotation", map[string]any{"partial_rotary_factor": 1.0},
			"rope_scaling.short_factor has 48 entries, want 64"},
		{"long_factor missing", map[string]any{"rope_scaling": ropeScaling("longrope", 48, -1)},
			"rope_scaling.long_factor is missing"},
		{"rope type phi3 does not know", map[string]any{"rope_scaling": ropeScaling("linear", 48, 48)},
			`rope_scaling.type must be "longrope", got "linear"`},
		{"factor of the wrong type", map[string]any{"rope_scaling": map[string]any{"type": "longrope", "short_factor": "x", "long_factor": []int{1}}},
			"rope_scaling.short_factor must be a list of numbers"},
		{"partial_rotary_factor out of range", map[string]any{"partial_rotary_factor": 0},
			"partial_rotary_factor must be in (0, 1], got 0"},
		{"default pad outside a small vocabulary", map[string]any{"pad_token_id": nil, "vocab_size": 32000, "rope_scaling": nil},
			"pad_token_id is absent, and Phi3Config's default (32000) must be below vocab_size (32000)"},
		{"heads do not divide", map[string]any{"num_attention_heads": 25},
			"hidden_size (3072) must be divisible by num_attention_heads (25)"},
		{"unknown activation", map[string]any{"hidden_act": "swiglu"},
			`hidden_act "swiglu" is not an activation transformers knows`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := build(t, load(t, phi4, tc.edits))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
