package mixtral_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/family/familytest"
	_ "github.com/layerscope/layerscope/modelio/family/mixtral"
)

func TestGallery(t *testing.T) {
	tests := []struct {
		stem  string
		total int64 // params.json of the transformers cross-check
		hyper arch.Hyper
	}{
		{
			stem:  "mistralai__Mixtral-8x7B-v0.1",
			total: 46_702_792_704,
			hyper: arch.Hyper{
				Layers: 32, Hidden: 4096, Heads: 32, KVHeads: 8, HeadDim: 128, Intermediate: 14336,
				Vocab: 32000, MaxPositions: 32768, MLP: arch.MLPGLU, Activation: "silu", Norm: arch.NormRMS,
				NormsPerBlock: 2, Positional: arch.PosRoPE, RotaryFraction: 1, RopeTheta: 1e6,
				Experts: 8, ExpertsPerToken: 2, ExpertIntermediate: 14336, MoELayers: 32,
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
	mixtral := familytest.GalleryDir + "mistralai__Mixtral-8x7B-v0.1.config.json"
	tests := []struct {
		name  string
		edits map[string]any
		check func(t *testing.T, s *arch.Spec)
	}{
		{"the MoE block carries top-k and roles", nil, func(t *testing.T, s *arch.Spec) {
			moe := s.Root.Find("model.layers.0.block_sparse_moe")
			if moe.Role != arch.RoleMoE || moe.Attrs[arch.AttrTopK] != "2" {
				t.Errorf("block_sparse_moe role %v top_k %q, want moe and 2", moe.Role, moe.Attrs[arch.AttrTopK])
			}
			roles := map[string]arch.Role{"gate": arch.RoleRouter, "experts": arch.RoleExperts, "experts.7": arch.RoleExpert,
				"experts.7.w1": arch.RoleGate, "experts.7.w2": arch.RoleDown, "experts.7.w3": arch.RoleUp}
			for path, want := range roles {
				if got := moe.Find(path).Role; got != want {
					t.Errorf("%s role = %v, want %v", path, got, want)
				}
			}
		}},
		{"a sliding window marks every layer", map[string]any{"sliding_window": 4096}, func(t *testing.T, s *arch.Spec) {
			if s.Hyper.SlidingWindow != 4096 {
				t.Errorf("SlidingWindow = %d, want 4096", s.Hyper.SlidingWindow)
			}
			if w := s.Root.Find("model.layers.31").Attrs[arch.AttrWindow]; w != "4096" {
				t.Errorf("layer 31 window = %q, want 4096", w)
			}
		}},
		{"absent kv heads are MixtralConfig's 8", map[string]any{"num_key_value_heads": nil}, func(t *testing.T, s *arch.Spec) {
			if s.Hyper.KVHeads != 8 {
				t.Errorf("KVHeads = %d, want 8", s.Hyper.KVHeads)
			}
		}},
		{"null kv heads are the attention heads", map[string]any{"num_key_value_heads": json.RawMessage("null")}, func(t *testing.T, s *arch.Spec) {
			if s.Hyper.KVHeads != 32 {
				t.Errorf("KVHeads = %d, want 32", s.Hyper.KVHeads)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := familytest.MustBuild(t, familytest.Load(t, mixtral, tc.edits))
			tc.check(t, spec)
		})
	}
}

func TestConfigErrors(t *testing.T) {
	base := familytest.GalleryDir + "mistralai__Mixtral-8x7B-v0.1.config.json"
	tests := []struct {
		name  string
		edits map[string]any
		want  string
	}{
		{"top-k above the expert count", map[string]any{"num_experts_per_tok": 9},
			"num_experts_per_tok (9) must not exceed num_local_experts (8)"},
		{"no experts", map[string]any{"num_local_experts": 0},
			"num_local_experts must be positive, got 0"},
		{"no experts per token", map[string]any{"num_experts_per_tok": 0},
			"num_experts_per_tok must be positive, got 0"},
		{"negative window", map[string]any{"sliding_window": -1},
			"sliding_window must not be negative, got -1"},
		{"kv heads do not divide", map[string]any{"num_key_value_heads": 3},
			"num_attention_heads (32) must be divisible by num_key_value_heads (3)"},
		{"experts of the wrong type", map[string]any{"num_local_experts": 8.5},
			"num_local_experts must be an integer, got 8.5"},
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
