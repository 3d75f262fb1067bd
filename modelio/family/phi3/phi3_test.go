package phi3_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/family/familytest"
	_ "github.com/layerscope/layerscope/modelio/family/phi3"
)

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
			spec := familytest.BuildFile(t, familytest.GalleryDir+tc.stem+".config.json")
			familytest.SamePrint(t, arch.Repr(spec.Root), "testdata/"+tc.stem+".causal.txt")
			familytest.SamePrint(t, arch.Repr(spec.Base()), "testdata/"+tc.stem+".base.txt")
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
	phi4 := familytest.GalleryDir + "microsoft__Phi-4-mini-instruct.config.json"
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
			spec := familytest.MustBuild(t, familytest.Load(t, phi4, tc.edits))
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
	phi4 := familytest.GalleryDir + "microsoft__Phi-4-mini-instruct.config.json"
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
			_, err := familytest.Build(t, familytest.Load(t, phi4, tc.edits))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
