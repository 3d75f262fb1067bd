package gpt2_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/family/familytest"
	_ "github.com/layerscope/layerscope/modelio/family/gpt2"
)

// gpt2File is the gallery config the tests below build.
const gpt2File = familytest.GalleryDir + "openai-community__gpt2.config.json"

func TestGalleryPrints(t *testing.T) {
	for _, tc := range []struct {
		file         string
		causal, base string
		params       int64 // real total, tied lm_head counted once (.scratch params.json)
	}{
		{"openai-community__gpt2.config.json", gpt2Causal, gpt2Base, 124_439_808},
		{"distilbert__distilgpt2.config.json", distilgpt2Causal, distilgpt2Base, 81_912_576},
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
			// The lm_head is tied to wte, so the base model holds every parameter.
			if got := base.NumParams(); got != tc.params {
				t.Errorf("base parameters = %d, want %d", got, tc.params)
			}
		})
	}
}

func TestHyper(t *testing.T) {
	want := arch.Hyper{
		Layers: 12, Hidden: 768, Heads: 12, KVHeads: 12, HeadDim: 64, Intermediate: 3072, Vocab: 50257,
		MaxPositions: 1024, MLP: arch.MLPClassic, Activation: "gelu_new", Norm: arch.NormLayer,
		NormsPerBlock: 2, Positional: arch.PosLearned, TiedEmbeddings: true, AttentionBias: true, MLPBias: true,
	}
	if got := familytest.BuildFile(t, gpt2File).Hyper; !reflect.DeepEqual(got, want) {
		t.Errorf("Hyper = %+v\nwant  %+v", got, want)
	}
}

func TestRoles(t *testing.T) {
	spec := familytest.BuildFile(t, gpt2File)
	familytest.SameRoles(t, spec.Root, map[string]arch.Role{
		"transformer":                 arch.RoleModel,
		"transformer.wte":             arch.RoleTokenEmbedding,
		"transformer.wpe":             arch.RolePosEmbedding,
		"transformer.h":               arch.RoleBlocks,
		"transformer.h.0":             arch.RoleBlock,
		"transformer.h.0.ln_1":        arch.RoleNorm,
		"transformer.h.0.attn":        arch.RoleAttention,
		"transformer.h.0.attn.c_attn": arch.RoleQKV,
		"transformer.h.0.attn.c_proj": arch.RoleO,
		"transformer.h.0.mlp":         arch.RoleMLP,
		"transformer.h.0.mlp.c_fc":    arch.RoleUp,
		"transformer.h.0.mlp.c_proj":  arch.RoleDown,
		"transformer.ln_f":            arch.RoleFinalNorm,
		"lm_head":                     arch.RoleLMHead,
	})
	if !spec.Root.Find("lm_head").Tied {
		t.Error("lm_head is not tied, but gpt2 configs omit tie_word_embeddings and the default is true")
	}
}

// crossAttentionPrint follows GPT2Block.__init__: crossattention and ln_cross_attn come after ln_2 and
// before mlp; the cross GPT2Attention registers c_attn (2·D, keys and values) then q_attn.
const crossAttentionPrint = `GPT2LMHeadModel(
  (transformer): GPT2Model(
    (wte): Embedding(10, 8)
    (wpe): Embedding(4, 8)
    (drop): Dropout(p=0.1, inplace=False)
    (h): ModuleList(
      (0): GPT2Block(
        (ln_1): LayerNorm((8,), eps=1e-05, elementwise_affine=True)
        (attn): GPT2Attention(
          (c_attn): Conv1D(nf=24, nx=8)
          (c_proj): Conv1D(nf=8, nx=8)
          (attn_dropout): Dropout(p=0.1, inplace=False)
          (resid_dropout): Dropout(p=0.1, inplace=False)
        )
        (ln_2): LayerNorm((8,), eps=1e-05, elementwise_affine=True)
        (crossattention): GPT2Attention(
          (c_attn): Conv1D(nf=16, nx=8)
          (q_attn): Conv1D(nf=8, nx=8)
          (c_proj): Conv1D(nf=8, nx=8)
          (attn_dropout): Dropout(p=0.1, inplace=False)
          (resid_dropout): Dropout(p=0.1, inplace=False)
        )
        (ln_cross_attn): LayerNorm((8,), eps=1e-05, elementwise_affine=True)
        (mlp): GPT2MLP(
          (c_fc): Conv1D(nf=32, nx=8)
          (c_proj): Conv1D(nf=8, nx=32)
          (act): NewGELUActivation()
          (dropout): Dropout(p=0.1, inplace=False)
        )
      )
    )
    (ln_f): LayerNorm((8,), eps=1e-05, elementwise_affine=True)
  )
  (lm_head): Linear(in_features=8, out_features=10, bias=False)
)`

func TestVariants(t *testing.T) {
	for _, tc := range []struct {
		name, json string
		print      string // whole print, when set
		params     int64
		check      func(t *testing.T, s *arch.Spec)
	}{
		{
			name:  "add_cross_attention",
			json:  `{"model_type":"gpt2","n_embd":8,"n_head":2,"n_layer":1,"vocab_size":10,"n_positions":4,"add_cross_attention":true}`,
			print: crossAttentionPrint,
			// wte 80 + wpe 32 + block 1176 + ln_f 16; lm_head tied.
			params: 1304,
			check: func(t *testing.T, s *arch.Spec) {
				if s.Hyper.NormsPerBlock != 3 {
					t.Errorf("NormsPerBlock = %d, want 3", s.Hyper.NormsPerBlock)
				}
			},
		},
		{
			// hidden_size and friends are attribute_map aliases; set after GPT2Config's own keys, they win.
			name:   "generic key names win over n_*",
			json:   `{"model_type":"gpt2","n_embd":768,"hidden_size":8,"n_head":12,"num_attention_heads":2,"n_layer":1,"vocab_size":10,"n_positions":4}`,
			params: 80 + 32 + 16 + 216 + 72 + 16 + 288 + 264 + 16,
			check: func(t *testing.T, s *arch.Spec) {
				if s.Hyper.Hidden != 8 || s.Hyper.Heads != 2 || s.Hyper.HeadDim != 4 {
					t.Errorf("Hidden, Heads, HeadDim = %d, %d, %d; want 8, 2, 4", s.Hyper.Hidden, s.Hyper.Heads, s.Hyper.HeadDim)
				}
			},
		},
		{
			name: "n_inner, untied head, activation, dropouts",
			json: `{"model_type":"gpt2","n_embd":8,"n_head":2,"n_layer":1,"vocab_size":10,"n_positions":4,"n_inner":12,
				"tie_word_embeddings":false,"activation_function":"relu","resid_pdrop":0.0,"attn_pdrop":0.2,"embd_pdrop":0.3,
				"layer_norm_epsilon":1e-6}`,
			// wte 80 + wpe 32 + ln 16 + c_attn 216 + c_proj 72 + ln 16 + c_fc 108 + c_proj 104 + ln_f 16 + lm_head 80
			params: 740,
			check: func(t *testing.T, s *arch.Spec) {
				got := arch.Repr(s.Root)
				for _, want := range []string{
					"(drop): Dropout(p=0.3, inplace=False)",
					"(attn_dropout): Dropout(p=0.2, inplace=False)",
					"(resid_dropout): Dropout(p=0.0, inplace=False)",
					"(c_fc): Conv1D(nf=12, nx=8)",
					"(act): ReLU()",
					"(ln_f): LayerNorm((8,), eps=1e-06, elementwise_affine=True)",
				} {
					if !strings.Contains(got, want) {
						t.Errorf("print lacks %q:\n%s", want, got)
					}
				}
				if s.Root.Find("lm_head").Tied || s.Hyper.TiedEmbeddings {
					t.Error("lm_head tied although tie_word_embeddings is false")
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
		{"heads do not divide n_embd", `{"model_type":"gpt2","n_embd":100,"n_head":3}`, []string{"n_embd (100)", "n_head (3)"}},
		{"heads do not divide hidden_size", `{"model_type":"gpt2","hidden_size":100,"num_attention_heads":3}`, []string{"hidden_size (100)", "num_attention_heads (3)"}},
		{"zero layers", `{"model_type":"gpt2","n_layer":0}`, []string{"n_layer must be positive"}},
		{"zero heads", `{"model_type":"gpt2","n_head":0}`, []string{"n_head must be positive"}},
		{"wrong type", `{"model_type":"gpt2","n_embd":"768"}`, []string{"n_embd must be an integer"}},
		{"unknown activation", `{"model_type":"gpt2","activation_function":"gelu_newer"}`, []string{"activation_function", "gelu_newer"}},
		{"n_inner zero", `{"model_type":"gpt2","n_inner":0}`, []string{"n_inner must be positive"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := familytest.BuildJSON(t, tc.json)
			familytest.ErrorMentions(t, err, tc.want...)
		})
	}
}

// gpt2Causal is print(model) of openai-community/gpt2 loaded with AutoModelForCausalLM. transformers 5.17
// prints the same: nothing in GPT-2's modules or in NewGELUActivation changed between 4.55 and 5.17.
const gpt2Causal = `GPT2LMHeadModel(
  (transformer): GPT2Model(
    (wte): Embedding(50257, 768)
    (wpe): Embedding(1024, 768)
    (drop): Dropout(p=0.1, inplace=False)
    (h): ModuleList(
      (0-11): 12 x GPT2Block(
        (ln_1): LayerNorm((768,), eps=1e-05, elementwise_affine=True)
        (attn): GPT2Attention(
          (c_attn): Conv1D(nf=2304, nx=768)
          (c_proj): Conv1D(nf=768, nx=768)
          (attn_dropout): Dropout(p=0.1, inplace=False)
          (resid_dropout): Dropout(p=0.1, inplace=False)
        )
        (ln_2): LayerNorm((768,), eps=1e-05, elementwise_affine=True)
        (mlp): GPT2MLP(
          (c_fc): Conv1D(nf=3072, nx=768)
          (c_proj): Conv1D(nf=768, nx=3072)
          (act): NewGELUActivation()
          (dropout): Dropout(p=0.1, inplace=False)
        )
      )
    )
    (ln_f): LayerNorm((768,), eps=1e-05, elementwise_affine=True)
  )
  (lm_head): Linear(in_features=768, out_features=50257, bias=False)
)`

// gpt2Base is print(model) of openai-community/gpt2 loaded with AutoModel (GPT2Model).
const gpt2Base = `GPT2Model(
  (wte): Embedding(50257, 768)
  (wpe): Embedding(1024, 768)
  (drop): Dropout(p=0.1, inplace=False)
  (h): ModuleList(
    (0-11): 12 x GPT2Block(
      (ln_1): LayerNorm((768,), eps=1e-05, elementwise_affine=True)
      (attn): GPT2Attention(
        (c_attn): Conv1D(nf=2304, nx=768)
        (c_proj): Conv1D(nf=768, nx=768)
        (attn_dropout): Dropout(p=0.1, inplace=False)
        (resid_dropout): Dropout(p=0.1, inplace=False)
      )
      (ln_2): LayerNorm((768,), eps=1e-05, elementwise_affine=True)
      (mlp): GPT2MLP(
        (c_fc): Conv1D(nf=3072, nx=768)
        (c_proj): Conv1D(nf=768, nx=3072)
        (act): NewGELUActivation()
        (dropout): Dropout(p=0.1, inplace=False)
      )
    )
  )
  (ln_f): LayerNorm((768,), eps=1e-05, elementwise_affine=True)
)`

// distilgpt2Causal: distilgpt2 is a gpt2 config with 6 layers.
const distilgpt2Causal = `GPT2LMHeadModel(
  (transformer): GPT2Model(
    (wte): Embedding(50257, 768)
    (wpe): Embedding(1024, 768)
    (drop): Dropout(p=0.1, inplace=False)
    (h): ModuleList(
      (0-5): 6 x GPT2Block(
        (ln_1): LayerNorm((768,), eps=1e-05, elementwise_affine=True)
        (attn): GPT2Attention(
          (c_attn): Conv1D(nf=2304, nx=768)
          (c_proj): Conv1D(nf=768, nx=768)
          (attn_dropout): Dropout(p=0.1, inplace=False)
          (resid_dropout): Dropout(p=0.1, inplace=False)
        )
        (ln_2): LayerNorm((768,), eps=1e-05, elementwise_affine=True)
        (mlp): GPT2MLP(
          (c_fc): Conv1D(nf=3072, nx=768)
          (c_proj): Conv1D(nf=768, nx=3072)
          (act): NewGELUActivation()
          (dropout): Dropout(p=0.1, inplace=False)
        )
      )
    )
    (ln_f): LayerNorm((768,), eps=1e-05, elementwise_affine=True)
  )
  (lm_head): Linear(in_features=768, out_features=50257, bias=False)
)`

const distilgpt2Base = `GPT2Model(
  (wte): Embedding(50257, 768)
  (wpe): Embedding(1024, 768)
  (drop): Dropout(p=0.1, inplace=False)
  (h): ModuleList(
    (0-5): 6 x GPT2Block(
      (ln_1): LayerNorm((768,), eps=1e-05, elementwise_affine=True)
      (attn): GPT2Attention(
        (c_attn): Conv1D(nf=2304, nx=768)
        (c_proj): Conv1D(nf=768, nx=768)
        (attn_dropout): Dropout(p=0.1, inplace=False)
        (resid_dropout): Dropout(p=0.1, inplace=False)
      )
      (ln_2): LayerNorm((768,), eps=1e-05, elementwise_affine=True)
      (mlp): GPT2MLP(
        (c_fc): Conv1D(nf=3072, nx=768)
        (c_proj): Conv1D(nf=768, nx=3072)
        (act): NewGELUActivation()
        (dropout): Dropout(p=0.1, inplace=False)
      )
    )
  )
  (ln_f): LayerNorm((768,), eps=1e-05, elementwise_affine=True)
)`
