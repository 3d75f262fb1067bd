package gptneox_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/family/familytest"
	_ "github.com/layerscope/layerscope/modelio/family/gptneox"
)

// pythia70mFile is the gallery config the tests below build.
const pythia70mFile = familytest.GalleryDir + "EleutherAI__pythia-70m.config.json"

// pythia70mCausal is print(model) of EleutherAI/pythia-70m under transformers 4.55, derived from
// modeling_gpt_neox.py there: GPTNeoXLayer registers its two norms and two dropouts before attention
// and mlp; since the attention refactor (v4.48) GPTNeoXAttention holds only query_key_value and dense,
// and the one GPTNeoXRotaryEmbedding sits on the model after final_layer_norm. Prints from transformers
// before v4.48 show (rotary_emb) and (attention_dropout) inside the attention instead.
const pythia70mCausal = `GPTNeoXForCausalLM(
  (gpt_neox): GPTNeoXModel(
    (embed_in): Embedding(50304, 512)
    (emb_dropout): Dropout(p=0.0, inplace=False)
    (layers): ModuleList(
      (0-5): 6 x GPTNeoXLayer(
        (input_layernorm): LayerNorm((512,), eps=1e-05, elementwise_affine=True)
        (post_attention_layernorm): LayerNorm((512,), eps=1e-05, elementwise_affine=True)
        (post_attention_dropout): Dropout(p=0.0, inplace=False)
        (post_mlp_dropout): Dropout(p=0.0, inplace=False)
        (attention): GPTNeoXAttention(
          (query_key_value): Linear(in_features=512, out_features=1536, bias=True)
          (dense): Linear(in_features=512, out_features=512, bias=True)
        )
        (mlp): GPTNeoXMLP(
          (dense_h_to_4h): Linear(in_features=512, out_features=2048, bias=True)
          (dense_4h_to_h): Linear(in_features=2048, out_features=512, bias=True)
          (act): GELUActivation()
        )
      )
    )
    (final_layer_norm): LayerNorm((512,), eps=1e-05, elementwise_affine=True)
    (rotary_emb): GPTNeoXRotaryEmbedding()
  )
  (embed_out): Linear(in_features=512, out_features=50304, bias=False)
)`

// pythia70mBase is print(model) of EleutherAI/pythia-70m loaded with AutoModel (GPTNeoXModel).
const pythia70mBase = `GPTNeoXModel(
  (embed_in): Embedding(50304, 512)
  (emb_dropout): Dropout(p=0.0, inplace=False)
  (layers): ModuleList(
    (0-5): 6 x GPTNeoXLayer(
      (input_layernorm): LayerNorm((512,), eps=1e-05, elementwise_affine=True)
      (post_attention_layernorm): LayerNorm((512,), eps=1e-05, elementwise_affine=True)
      (post_attention_dropout): Dropout(p=0.0, inplace=False)
      (post_mlp_dropout): Dropout(p=0.0, inplace=False)
      (attention): GPTNeoXAttention(
        (query_key_value): Linear(in_features=512, out_features=1536, bias=True)
        (dense): Linear(in_features=512, out_features=512, bias=True)
      )
      (mlp): GPTNeoXMLP(
        (dense_h_to_4h): Linear(in_features=512, out_features=2048, bias=True)
        (dense_4h_to_h): Linear(in_features=2048, out_features=512, bias=True)
        (act): GELUActivation()
      )
    )
  )
  (final_layer_norm): LayerNorm((512,), eps=1e-05, elementwise_affine=True)
  (rotary_emb): GPTNeoXRotaryEmbedding()
)`

func TestGalleryPrints(t *testing.T) {
	for _, tc := range []struct {
		file         string
		causal, base string
		params       int64 // real total
		baseParams   int64 // without embed_out, which pythia does not tie
	}{
		{"EleutherAI__pythia-70m.config.json", pythia70mCausal, pythia70mBase, 70_426_624, 70_426_624 - 50304*512},
	} {
		t.Run(tc.file, func(t *testing.T) {
			spec := familytest.BuildFile(t, familytest.GalleryDir+tc.file)
			if got := arch.Repr(spec.Root); got != tc.causal {
				t.Errorf("causal print differs:\n%s", got)
			}
			base := spec.Base()
			if base == nil {
				t.Fatalf("no base module at %q", spec.BasePath)
			}
			if got := arch.Repr(base); got != tc.base {
				t.Errorf("base print differs:\n%s", got)
			}
			if got := spec.Root.NumParams(); got != tc.params {
				t.Errorf("causal parameters = %d, want %d", got, tc.params)
			}
			if got := base.NumParams(); got != tc.baseParams {
				t.Errorf("base parameters = %d, want %d", got, tc.baseParams)
			}
		})
	}
}

func TestHyper(t *testing.T) {
	want := arch.Hyper{
		Layers: 6, Hidden: 512, Heads: 8, KVHeads: 8, HeadDim: 64, Intermediate: 2048, Vocab: 50304,
		MaxPositions: 2048, MLP: arch.MLPClassic, Activation: "gelu", Norm: arch.NormLayer, NormsPerBlock: 2,
		ParallelBlock: true, Positional: arch.PosRoPE, RotaryFraction: 0.25, RopeTheta: 10000,
		AttentionBias: true, MLPBias: true,
	}
	if got := familytest.BuildFile(t, pythia70mFile).Hyper; !reflect.DeepEqual(got, want) {
		t.Errorf("Hyper = %+v\nwant  %+v", got, want)
	}
}

func TestRoles(t *testing.T) {
	spec := familytest.BuildFile(t, pythia70mFile)
	const layer = "gpt_neox.layers.0"
	familytest.SameRoles(t, spec.Root, map[string]arch.Role{
		"gpt_neox":                           arch.RoleModel,
		"gpt_neox.embed_in":                  arch.RoleTokenEmbedding,
		"gpt_neox.layers":                    arch.RoleBlocks,
		layer:                                arch.RoleBlock,
		layer + ".input_layernorm":           arch.RoleNorm,
		layer + ".post_attention_layernorm":  arch.RoleNorm,
		layer + ".attention":                 arch.RoleAttention,
		layer + ".attention.query_key_value": arch.RoleQKV,
		layer + ".attention.dense":           arch.RoleO,
		layer + ".mlp":                       arch.RoleMLP,
		layer + ".mlp.dense_h_to_4h":         arch.RoleUp,
		layer + ".mlp.dense_4h_to_h":         arch.RoleDown,
		"gpt_neox.final_layer_norm":          arch.RoleFinalNorm,
		"embed_out":                          arch.RoleLMHead,
	})
	if spec.Root.Find("embed_out").Tied {
		t.Error("embed_out is tied, but pythia sets tie_word_embeddings false")
	}
}

func TestVariants(t *testing.T) {
	const small = `"model_type":"gpt_neox","hidden_size":8,"num_attention_heads":2,"num_hidden_layers":1,
		"intermediate_size":16,"vocab_size":10`
	for _, tc := range []struct {
		name, json string
		params     int64
		check      func(t *testing.T, s *arch.Spec)
	}{
		{
			name: "tied, sequential residual, no attention bias, dropout",
			json: `{` + small + `,"tie_word_embeddings":true,"use_parallel_residual":false,"attention_bias":false,
				"hidden_dropout":0.1,"hidden_act":"gelu_new","layer_norm_eps":1e-6}`,
			// embed_in 80 + 2 norms 32 + qkv 192 + dense 64 + h_to_4h 144 + 4h_to_h 136 + final norm 16
			params: 664,
			check: func(t *testing.T, s *arch.Spec) {
				got := arch.Repr(s.Root)
				for _, want := range []string{
					"(emb_dropout): Dropout(p=0.1, inplace=False)",
					"(post_mlp_dropout): Dropout(p=0.1, inplace=False)",
					"(query_key_value): Linear(in_features=8, out_features=24, bias=False)",
					"(act): NewGELUActivation()",
					"(final_layer_norm): LayerNorm((8,), eps=1e-06, elementwise_affine=True)",
				} {
					if !strings.Contains(got, want) {
						t.Errorf("print lacks %q:\n%s", want, got)
					}
				}
				if !s.Root.Find("embed_out").Tied || !s.Hyper.TiedEmbeddings {
					t.Error("embed_out not tied although tie_word_embeddings is true")
				}
				if s.Hyper.ParallelBlock || s.Hyper.AttentionBias || !s.Hyper.MLPBias {
					t.Errorf("ParallelBlock, AttentionBias, MLPBias = %v, %v, %v; want false, false, true",
						s.Hyper.ParallelBlock, s.Hyper.AttentionBias, s.Hyper.MLPBias)
				}
			},
		},
		{
			// A config saved by transformers >= 4.48 carries rope_theta and partial_rotary_factor too;
			// GPTNeoXConfig overwrites both from rotary_emb_base and rotary_pct.
			name:   "rotary_emb_base and rotary_pct win",
			json:   `{` + small + `,"rotary_emb_base":500,"rope_theta":10000,"rotary_pct":0.5,"partial_rotary_factor":0.25,"rope_scaling":{"rope_type":"linear","factor":2.0}}`,
			params: 80 + 32 + 216 + 72 + 144 + 136 + 16 + 80,
			check: func(t *testing.T, s *arch.Spec) {
				h := s.Hyper
				if h.RopeTheta != 500 || h.RotaryFraction != 0.5 || h.RopeScaling != "linear" || h.RopeFactor != 2 {
					t.Errorf("RopeTheta, RotaryFraction, RopeScaling, RopeFactor = %v, %v, %q, %v; want 500, 0.5, linear, 2",
						h.RopeTheta, h.RotaryFraction, h.RopeScaling, h.RopeFactor)
				}
			},
		},
		{
			name:   "rotary_pct 0 stays 0",
			json:   `{` + small + `,"rotary_pct":0}`,
			params: 80 + 32 + 216 + 72 + 144 + 136 + 16 + 80,
			check: func(t *testing.T, s *arch.Spec) {
				if s.Hyper.RotaryFraction != 0 {
					t.Errorf("RotaryFraction = %v, want 0", s.Hyper.RotaryFraction)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := familytest.BuildJSON(t, tc.json)
			if err != nil {
				t.Fatal(err)
			}
			if got := spec.Root.NumParams(); got != tc.params {
				t.Errorf("parameters = %d, want %d", got, tc.params)
			}
			if tc.check != nil {
				tc.check(t, spec)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, json string
		want       []string // all must appear in the error
	}{
		{"heads do not divide hidden_size", `{"model_type":"gpt_neox","hidden_size":100,"num_attention_heads":3}`, []string{"hidden_size (100)", "num_attention_heads (3)"}},
		{"zero layers", `{"model_type":"gpt_neox","num_hidden_layers":0}`, []string{"num_hidden_layers must be positive"}},
		{"wrong type", `{"model_type":"gpt_neox","use_parallel_residual":1}`, []string{"use_parallel_residual must be true or false"}},
		{"rotary_pct above 1", `{"model_type":"gpt_neox","rotary_pct":1.5}`, []string{"rotary_pct", "1.5"}},
		{"unknown activation", `{"model_type":"gpt_neox","hidden_act":"geglu"}`, []string{"hidden_act", "geglu"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := familytest.BuildJSON(t, tc.json)
			familytest.ErrorMentions(t, err, tc.want...)
		})
	}
}
