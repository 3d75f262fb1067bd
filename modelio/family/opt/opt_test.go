package opt_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/family/familytest"
	_ "github.com/layerscope/layerscope/modelio/family/opt"
)

// opt125mFile is the gallery config the tests below build.
const opt125mFile = familytest.GalleryDir + "facebook__opt-125m.config.json"

func TestGalleryPrints(t *testing.T) {
	for _, tc := range []struct {
		file         string
		causal, base string
		params       int64 // real total, tied lm_head counted once (.scratch params.json)
	}{
		{"facebook__opt-125m.config.json", opt125mCausal, opt125mBase, 125_239_296},
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
			if got := base.NumParams(); got != tc.params {
				t.Errorf("base parameters = %d, want %d", got, tc.params)
			}
			if len(spec.Notes) != 0 {
				t.Errorf("notes for a plain pre-LN config: %q", spec.Notes)
			}
		})
	}
}

func TestHyper(t *testing.T) {
	want := arch.Hyper{
		Layers: 12, Hidden: 768, Heads: 12, KVHeads: 12, HeadDim: 64, Intermediate: 3072, Vocab: 50272,
		MaxPositions: 2048, MLP: arch.MLPClassic, Activation: "relu", Norm: arch.NormLayer,
		NormsPerBlock: 2, Positional: arch.PosLearned, TiedEmbeddings: true, AttentionBias: true, MLPBias: true,
	}
	if got := familytest.BuildFile(t, opt125mFile).Hyper; !reflect.DeepEqual(got, want) {
		t.Errorf("Hyper = %+v\nwant  %+v", got, want)
	}
}

func TestRoles(t *testing.T) {
	spec := familytest.BuildFile(t, opt125mFile)
	const layer = "model.decoder.layers.0"
	familytest.SameRoles(t, spec.Root, map[string]arch.Role{
		"model":                          arch.RoleModel,
		"model.decoder.embed_tokens":     arch.RoleTokenEmbedding,
		"model.decoder.embed_positions":  arch.RolePosEmbedding,
		"model.decoder.final_layer_norm": arch.RoleFinalNorm,
		"model.decoder.layers":           arch.RoleBlocks,
		layer:                            arch.RoleBlock,
		layer + ".self_attn":             arch.RoleAttention,
		layer + ".self_attn.q_proj":      arch.RoleQ,
		layer + ".self_attn.k_proj":      arch.RoleK,
		layer + ".self_attn.v_proj":      arch.RoleV,
		layer + ".self_attn.out_proj":    arch.RoleO,
		layer + ".self_attn_layer_norm":  arch.RoleNorm,
		layer + ".fc1":                   arch.RoleUp,
		layer + ".fc2":                   arch.RoleDown,
		layer + ".final_layer_norm":      arch.RoleNorm,
		"lm_head":                        arch.RoleLMHead,
	})
	if !spec.Root.Find("lm_head").Tied {
		t.Error("lm_head is not tied; OPTConfig's tie_word_embeddings defaults to true")
	}
}

// opt350mConfig holds the architecture keys of facebook/opt-350m: the only OPT size with
// word_embed_proj_dim (512) below hidden_size (1024), and with post-LN blocks.
const opt350mConfig = `{"model_type":"opt","activation_function":"relu","do_layer_norm_before":false,"ffn_dim":4096,
	"hidden_size":1024,"max_position_embeddings":2048,"num_attention_heads":16,"num_hidden_layers":24,
	"pad_token_id":1,"vocab_size":50272,"word_embed_proj_dim":512}`

// opt350mCausal follows OPTDecoder.__init__: project_out is assigned before project_in, and
// final_layer_norm only exists when do_layer_norm_before; lm_head reads word_embed_proj_dim.
const opt350mCausal = `OPTForCausalLM(
  (model): OPTModel(
    (decoder): OPTDecoder(
      (embed_tokens): Embedding(50272, 512, padding_idx=1)
      (embed_positions): OPTLearnedPositionalEmbedding(2050, 1024)
      (project_out): Linear(in_features=1024, out_features=512, bias=False)
      (project_in): Linear(in_features=512, out_features=1024, bias=False)
      (layers): ModuleList(
        (0-23): 24 x OPTDecoderLayer(
          (self_attn): OPTAttention(
            (k_proj): Linear(in_features=1024, out_features=1024, bias=True)
            (v_proj): Linear(in_features=1024, out_features=1024, bias=True)
            (q_proj): Linear(in_features=1024, out_features=1024, bias=True)
            (out_proj): Linear(in_features=1024, out_features=1024, bias=True)
          )
          (activation_fn): ReLU()
          (self_attn_layer_norm): LayerNorm((1024,), eps=1e-05, elementwise_affine=True)
          (fc1): Linear(in_features=1024, out_features=4096, bias=True)
          (fc2): Linear(in_features=4096, out_features=1024, bias=True)
          (final_layer_norm): LayerNorm((1024,), eps=1e-05, elementwise_affine=True)
        )
      )
    )
  )
  (lm_head): Linear(in_features=512, out_features=50272, bias=False)
)`

func TestVariants(t *testing.T) {
	for _, tc := range []struct {
		name, json string
		print      string // whole print, when set
		params     int64
		notes      int
		check      func(t *testing.T, s *arch.Spec)
	}{
		{
			name:   "opt-350m: projections and post-LN",
			json:   opt350mConfig,
			print:  opt350mCausal,
			params: 331_196_416, // facebook/opt-350m's published count
			notes:  1,
		},
		{
			name: "_remove_final_layer_norm, no bias, pad_token_id, untied",
			json: `{"model_type":"opt","hidden_size":8,"num_attention_heads":2,"num_hidden_layers":1,"ffn_dim":16,
				"vocab_size":10,"max_position_embeddings":4,"_remove_final_layer_norm":true,"enable_bias":false,
				"pad_token_id":0,"tie_word_embeddings":false,"activation_function":"gelu"}`,
			// embed 80 + positions 48 + q/k/v/o 256 + fc1 128 + fc2 128 + 2 norms 32 + lm_head 80
			params: 752,
			notes:  1,
			check: func(t *testing.T, s *arch.Spec) {
				got := arch.Repr(s.Root)
				for _, want := range []string{
					"(embed_tokens): Embedding(10, 8, padding_idx=0)",
					"(embed_positions): OPTLearnedPositionalEmbedding(6, 8)",
					"(k_proj): Linear(in_features=8, out_features=8, bias=False)",
					"(activation_fn): GELUActivation()",
				} {
					if !strings.Contains(got, want) {
						t.Errorf("print lacks %q:\n%s", want, got)
					}
				}
				if s.Root.Find("model.decoder.final_layer_norm") != nil {
					t.Error("decoder has a final_layer_norm despite _remove_final_layer_norm")
				}
				if s.Hyper.AttentionBias || s.Hyper.MLPBias || s.Hyper.TiedEmbeddings {
					t.Errorf("AttentionBias, MLPBias, TiedEmbeddings = %v, %v, %v; want all false",
						s.Hyper.AttentionBias, s.Hyper.MLPBias, s.Hyper.TiedEmbeddings)
				}
			},
		},
		{
			name: "pad_token_id absent defaults to 1",
			json: `{"model_type":"opt","hidden_size":8,"num_attention_heads":2,"num_hidden_layers":1,"ffn_dim":16,"vocab_size":10,"max_position_embeddings":4}`,
			// embed 80 + positions 48 + final norm 16 + q/k/v/o 288 + fc1 144 + fc2 136 + 2 norms 32
			params: 744,
			check: func(t *testing.T, s *arch.Spec) {
				if e := s.Root.Find("model.decoder.embed_tokens"); !e.HasPadding || e.PaddingIdx != 1 {
					t.Errorf("embed_tokens padding = %v, %d; want padding_idx=1", e.HasPadding, e.PaddingIdx)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := familytest.BuildJSON(t, tc.json)
			if err != nil {
				t.Fatal(err)
			}
			if tc.print != "" {
				if got := arch.Repr(spec.Root); got != tc.print {
					t.Errorf("print differs:\n%s", got)
				}
			}
			if got := spec.Root.NumParams(); got != tc.params {
				t.Errorf("parameters = %d, want %d", got, tc.params)
			}
			if len(spec.Notes) != tc.notes {
				t.Errorf("notes = %q, want %d", spec.Notes, tc.notes)
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
		{"heads do not divide hidden_size", `{"model_type":"opt","hidden_size":100,"num_attention_heads":3}`, []string{"hidden_size (100)", "num_attention_heads (3)"}},
		{"zero layers", `{"model_type":"opt","num_hidden_layers":0}`, []string{"num_hidden_layers must be positive"}},
		{"zero word_embed_proj_dim", `{"model_type":"opt","word_embed_proj_dim":0}`, []string{"word_embed_proj_dim must be positive"}},
		{"wrong type", `{"model_type":"opt","do_layer_norm_before":"yes"}`, []string{"do_layer_norm_before must be true or false"}},
		{"pad outside vocab", `{"model_type":"opt","vocab_size":10,"pad_token_id":10}`, []string{"pad_token_id (10)", "vocab_size (10)"}},
		{"unknown activation", `{"model_type":"opt","activation_function":"swiglu"}`, []string{"activation_function", "swiglu"}},
		{"no elementwise affine", `{"model_type":"opt","layer_norm_elementwise_affine":false}`, []string{"layer_norm_elementwise_affine"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := familytest.BuildJSON(t, tc.json)
			familytest.ErrorMentions(t, err, tc.want...)
		})
	}
}

// opt125mCausal is print(model) of facebook/opt-125m loaded with AutoModelForCausalLM. Note the order
// OPTDecoder registers: final_layer_norm before layers, and OPTDecoderLayer: activation_fn between
// self_attn and its norm. transformers 5.17 prints the same.
const opt125mCausal = `OPTForCausalLM(
  (model): OPTModel(
    (decoder): OPTDecoder(
      (embed_tokens): Embedding(50272, 768, padding_idx=1)
      (embed_positions): OPTLearnedPositionalEmbedding(2050, 768)
      (final_layer_norm): LayerNorm((768,), eps=1e-05, elementwise_affine=True)
      (layers): ModuleList(
        (0-11): 12 x OPTDecoderLayer(
          (self_attn): OPTAttention(
            (k_proj): Linear(in_features=768, out_features=768, bias=True)
            (v_proj): Linear(in_features=768, out_features=768, bias=True)
            (q_proj): Linear(in_features=768, out_features=768, bias=True)
            (out_proj): Linear(in_features=768, out_features=768, bias=True)
          )
          (activation_fn): ReLU()
          (self_attn_layer_norm): LayerNorm((768,), eps=1e-05, elementwise_affine=True)
          (fc1): Linear(in_features=768, out_features=3072, bias=True)
          (fc2): Linear(in_features=3072, out_features=768, bias=True)
          (final_layer_norm): LayerNorm((768,), eps=1e-05, elementwise_affine=True)
        )
      )
    )
  )
  (lm_head): Linear(in_features=768, out_features=50272, bias=False)
)`

// opt125mBase is print(model) of facebook/opt-125m loaded with AutoModel (OPTModel).
const opt125mBase = `OPTModel(
  (decoder): OPTDecoder(
    (embed_tokens): Embedding(50272, 768, padding_idx=1)
    (embed_positions): OPTLearnedPositionalEmbedding(2050, 768)
    (final_layer_norm): LayerNorm((768,), eps=1e-05, elementwise_affine=True)
    (layers): ModuleList(
      (0-11): 12 x OPTDecoderLayer(
        (self_attn): OPTAttention(
          (k_proj): Linear(in_features=768, out_features=768, bias=True)
          (v_proj): Linear(in_features=768, out_features=768, bias=True)
          (q_proj): Linear(in_features=768, out_features=768, bias=True)
          (out_proj): Linear(in_features=768, out_features=768, bias=True)
        )
        (activation_fn): ReLU()
        (self_attn_layer_norm): LayerNorm((768,), eps=1e-05, elementwise_affine=True)
        (fc1): Linear(in_features=768, out_features=3072, bias=True)
        (fc2): Linear(in_features=3072, out_features=768, bias=True)
        (final_layer_norm): LayerNorm((768,), eps=1e-05, elementwise_affine=True)
      )
    )
  )
)`
