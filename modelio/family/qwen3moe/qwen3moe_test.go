package qwen3moe_test

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/family/familytest"
	_ "github.com/layerscope/layerscope/modelio/family/qwen3moe"
)

func TestGallery(t *testing.T) {
	tests := []struct {
		stem  string
		total int64 // params.json of the transformers cross-check
		hyper arch.Hyper
	}{
		{
			stem:  "Qwen__Qwen3-30B-A3B",
			total: 30_532_122_624,
			hyper: arch.Hyper{
				Layers: 48, Hidden: 2048, Heads: 32, KVHeads: 4, HeadDim: 128, Intermediate: 6144,
				Vocab: 151936, MaxPositions: 40960, MLP: arch.MLPGLU, Activation: "silu", Norm: arch.NormRMS,
				NormsPerBlock: 2, QKNorm: true, Positional: arch.PosRoPE, RotaryFraction: 1, RopeTheta: 1e6,
				Experts: 128, ExpertsPerToken: 8, ExpertIntermediate: 768, MoELayers: 48,
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

// TestMLPOnlyLayers checks that a dense layer among sparse ones prints as its own ModuleList entry and
// draws as its own fold group: (0) sparse, (1) dense, (2-3) sparse.
func TestMLPOnlyLayers(t *testing.T) {
	spec := familytest.BuildFile(t, "testdata/mlp-only-layers.config.json")
	familytest.SamePrint(t, arch.Repr(spec.Root), "testdata/mlp-only-layers.causal.txt")
	familytest.SamePrint(t, arch.Repr(spec.Base()), "testdata/mlp-only-layers.base.txt")
	groups := arch.Describe(spec).FoldGroups()
	want := []arch.FoldGroup{{Start: 0, End: 0}, {Start: 1, End: 1}, {Start: 2, End: 3}}
	if !reflect.DeepEqual(groups, want) {
		t.Errorf("fold groups = %v, want %v", groups, want)
	}
	if h := spec.Hyper; h.MoELayers != 3 || h.Experts != 4 || h.ExpertsPerToken != 2 || h.ExpertIntermediate != 32 || h.Intermediate != 256 {
		t.Errorf("Hyper = %+v, want 3 MoE layers of 4 experts (top 2) 32 wide and a dense width of 256", h)
	}
	if len(spec.Notes) != 0 {
		t.Errorf("notes %q, want none: intermediate_size is used by layer 1", spec.Notes)
	}
}

func TestVariants(t *testing.T) {
	small := "testdata/mlp-only-layers.config.json"
	tests := []struct {
		name   string
		edits  map[string]any
		sparse []bool
		check  func(t *testing.T, s *arch.Spec)
	}{
		{"every other layer on decoder_sparse_step 2", map[string]any{"decoder_sparse_step": 2, "mlp_only_layers": nil},
			[]bool{false, true, false, true}, nil},
		{"a step and mlp_only_layers together", map[string]any{"decoder_sparse_step": 2, "mlp_only_layers": []int{3}},
			[]bool{false, true, false, false}, nil},
		{"no experts, all dense", map[string]any{"num_experts": 0},
			[]bool{false, false, false, false}, func(t *testing.T, s *arch.Spec) {
				if h := s.Hyper; h.Experts != 0 || h.ExpertsPerToken != 0 || h.ExpertIntermediate != 0 {
					t.Errorf("Hyper = %+v, want no experts", h)
				}
			}},
		{"a layer past the end is noted and ignored", map[string]any{"mlp_only_layers": []int{7}},
			[]bool{true, true, true, true}, func(t *testing.T, s *arch.Spec) {
				if len(s.Notes) != 2 || !strings.Contains(s.Notes[0], "mlp_only_layers names layer 7") {
					t.Errorf("notes = %q", s.Notes)
				}
			}},
		{"sliding window only with use_sliding_window", map[string]any{"use_sliding_window": true, "sliding_window": 512},
			[]bool{true, false, true, true}, func(t *testing.T, s *arch.Spec) {
				if s.Hyper.SlidingWindow != 512 || s.Root.Find("model.layers.2").Attrs[arch.AttrWindow] != "512" {
					t.Errorf("SlidingWindow = %d, want 512 on every layer", s.Hyper.SlidingWindow)
				}
			}},
		{"sliding_window alone is inert", map[string]any{"sliding_window": 512},
			[]bool{true, false, true, true}, func(t *testing.T, s *arch.Spec) {
				if s.Hyper.SlidingWindow != 0 {
					t.Errorf("SlidingWindow = %d, want 0", s.Hyper.SlidingWindow)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := familytest.MustBuild(t, familytest.Load(t, small, tc.edits))
			moe := 0
			for i, want := range tc.sparse {
				mlp := spec.Root.Find("model.layers." + strconv.Itoa(i) + ".mlp")
				if got := mlp.Role == arch.RoleMoE; got != want {
					t.Errorf("layer %d is %s (%v), want sparse %v", i, mlp.Class, mlp.Role, want)
				}
				if want {
					moe++
				}
			}
			if spec.Hyper.MoELayers != moe {
				t.Errorf("MoELayers = %d, want %d", spec.Hyper.MoELayers, moe)
			}
			if tc.check != nil {
				tc.check(t, spec)
			}
		})
	}
}

func TestGalleryNotesUnusedDenseWidth(t *testing.T) {
	spec := familytest.BuildFile(t, familytest.GalleryDir+"Qwen__Qwen3-30B-A3B.config.json")
	if len(spec.Notes) != 1 || !strings.Contains(spec.Notes[0], "intermediate_size (6144) is unused") {
		t.Errorf("notes = %q", spec.Notes)
	}
}

func TestConfigErrors(t *testing.T) {
	base := familytest.GalleryDir + "Qwen__Qwen3-30B-A3B.config.json"
	tests := []struct {
		name  string
		edits map[string]any
		want  string
	}{
		{"top-k above the expert count", map[string]any{"num_experts_per_tok": 129},
			"num_experts_per_tok (129) must not exceed num_experts (128)"},
		{"sparse step of zero", map[string]any{"decoder_sparse_step": 0},
			"decoder_sparse_step must be positive, got 0"},
		{"negative expert count", map[string]any{"num_experts": -1},
			"num_experts must not be negative, got -1"},
		{"no expert width", map[string]any{"moe_intermediate_size": 0},
			"moe_intermediate_size must be positive, got 0"},
		{"mlp_only_layers of the wrong type", map[string]any{"mlp_only_layers": []string{"3"}},
			"mlp_only_layers must be a list of integers"},
		{"kv heads do not divide", map[string]any{"num_key_value_heads": 5},
			"num_attention_heads (32) must be divisible by num_key_value_heads (5)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := familytest.Build(t, familytest.Load(t, base, tc.edits))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
