package phi_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/family/familytest"
	_ "github.com/layerscope/layerscope/modelio/family/phi"
)

func TestGallery(t *testing.T) {
	tests := []struct {
		stem  string
		total int64 // params.json of the transformers cross-check
		hyper arch.Hyper
	}{
		{
			stem:  "microsoft__phi-2",
			total: 2_779_683_840,
			hyper: arch.Hyper{
				Layers: 32, Hidden: 2560, Heads: 32, KVHeads: 32, HeadDim: 80, Intermediate: 10240,
				Vocab: 51200, MaxPositions: 2048, MLP: arch.MLPClassic, Activation: "gelu_new", Norm: arch.NormLayer,
				NormsPerBlock: 1, ParallelBlock: true, Positional: arch.PosRoPE, RotaryFraction: 0.4,
				RopeTheta: 10000, AttentionBias: true, MLPBias: true,
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
	phi2 := familytest.GalleryDir + "microsoft__phi-2.config.json"
	tests := []struct {
		name  string
		edits map[string]any
		check func(t *testing.T, s *arch.Spec)
	}{
		{"qk_layernorm adds a LayerNorm per head of q and of k after dense", map[string]any{"qk_layernorm": true}, func(t *testing.T, s *arch.Spec) {
			const want = `  (dense): Linear(in_features=2560, out_features=2560, bias=True)
  (q_layernorm): LayerNorm((80,), eps=1e-05, elementwise_affine=True)
  (k_layernorm): LayerNorm((80,), eps=1e-05, elementwise_affine=True)
)`
			if got := arch.Repr(s.Root.Find("model.layers.0.self_attn")); !strings.HasSuffix(got, want) {
				t.Errorf("attention prints\n%s\nwant it to end with\n%s", got, want)
			}
			if !s.Hyper.QKNorm {
				t.Error("Hyper.QKNorm = false")
			}
			if got, want := s.Root.NumParams(), int64(2_779_683_840+32*2*(80+80)); got != want {
				t.Errorf("NumParams = %d, want %d", got, want)
			}
		}},
		{"absent partial_rotary_factor is PhiConfig's 0.5", map[string]any{"partial_rotary_factor": nil}, func(t *testing.T, s *arch.Spec) {
			if f := s.Hyper.RotaryFraction; f != 0.5 {
				t.Errorf("RotaryFraction = %v, want 0.5", f)
			}
		}},
		{"grouped kv heads shrink k and v", map[string]any{"num_key_value_heads": 8}, func(t *testing.T, s *arch.Spec) {
			if k := s.Root.Find("model.layers.31.self_attn.k_proj"); k.Out != 640 {
				t.Errorf("k_proj out = %d, want 8 × 80", k.Out)
			}
		}},
		{"tied head keeps its bias", map[string]any{"tie_word_embeddings": true}, func(t *testing.T, s *arch.Spec) {
			if h := s.Root.Find("lm_head"); !h.Tied || !h.Bias {
				t.Errorf("lm_head tied %v bias %v, want both", h.Tied, h.Bias)
			}
			if len(s.Notes) == 0 {
				t.Error("no note about the untracked lm_head bias")
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := familytest.MustBuild(t, familytest.Load(t, phi2, tc.edits))
			tc.check(t, spec)
		})
	}
}

func TestConfigErrors(t *testing.T) {
	phi2 := familytest.GalleryDir + "microsoft__phi-2.config.json"
	tests := []struct {
		name  string
		edits map[string]any
		want  string
	}{
		{"partial_rotary_factor above 1", map[string]any{"partial_rotary_factor": 1.5},
			"partial_rotary_factor must be in (0, 1], got 1.5"},
		{"heads do not divide", map[string]any{"num_attention_heads": 24},
			"hidden_size (2560) must be divisible by num_attention_heads (24)"},
		{"kv heads do not divide", map[string]any{"num_key_value_heads": 5},
			"num_attention_heads (32) must be divisible by num_key_value_heads (5)"},
		{"pad outside the vocabulary", map[string]any{"pad_token_id": 51200},
			"pad_token_id (51200) must be below vocab_size (51200)"},
		{"unknown activation", map[string]any{"hidden_act": "geglu"},
			`hidden_act "geglu" is not an activation transformers knows`},
		{"layer count of the wrong type", map[string]any{"num_hidden_layers": "32"},
			`num_hidden_layers must be an integer, got "32"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := familytest.Build(t, familytest.Load(t, phi2, tc.edits))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
