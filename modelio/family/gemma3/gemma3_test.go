package gemma3_test

import (
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/family/familytest"
	_ "github.com/layerscope/layerscope/modelio/family/gemma3"
)

const (
	fixtureDir = "../../../testdata/fixtures/gemma3_text/"
	gemma270m  = familytest.GalleryDir + "google__gemma-3-270m.config.json"
)

// The prints are the transformers 5.17 prints of ../../../.scratch/trees-transformers-5.17 turned into
// 4.55's: GELUTanh() is PytorchGELUTanh() there, and Gemma3TextModel still registers rotary_emb_local
// after rotary_emb (removed by PR #39847 for v5). Totals are the real ones (tied counted once).
func TestGallery(t *testing.T) {
	tests := []struct {
		config, causal, base string
		total                int64
	}{
		{"google__gemma-3-270m.config.json", "google__gemma-3-270m.causal.txt", "google__gemma-3-270m.base.txt", 268098176},
	}
	for _, tt := range tests {
		t.Run(tt.config, func(t *testing.T) {
			spec := familytest.BuildFile(t, familytest.GalleryDir+tt.config)
			for _, c := range []struct {
				file string
				m    *arch.Module
			}{{tt.causal, spec.Root}, {tt.base, spec.Base()}} {
				familytest.SamePrint(t, arch.Repr(c.m), "testdata/"+c.file)
				if got := c.m.NumParams(); got != tt.total {
					t.Errorf("%s: %d parameters, want %d", c.file, got, tt.total)
				}
			}
		})
	}
}

// types270m is gemma-3-270m's layer_types: five sliding layers, then one full, three times.
func types270m() []string {
	var types []string
	for i := 0; i < 18; i++ {
		t := "sliding_attention"
		if (i+1)%6 == 0 {
			t = "full_attention"
		}
		types = append(types, t)
	}
	return types
}

func TestHyper(t *testing.T) {
	s := familytest.BuildFile(t, gemma270m)
	want := arch.Hyper{
		Layers: 18, Hidden: 640, Heads: 4, KVHeads: 1, HeadDim: 256, Intermediate: 2048, Vocab: 262144,
		MaxPositions: 32768, MLP: arch.MLPGLU, Activation: "gelu_pytorch_tanh", Norm: arch.NormRMS,
		NormsPerBlock: 4, QKNorm: true, Positional: arch.PosRoPE, RotaryFraction: 1, RopeTheta: 1e6,
		RopeLocalTheta: 1e4, SlidingWindow: 512, LayerTypes: types270m(), TiedEmbeddings: true,
		EmbeddingScale: math.Sqrt(640), QueryPreAttnScalar: 256,
	}
	if !reflect.DeepEqual(s.Hyper, want) {
		t.Errorf("hyper:\n got %+v\nwant %+v", s.Hyper, want)
	}
	for i, want := range map[int]map[string]string{
		0:  {arch.AttrAttention: "sliding", arch.AttrWindow: "512"},
		5:  {arch.AttrAttention: "full"},
		6:  {arch.AttrAttention: "sliding", arch.AttrWindow: "512"},
		17: {arch.AttrAttention: "full"},
	} {
		if got := s.Root.Find("model.layers." + strconv.Itoa(i)).Attrs; !reflect.DeepEqual(got, want) {
			t.Errorf("layer %d attrs %v, want %v", i, got, want)
		}
	}
	if len(s.Notes) != 0 {
		t.Errorf("notes %q, want none", s.Notes)
	}
}

// The fixture was saved by transformers 5.17 (rope_parameters per layer type) and by 4.55
// (rope_theta, rope_local_base_freq); both must describe the same model, the one whose tensors the
// fixture holds.
func TestFixtureVersions(t *testing.T) {
	v5 := familytest.BuildFile(t, fixtureDir+"config.json")
	v4 := familytest.BuildFile(t, fixtureDir+"config.v4.json")
	if a, b := arch.Repr(v5.Root), arch.Repr(v4.Root); a != b {
		t.Errorf("trees differ:\nv5:\n%s\nv4:\n%s", a, b)
	}
	if !reflect.DeepEqual(v5.Hyper, v4.Hyper) {
		t.Errorf("hyper differs:\nv5 %+v\nv4 %+v", v5.Hyper, v4.Hyper)
	}
	if got := v5.Root.Find("model.layers.2").Attrs[arch.AttrAttention]; got != "full" {
		t.Errorf("layer 2 is %q, want full", got)
	}

	familytest.SameTensorNames(t, v5.Root, fixtureDir+"expected.json")
}

// Edits of a config and what they must change.
func TestConfigVariants(t *testing.T) {
	tests := []struct {
		name  string
		base  string
		edit  map[string]any
		check func(t *testing.T, s *arch.Spec)
	}{
		{"layer_types absent: every 6th layer full", gemma270m, map[string]any{"-": "layer_types"},
			func(t *testing.T, s *arch.Spec) {
				if !reflect.DeepEqual(s.Hyper.LayerTypes, types270m()) {
					t.Errorf("types %v", s.Hyper.LayerTypes)
				}
				if len(s.Notes) != 0 {
					t.Errorf("notes %q, want none", s.Notes)
				}
			}},
		{"layer_types from sliding_window_pattern", gemma270m,
			map[string]any{"-": "layer_types", "sliding_window_pattern": 3},
			func(t *testing.T, s *arch.Spec) {
				for i, typ := range s.Hyper.LayerTypes {
					if full := typ == "full_attention"; full != ((i+1)%3 == 0) {
						t.Errorf("layer %d is %s", i, typ)
					}
				}
			}},
		{"_sliding_window_pattern is ignored on load, with a note", gemma270m,
			map[string]any{"-": "layer_types", "_sliding_window_pattern": 3},
			func(t *testing.T, s *arch.Spec) {
				if !reflect.DeepEqual(s.Hyper.LayerTypes, types270m()) {
					t.Errorf("types %v", s.Hyper.LayerTypes)
				}
				if len(s.Notes) != 1 || !strings.Contains(s.Notes[0], "_sliding_window_pattern (3) is ignored") {
					t.Errorf("notes %q", s.Notes)
				}
			}},
		{"transformers 5 rope_parameters per layer type", fixtureDir + "config.json",
			map[string]any{"rope_parameters": map[string]any{
				"full_attention":    map[string]any{"rope_type": "linear", "factor": 8.0, "rope_theta": 5e5},
				"sliding_attention": map[string]any{"rope_type": "default", "rope_theta": 2e4},
			}},
			func(t *testing.T, s *arch.Spec) {
				h := s.Hyper
				if h.RopeTheta != 5e5 || h.RopeLocalTheta != 2e4 || h.RopeScaling != "linear" || h.RopeFactor != 8 {
					t.Errorf("theta %v local %v scaling %q x%v", h.RopeTheta, h.RopeLocalTheta, h.RopeScaling, h.RopeFactor)
				}
			}},
		{"transformers 4 rope keys", fixtureDir + "config.v4.json",
			map[string]any{"rope_theta": 5e5, "rope_local_base_freq": 2e4,
				"rope_scaling": map[string]any{"rope_type": "linear", "factor": 8.0}},
			func(t *testing.T, s *arch.Spec) {
				h := s.Hyper
				if h.RopeTheta != 5e5 || h.RopeLocalTheta != 2e4 || h.RopeScaling != "linear" || h.RopeFactor != 8 {
					t.Errorf("theta %v local %v scaling %q x%v", h.RopeTheta, h.RopeLocalTheta, h.RopeScaling, h.RopeFactor)
				}
			}},
		{"pad_token_id absent is 0", gemma270m, map[string]any{"-": "pad_token_id"},
			func(t *testing.T, s *arch.Spec) {
				if e := s.Root.Find("model.embed_tokens"); !e.HasPadding || e.PaddingIdx != 0 {
					t.Errorf("padding %v %d, want 0", e.HasPadding, e.PaddingIdx)
				}
			}},
		{"pad_token_id null is no padding_idx", gemma270m, map[string]any{"pad_token_id": nil},
			func(t *testing.T, s *arch.Spec) {
				if got := arch.Repr(s.Root.Find("model.embed_tokens")); got != "Gemma3TextScaledWordEmbedding(262144, 640)" {
					t.Errorf("embedding prints %s", got)
				}
			}},
		{"head_dim and num_key_value_heads absent take their own defaults", gemma270m,
			map[string]any{"-": []string{"head_dim", "num_key_value_heads"}, "num_attention_heads": 8},
			func(t *testing.T, s *arch.Spec) {
				if s.Hyper.HeadDim != 256 || s.Hyper.KVHeads != 4 {
					t.Errorf("head_dim %d kv %d, want 256 and 4", s.Hyper.HeadDim, s.Hyper.KVHeads)
				}
			}},
		{"softcaps and scalar recorded", gemma270m,
			map[string]any{"attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0, "query_pre_attn_scalar": 144},
			func(t *testing.T, s *arch.Spec) {
				h := s.Hyper
				if h.AttnLogitSoftcap != 50 || h.FinalLogitSoftcap != 30 || h.QueryPreAttnScalar != 144 {
					t.Errorf("softcaps %v %v scalar %v", h.AttnLogitSoftcap, h.FinalLogitSoftcap, h.QueryPreAttnScalar)
				}
			}},
		{"sliding_window null leaves every layer full", gemma270m, map[string]any{"sliding_window": nil},
			func(t *testing.T, s *arch.Spec) {
				if s.Hyper.SlidingWindow != 0 {
					t.Errorf("window %d", s.Hyper.SlidingWindow)
				}
				if got := s.Root.Find("model.layers.0").Attrs; !reflect.DeepEqual(got, map[string]string{arch.AttrAttention: "full"}) {
					t.Errorf("layer 0 attrs %v", got)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := familytest.ReadJSON(t, tt.base)
			familytest.Edit(t, raw, tt.edit)
			tt.check(t, familytest.MustBuild(t, familytest.Parse(t, tt.base, raw)))
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		edit map[string]any
		want string
	}{
		{map[string]any{"layer_types": []string{"sliding_attention", "full_attention"}},
			"layer_types has 2 entries but num_hidden_layers is 18"},
		{map[string]any{"num_key_value_heads": 3},
			"num_attention_heads (4) must be divisible by num_key_value_heads (3)"},
		{map[string]any{"layer_types": slices.Repeat([]string{"chunked_attention"}, 18)},
			`layer_types[0] is "chunked_attention"`},
		{map[string]any{"-": "layer_types", "sliding_window_pattern": 0}, "sliding_window_pattern must be positive, got 0"},
		{map[string]any{"hidden_activation": "swoosh"}, `hidden_activation "swoosh" is not an activation transformers knows`},
		{map[string]any{"pad_token_id": 262144}, "pad_token_id (262144) must be below vocab_size (262144)"},
		{map[string]any{"query_pre_attn_scalar": "x"}, "query_pre_attn_scalar must be a number"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			raw := familytest.ReadJSON(t, gemma270m)
			familytest.Edit(t, raw, tt.edit)
			_, err := familytest.Build(t, familytest.Parse(t, gemma270m, raw))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
