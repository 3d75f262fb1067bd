package qwen3_test

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/family/familytest"
	_ "github.com/layerscope/layerscope/modelio/family/qwen3"
)

const (
	fixtureDir = "../../../testdata/fixtures/qwen3/"
	qwen06b    = familytest.GalleryDir + "Qwen__Qwen3-0.6B.config.json"
)

// The prints are the transformers 5.17 prints of ../../../.scratch/trees-transformers-5.17 with
// SiLUActivation() written SiLU(), as 4.55 prints nn.SiLU; totals are the real ones (tied counted once).
func TestGallery(t *testing.T) {
	tests := []struct {
		config, causal, base string
		total                int64
	}{
		{"Qwen__Qwen3-0.6B.config.json", "Qwen__Qwen3-0.6B.causal.txt", "Qwen__Qwen3-0.6B.base.txt", 596049920},
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

func TestHyper(t *testing.T) {
	h := familytest.BuildFile(t, qwen06b).Hyper
	want := arch.Hyper{
		Layers: 28, Hidden: 1024, Heads: 16, KVHeads: 8, HeadDim: 128, Intermediate: 3072, Vocab: 151936,
		MaxPositions: 40960, MLP: arch.MLPGLU, Activation: "silu", Norm: arch.NormRMS, NormsPerBlock: 2,
		QKNorm: true, Positional: arch.PosRoPE, RotaryFraction: 1, RopeTheta: 1e6, TiedEmbeddings: true,
	}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("hyper:\n got %+v\nwant %+v", h, want)
	}
}

// The fixture was saved by transformers 5.17 (rope_parameters, layer_types) and by 4.51 (rope_theta);
// both must describe the same model, the one whose tensors the fixture holds.
func TestFixtureVersions(t *testing.T) {
	v5 := familytest.BuildFile(t, fixtureDir+"config.json")
	v4 := familytest.BuildFile(t, fixtureDir+"config.v4.json")
	if a, b := arch.Repr(v5.Root), arch.Repr(v4.Root); a != b {
		t.Errorf("trees differ:\nv5:\n%s\nv4:\n%s", a, b)
	}
	if !reflect.DeepEqual(v5.Hyper, v4.Hyper) {
		t.Errorf("hyper differs:\nv5 %+v\nv4 %+v", v5.Hyper, v4.Hyper)
	}
	if v5.Hyper.RopeTheta != 1e6 {
		t.Errorf("rope_parameters.rope_theta: got %v, want 1e6", v5.Hyper.RopeTheta)
	}

	familytest.SameTensorNames(t, v5.Root, fixtureDir+"expected.json")
}

// Edits of Qwen3-0.6B's config and what they must change.
func TestConfigVariants(t *testing.T) {
	tests := []struct {
		name  string
		edit  map[string]any
		check func(t *testing.T, s *arch.Spec)
	}{
		{"head_dim absent defaults to 128, not hidden/heads", map[string]any{"-": "head_dim"},
			func(t *testing.T, s *arch.Spec) {
				if s.Hyper.HeadDim != 128 {
					t.Errorf("head_dim %d, want 128", s.Hyper.HeadDim)
				}
			}},
		{"num_key_value_heads null is num_attention_heads", map[string]any{"num_key_value_heads": nil},
			func(t *testing.T, s *arch.Spec) {
				if s.Hyper.KVHeads != 16 {
					t.Errorf("kv heads %d, want 16", s.Hyper.KVHeads)
				}
			}},
		{"sliding_window inert without use_sliding_window", map[string]any{"sliding_window": 4096, "max_window_layers": 20},
			func(t *testing.T, s *arch.Spec) {
				if s.Hyper.SlidingWindow != 0 || s.Hyper.LayerTypes != nil {
					t.Errorf("window %d, types %v: want none", s.Hyper.SlidingWindow, s.Hyper.LayerTypes)
				}
				if a := s.Root.Find("model.layers.27").Attrs; a != nil {
					t.Errorf("layer 27 attrs %v, want none", a)
				}
			}},
		{"use_sliding_window slides from max_window_layers on",
			map[string]any{"use_sliding_window": true, "sliding_window": 4096, "max_window_layers": 20},
			func(t *testing.T, s *arch.Spec) {
				if s.Hyper.SlidingWindow != 4096 || len(s.Hyper.LayerTypes) != 28 {
					t.Fatalf("window %d, types %v", s.Hyper.SlidingWindow, s.Hyper.LayerTypes)
				}
				for i, want := range map[int]map[string]string{
					19: {arch.AttrAttention: "full"},
					20: {arch.AttrAttention: "sliding", arch.AttrWindow: "4096"},
					27: {arch.AttrAttention: "sliding", arch.AttrWindow: "4096"},
				} {
					if got := s.Root.Find("model.layers." + strconv.Itoa(i)).Attrs; !reflect.DeepEqual(got, want) {
						t.Errorf("layer %d attrs %v, want %v", i, got, want)
					}
				}
				// Unprinted: the print still folds all 28 layers into one run.
				if !strings.Contains(arch.Repr(s.Root), "(0-27): 28 x Qwen3DecoderLayer(") {
					t.Error("sliding layers broke the printed fold")
				}
			}},
		{"rope_scaling read", map[string]any{"rope_scaling": map[string]any{"rope_type": "yarn", "factor": 4.0}},
			func(t *testing.T, s *arch.Spec) {
				if s.Hyper.RopeScaling != "yarn" || s.Hyper.RopeFactor != 4 {
					t.Errorf("scaling %q x%v, want yarn x4", s.Hyper.RopeScaling, s.Hyper.RopeFactor)
				}
			}},
		{"attention_bias on q, k, v and o", map[string]any{"attention_bias": true, "pad_token_id": 151643},
			func(t *testing.T, s *arch.Spec) {
				tree := arch.Repr(s.Root)
				for _, want := range []string{
					"(o_proj): Linear(in_features=2048, out_features=1024, bias=True)",
					"(k_proj): Linear(in_features=1024, out_features=1024, bias=True)",
					"(embed_tokens): Embedding(151936, 1024, padding_idx=151643)",
				} {
					if !strings.Contains(tree, want) {
						t.Errorf("print lacks %q", want)
					}
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := familytest.ReadJSON(t, qwen06b)
			familytest.Edit(t, raw, tt.edit)
			tt.check(t, familytest.MustBuild(t, familytest.Parse(t, qwen06b, raw)))
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		edit map[string]any
		want string
	}{
		{map[string]any{"layer_types": []string{"full_attention", "full_attention"}},
			"layer_types has 2 entries but num_hidden_layers is 28"},
		{map[string]any{"num_key_value_heads": 3},
			"num_attention_heads (16) must be divisible by num_key_value_heads (3)"},
		{map[string]any{"num_hidden_layers": 0}, "num_hidden_layers must be positive, got 0"},
		{map[string]any{"hidden_act": "swoosh"}, `hidden_act "swoosh" is not an activation transformers knows`},
		{map[string]any{"use_sliding_window": true, "sliding_window": "big"}, "sliding_window must be an integer"},
		{map[string]any{"-": "rope_theta", "rope_parameters": 5}, "rope_parameters must be an object"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			raw := familytest.ReadJSON(t, qwen06b)
			familytest.Edit(t, raw, tt.edit)
			_, err := familytest.Build(t, familytest.Parse(t, qwen06b, raw))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
