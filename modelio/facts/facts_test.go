package facts_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/config"
	"github.com/layerscope/layerscope/modelio/facts"
	_ "github.com/layerscope/layerscope/modelio/family/gemma3"
	_ "github.com/layerscope/layerscope/modelio/family/gpt2"
	_ "github.com/layerscope/layerscope/modelio/family/gptneox"
	_ "github.com/layerscope/layerscope/modelio/family/llama"
	_ "github.com/layerscope/layerscope/modelio/family/mixtral"
	_ "github.com/layerscope/layerscope/modelio/family/opt"
	_ "github.com/layerscope/layerscope/modelio/family/phi"
	_ "github.com/layerscope/layerscope/modelio/family/phi3"
	_ "github.com/layerscope/layerscope/modelio/family/qwen3"
	_ "github.com/layerscope/layerscope/modelio/family/qwen3moe"
	"github.com/layerscope/layerscope/modelio/generic"
	"github.com/layerscope/layerscope/modelio/weights"
)

var dump = flag.Bool("dump", false, "log the facts table of every model tested")

const configs = "../gallery/configs/"

// compute builds a gallery config the way modelio does (family Build, then Describe) and computes its
// facts; it skips the test when the config's family is not registered.
func compute(t *testing.T, stem string) *facts.Facts {
	t.Helper()
	spec := build(t, stem, nil)
	return facts.Compute(stem, spec, describe(spec), 0, nil)
}

// build returns the spec of a gallery config with edits applied to its config.json keys.
func build(t *testing.T, stem string, edits map[string]any) *arch.Spec {
	t.Helper()
	path := configs + stem + ".config.json"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if edits != nil {
		var raw map[string]any
		if err := json.Unmarshal(data, &raw); err != nil {
			t.Fatal(err)
		}
		for k, v := range edits {
			raw[k] = v
		}
		if data, err = json.Marshal(raw); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Parse(path, data)
	if err != nil {
		t.Fatal(err)
	}
	mt := cfg.String("model_type", "")
	fam, ok := arch.Lookup(mt)
	if !ok {
		t.Skipf("model_type %q: no family registered", mt)
	}
	spec, err := fam.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func describe(spec *arch.Spec) *arch.Architecture { return arch.Describe(spec) }

// The real totals, from the models' safetensors (tied embeddings counted once).
var totals = map[string]int64{
	"Qwen__Qwen3-0.6B":                    596049920,
	"google__gemma-3-270m":                268098176,
	"meta-llama__Llama-3.2-1B":            1235814400,
	"meta-llama__Llama-3.1-8B":            8030261248,
	"HuggingFaceTB__SmolLM2-135M":         134515008,
	"Qwen__Qwen2.5-0.5B":                  494032768,
	"TinyLlama__TinyLlama-1.1B-Chat-v1.0": 1100048384,
	"mistralai__Mistral-7B-v0.1":          7241732096,
	"openai-community__gpt2":              124439808,
	"distilbert__distilgpt2":              81912576,
	"facebook__opt-125m":                  125239296,
	"microsoft__phi-2":                    2779683840,
	"microsoft__Phi-4-mini-instruct":      3836021760,
	"mistralai__Mixtral-8x7B-v0.1":        46702792704,
	"Qwen__Qwen3-30B-A3B":                 30532122624,
	"EleutherAI__pythia-70m":              70426624,
}

func galleryStems(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(configs + "*.config.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no gallery configs in %s: %v", configs, err)
	}
	var stems []string
	for _, f := range files {
		stems = append(stems, strings.TrimSuffix(filepath.Base(f), ".config.json"))
	}
	return stems
}

func TestGalleryTotals(t *testing.T) {
	for _, stem := range galleryStems(t) {
		t.Run(stem, func(t *testing.T) {
			want, ok := totals[stem]
			if !ok {
				t.Fatalf("no known total for gallery model %s: add it to the table", stem)
			}
			f := compute(t, stem)
			p := f.Parameters
			if p.Total != want {
				t.Errorf("total = %d, want %d", p.Total, want)
			}
			if sum := p.Embeddings + p.Attention + p.MLP + p.Norms + p.LMHead + p.Other; sum != p.Total {
				t.Errorf("components add up to %d, total is %d: %+v", sum, p.Total, p)
			}
			if p.TiedEmbeddings != (p.LMHead == 0) {
				t.Errorf("tied_embeddings %v but lm_head %d", p.TiedEmbeddings, p.LMHead)
			}
			if p.BlockMin <= 0 || p.BlockMin > p.BlockMax {
				t.Errorf("per-block min %d, max %d", p.BlockMin, p.BlockMax)
			}
			if p.Active <= 0 || p.Active > p.Total {
				t.Errorf("active %d of %d", p.Active, p.Total)
			}
			if f.Memory.BF16.Bytes != 2*p.Total || f.Memory.FP32.Bytes != 4*p.Total ||
				f.Memory.Int8.Bytes != p.Total || f.Memory.Int4.Bytes != (p.Total+1)/2 {
				t.Errorf("memory %+v for %d parameters", f.Memory, p.Total)
			}
			for _, c := range f.Characteristics {
				if c.Value == "" || c.Explanation == "" {
					t.Errorf("characteristic %q is empty: %+v", c.Key, c)
				}
			}
			if *dump {
				t.Log("\n" + f.Text())
			}
		})
	}
}

func characteristic(f *facts.Facts, key string) (string, string) {
	for _, c := range f.Characteristics {
		if c.Key == key {
			return c.Value, c.Explanation
		}
	}
	return "", ""
}

func hint(f *facts.Facts, kind string) string {
	for _, h := range f.PruningHints {
		if h.Kind == kind {
			return h.Text
		}
	}
	return ""
}

// TestCharacteristics pins the lines a lecturer reads for the traits that set the gallery models apart.
func TestCharacteristics(t *testing.T) {
	tests := []struct {
		stem, key, value, explanation string
	}{
		{"meta-llama__Llama-3.2-1B", "attention", "GQA 32:8", "GQA: 32 query heads share 8 key/value heads, 4:1"},
		{"meta-llama__Llama-3.2-1B", "layers", "16", "16 identical blocks"},
		{"meta-llama__Llama-3.2-1B", "head_dim", "64", "each head is 64 wide: 32 heads × 64 = 2048, the hidden size"},
		{"meta-llama__Llama-3.2-1B", "mlp", "GLU 4.00×", "GLU (SwiGLU): gate and up 8192 wide, 4.00× hidden; three matrices per MLP"},
		{"meta-llama__Llama-3.2-1B", "positional", "RoPE", "RoPE θ=500000 with llama3 scaling ×32"},
		{"meta-llama__Llama-3.2-1B", "tied_embeddings", "yes", "lm_head reuses the token embedding matrix: saves 128,256 × 2048 = 262,668,288 parameters (V×H)"},
		{"meta-llama__Llama-3.2-1B", "biases", "none", "no projection has a bias"},
		{"meta-llama__Llama-3.2-1B", "norm", "RMSNorm ×2", "RMSNorm: 2 per block (input_layernorm, post_attention_layernorm), and a final norm"},
		{"meta-llama__Llama-3.2-1B", "context_length", "131,072", "up to 131,072 tokens (max_position_embeddings), reached through llama3 RoPE scaling ×32"},
		{"meta-llama__Llama-3.1-8B", "tied_embeddings", "no", "lm_head has its own matrix: 128,256 × 4096 = 525,336,576 parameters (V×H)"},
		{"openai-community__gpt2", "attention", "MHA 12:12", "MHA: each of the 12 query heads has its own key/value head"},
		{"openai-community__gpt2", "positional", "learned", "learned absolute position embeddings up to 1,024 positions, added to the token embeddings"},
		{"openai-community__gpt2", "mlp", "classic 4.00×", "classic MLP: c_fc widens 768 → 3072, 4.00× hidden, c_proj narrows back; two matrices per MLP"},
		{"openai-community__gpt2", "biases", "all", "every projection has a bias"},
		{"google__gemma-3-270m", "attention", "MQA 4:1", "MQA: all 4 query heads share one key/value head"},
		{"google__gemma-3-270m", "layers", "18", "18 blocks: 15 sliding-window, 3 full attention"},
		{"google__gemma-3-270m", "head_dim", "256", "4 heads × 256 = 1024 ≠ hidden 640: q_proj widens 640 → 1024"},
		{"google__gemma-3-270m", "mlp", "GLU 3.20×", "GLU (GeGLU): gate and up 2048 wide, 3.20× hidden; three matrices per MLP"},
		{"google__gemma-3-270m", "sliding_window", "512, 5:1", "15 of 18 layers attend to the last 512 tokens only; every 6th layer attends to the whole context"},
		{"google__gemma-3-270m", "positional", "RoPE", "RoPE θ=1000000 on full-attention layers, local θ=10000 on sliding-window layers"},
		{"google__gemma-3-270m", "embedding_scale", "×25.30", "token embeddings are multiplied by √640 ≈ 25.30 (√hidden) before the first block"},
		{"google__gemma-3-270m", "norm", "RMSNorm ×4 + q/k", "RMSNorm: 4 per block (input_layernorm, post_attention_layernorm, pre_feedforward_layernorm, post_feedforward_layernorm), plus q_norm and k_norm over each head, and a final norm"},
		{"Qwen__Qwen3-0.6B", "head_dim", "128", "16 heads × 128 = 2048 ≠ hidden 1024: q_proj widens 1024 → 2048"},
		{"Qwen__Qwen2.5-0.5B", "biases", "q_proj, k_proj, v_proj", "q_proj, k_proj and v_proj have biases; o_proj, gate_proj, up_proj and down_proj have none"},
		{"microsoft__Phi-4-mini-instruct", "positional", "partial RoPE 75%", "partial RoPE on 75% of head dims (96 of 128), θ=10000 with longrope scaling ×32"},
		{"microsoft__Phi-4-mini-instruct", "mlp", "GLU 2.67×", "GLU (SwiGLU): gate and up 8192 wide, fused in gate_up_proj, 2.67× hidden; three matrices per MLP"},
		{"microsoft__phi-2", "parallel_block", "yes", "attention and the MLP read the same normed input and add to the residual together"},
		{"microsoft__phi-2", "positional", "partial RoPE 40%", "partial RoPE on 40% of head dims (32 of 80), θ=10000"},
		{"mistralai__Mistral-7B-v0.1", "sliding_window", "4096, all layers", "every layer attends to the last 4,096 tokens only"},
		{"mistralai__Mixtral-8x7B-v0.1", "moe", "8 experts, top-2", "each token is routed to 2 of 8 experts in each of 32 MoE layers: 12.9B of 46.7B parameters active per token (27.6%)"},
		{"Qwen__Qwen3-30B-A3B", "moe", "128 experts, top-8", "each token is routed to 8 of 128 experts in each of 48 MoE layers: 3.35B of 30.5B parameters active per token (11.0%)"},
		{"Qwen__Qwen3-30B-A3B", "mlp", "GLU 0.38×", "GLU (SwiGLU experts): gate and up 768 wide, 0.38× hidden; three matrices per expert"},
	}
	cache := map[string]*facts.Facts{}
	for _, tt := range tests {
		t.Run(tt.stem+"/"+tt.key, func(t *testing.T) {
			f, ok := cache[tt.stem]
			if !ok {
				f = compute(t, tt.stem)
				cache[tt.stem] = f
			}
			v, e := characteristic(f, tt.key)
			if v != tt.value || e != tt.explanation {
				t.Errorf("%s:\n got %q, %q\nwant %q, %q", tt.key, v, e, tt.value, tt.explanation)
			}
		})
	}
}

func TestActiveParameters(t *testing.T) {
	tests := []struct {
		stem   string
		active int64
	}{
		// Total minus (experts − top_k) × one expert, per MoE layer.
		{"mistralai__Mixtral-8x7B-v0.1", 46702792704 - 32*6*3*4096*14336},
		{"Qwen__Qwen3-30B-A3B", 30532122624 - 48*120*3*2048*768},
		{"meta-llama__Llama-3.2-1B", 1235814400},
	}
	for _, tt := range tests {
		t.Run(tt.stem, func(t *testing.T) {
			if got := compute(t, tt.stem).Parameters.Active; got != tt.active {
				t.Errorf("active = %d, want %d", got, tt.active)
			}
		})
	}
}

func TestPruningHints(t *testing.T) {
	tests := []struct {
		stem, kind, text string
	}{
		{"Qwen__Qwen3-0.6B", "depth", "28 identical blocks: depth pruning by block importance (BI/ΔNLL) applies"},
		{"meta-llama__Llama-3.2-1B", "width", "GLU MLP: width pruning removes gate/up rows and down columns together (e.g. 40% of 8192 → 4916, −26.1% parameters)"},
		{"meta-llama__Llama-3.2-1B", "attention", "GQA 32:8: head pruning removes whole groups, one key/value head with its 4 query heads"},
		{"google__gemma-3-270m", "depth", "18 blocks of one shape (15 sliding-window, 3 full attention): depth pruning by block importance (BI/ΔNLL) applies"},
		{"Qwen__Qwen3-30B-A3B", "experts", "128 experts per layer, 8 routed per token: expert pruning removes the least-routed experts (e.g. 25% of 128 → 96 per layer)"},
		{"Qwen__Qwen3-30B-A3B", "width", ""},
		{"distilbert__distilgpt2", "depth", ""}, // 6 blocks: too few to invite depth pruning
	}
	for _, tt := range tests {
		t.Run(tt.stem+"/"+tt.kind, func(t *testing.T) {
			if got := hint(compute(t, tt.stem), tt.kind); got != tt.text {
				t.Errorf("%s hint:\n got %q\nwant %q", tt.kind, got, tt.text)
			}
		})
	}
}

// jsonKeys lists every key path of a decoded JSON value; array elements share the path "[]", and the
// keys of a map keyed by data (stored dtypes) are not part of the schema.
func jsonKeys(prefix string, v any, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		if strings.HasSuffix(prefix, ".dtypes") {
			return
		}
		for k, e := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			out[p] = true
			jsonKeys(p, e, out)
		}
	case []any:
		for _, e := range x {
			jsonKeys(prefix+"[]", e, out)
		}
	}
}

// TestJSONKeys pins the JSON form: docs/FACTS_JSON.md documents exactly these keys.
func TestJSONKeys(t *testing.T) {
	spec := build(t, "meta-llama__Llama-3.2-1B", nil)
	f := facts.Compute("Llama-3.2-1B", spec, describe(spec), 2471628800, map[string]int64{"BF16": 146})
	f.Warnings = append(f.Warnings, "a warning")
	f.Quantization = &facts.Quantization{Method: "bitsandbytes", Format: "nf4", Bits: 4, GroupSize: 64, BitsPerWeight: 4.52, Skipped: []string{"lm_head"}}
	data, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	jsonKeys("", v, got)
	want := []string{
		"name", "family", "class", "base_class",
		"parameters", "parameters.total", "parameters.embeddings", "parameters.attention", "parameters.mlp",
		"parameters.norms", "parameters.lm_head", "parameters.other", "parameters.block_min",
		"parameters.block_max", "parameters.tied_embeddings", "parameters.active",
		"memory", "memory.fp32", "memory.fp32.bytes", "memory.fp32.human", "memory.bf16", "memory.bf16.bytes",
		"memory.bf16.human", "memory.int8", "memory.int8.bytes", "memory.int8.human", "memory.int4",
		"memory.int4.bytes", "memory.int4.human", "memory.stored", "memory.stored.bytes", "memory.stored.human",
		"memory.stored.dtypes",
		"quantization", "quantization.method", "quantization.format", "quantization.bits", "quantization.group_size",
		"quantization.bits_per_weight", "quantization.skipped",
		"characteristics", "characteristics[].key", "characteristics[].value", "characteristics[].explanation",
		"pruning_hints", "pruning_hints[].kind", "pruning_hints[].text",
		"warnings",
	}
	var gotKeys []string
	for k := range got {
		gotKeys = append(gotKeys, k)
	}
	sort.Strings(gotKeys)
	sort.Strings(want)
	if !reflect.DeepEqual(gotKeys, want) {
		t.Errorf("JSON keys changed (update docs/FACTS_JSON.md too):\n got %v\nwant %v", gotKeys, want)
	}

	// Without weights the keys stay: stored is null, warnings an empty list.
	bare := compute(t, "meta-llama__Llama-3.2-1B")
	data, err = json.Marshal(bare)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"stored":null`, `"warnings":[]`, `"base_class":"LlamaModel"`} {
		if !strings.Contains(string(data), s) {
			t.Errorf("JSON without weights lacks %s: %s", s, data)
		}
	}
}

// TestCharacteristicKeys checks that every key used is one of the documented constants, in their order.
func TestCharacteristicKeys(t *testing.T) {
	order := []string{facts.KeyLayers, facts.KeyHiddenSize, facts.KeyAttention, facts.KeyHeadDim, facts.KeyMLP,
		facts.KeyActivation, facts.KeyNorm, facts.KeyPositional, facts.KeySlidingWindow, facts.KeyTiedEmbeddings,
		facts.KeyBiases, facts.KeyMoE, facts.KeyParallelBlock, facts.KeyEmbeddingScale, facts.KeyVocabSize,
		facts.KeyContextLength}
	rank := map[string]int{}
	for i, k := range order {
		rank[k] = i + 1
	}
	for _, stem := range galleryStems(t) {
		t.Run(stem, func(t *testing.T) {
			last := 0
			for _, c := range compute(t, stem).Characteristics {
				r := rank[c.Key]
				if r == 0 {
					t.Errorf("undocumented key %q", c.Key)
				}
				if r <= last {
					t.Errorf("key %q out of order", c.Key)
				}
				last = r
			}
		})
	}
}

func TestText(t *testing.T) {
	spec := build(t, "meta-llama__Llama-3.2-1B", nil)
	text := facts.Compute("Llama-3.2-1B", spec, describe(spec), 2471628800, map[string]int64{"BF16": 146}).Text()
	for _, want := range []string{
		"parameters       1,235,814,400 (1.24B, tied embeddings counted once)\n",
		"  embeddings       262,668,288   21.3%\n",
		"  lm_head                    0  tied to the token embedding\n",
		"  bf16              2.47 GB\n",
		"  stored            2.47 GB  BF16: 146 tensors\n",
		"attention        GQA 32:8    GQA: 32 query heads share 8 key/value heads, 4:1\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasSuffix(line, " ") {
			t.Errorf("trailing space: %q", line)
		}
	}
}

// TestNoSpec checks that facts without a module tree (nothing to describe) stay well formed.
func TestNoSpec(t *testing.T) {
	f := facts.Compute("empty", nil, nil, 0, nil)
	data, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"characteristics":[]`) || f.Memory.FP32.Human != "0 B" {
		t.Errorf("empty facts: %s", data)
	}
	_ = f.Text()
}

// TestVariants covers what no gallery config shows as is: a MoE model with dense layers, Qwen2's
// sliding window on the upper layers only, and a checkpoint whose first blocks were width-pruned.
func TestVariants(t *testing.T) {
	t.Run("moe with dense layers", func(t *testing.T) {
		spec := build(t, "Qwen__Qwen3-30B-A3B", map[string]any{"num_hidden_layers": 4, "mlp_only_layers": []int{0}})
		f := facts.Compute("moe", spec, describe(spec), 0, nil)
		p := f.Parameters
		if sum := p.Embeddings + p.Attention + p.MLP + p.Norms + p.LMHead + p.Other; sum != p.Total || p.Total != spec.Root.NumParams() {
			t.Errorf("components %d, total %d, tree %d", sum, p.Total, spec.Root.NumParams())
		}
		if want := p.Total - 3*120*3*2048*768; p.Active != want {
			t.Errorf("active = %d, want %d", p.Active, want)
		}
		for _, c := range []struct{ key, explanation string }{
			{"layers", "4 blocks: 3 mixture-of-experts, 1 dense"},
			{"mlp", "GLU (SwiGLU experts): gate and up 768 wide, 0.38× hidden; three matrices per expert; 1 dense block with MLPs 6144 wide"},
		} {
			if _, e := characteristic(f, c.key); e != c.explanation {
				t.Errorf("%s:\n got %q\nwant %q", c.key, e, c.explanation)
			}
		}
	})
	t.Run("sliding window on upper layers", func(t *testing.T) {
		spec := build(t, "Qwen__Qwen2.5-0.5B", map[string]any{"use_sliding_window": true, "max_window_layers": 21})
		f := facts.Compute("qwen2-sliding", spec, describe(spec), 0, nil)
		v, e := characteristic(f, "sliding_window")
		if want := "3 of 24 layers attend to the last 32,768 tokens only; 21 layers (0–20) attend to the whole context"; e != want || v != "32768, 3 of 24 layers" {
			t.Errorf("sliding_window:\n got %q, %q\nwant %q", v, e, want)
		}
	})
	// A what-if without blocks 5 and 6 of 26 names the blocks as the full model does (block 7 stays
	// block 7), as the stack shows them.
	t.Run("numbered as the full model", func(t *testing.T) {
		spec := build(t, "Qwen__Qwen2.5-0.5B", map[string]any{"use_sliding_window": true, "max_window_layers": 21})
		numbers := make([]int, 24)
		for i := range numbers {
			numbers[i] = i
			if i >= 5 {
				numbers[i] = i + 2
			}
		}
		for _, tc := range []struct {
			numbers []int
			want    string
		}{
			{nil, "21 layers (0–20) attend"},
			{numbers, "21 layers (0–4, 7–22) attend"},
			{numbers[:3], "21 layers (0–20) attend"}, // numbers that do not fit the blocks are ignored
		} {
			f := facts.ComputeNumbered("qwen2-sliding", spec, describe(spec), 0, nil, tc.numbers)
			if _, e := characteristic(f, "sliding_window"); !strings.Contains(e, tc.want) {
				t.Errorf("numbers %v: sliding_window %q, want %q", tc.numbers, e, tc.want)
			}
		}
	})
	t.Run("width-pruned blocks", func(t *testing.T) {
		spec := build(t, "meta-llama__Llama-3.2-1B", nil)
		const kept = 4916
		for i := 0; i < 4; i++ {
			mlp := spec.Root.Find("model.layers." + strconv.Itoa(i) + ".mlp")
			mlp.Child("gate_proj").Out, mlp.Child("up_proj").Out, mlp.Child("down_proj").In = kept, kept, kept
		}
		f := facts.Compute("pruned", spec, describe(spec), 0, nil)
		p := f.Parameters
		if p.Total != spec.Root.NumParams() || p.BlockMin >= p.BlockMax {
			t.Errorf("total %d (tree %d), blocks %d–%d", p.Total, spec.Root.NumParams(), p.BlockMin, p.BlockMax)
		}
		for _, c := range []struct{ key, explanation string }{
			{"layers", "16 blocks: sizes differ, 2 runs of identical blocks"},
			{"mlp", "GLU (SwiGLU): gate and up 4916–8192 wide, 2.40–4.00× hidden; three matrices per MLP"},
		} {
			if _, e := characteristic(f, c.key); e != c.explanation {
				t.Errorf("%s:\n got %q\nwant %q", c.key, e, c.explanation)
			}
		}
		if h, want := hint(f, "depth"), "blocks 4–15 are 12 blocks of one shape: depth pruning by block importance (BI/ΔNLL) applies there"; h != want {
			t.Errorf("depth hint:\n got %q\nwant %q", h, want)
		}
	})
}

func TestFormatting(t *testing.T) {
	spec := build(t, "HuggingFaceTB__SmolLM2-135M", nil)
	f := facts.Compute("SmolLM2-135M", spec, describe(spec), 269030016, map[string]int64{"BF16": 272})
	for _, c := range []struct{ got, want string }{
		{f.Memory.FP32.Human, "538.06 MB"},
		{f.Memory.BF16.Human, "269.03 MB"},
		{f.Memory.Int4.Human, "67.26 MB"},
		{f.Memory.Stored.Human, "269.03 MB"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	if !strings.Contains(f.Text(), "134,515,008 (135M, tied embeddings counted once)") {
		t.Errorf("text:\n%s", f.Text())
	}
}

// TestGeneric covers a checkpoint of an unknown family, grouped from tensor names with no config.json:
// no head counts, no lm_head tensor (tied), widths only from the shapes.
func TestGeneric(t *testing.T) {
	const file = "/models/mystery/model.safetensors"
	ws := &weights.Set{Tensors: map[string]*weights.Tensor{}, Files: []string{file}}
	var stored int64
	add := func(name string, shape ...int64) {
		tensor := &weights.Tensor{Name: name, DType: "BF16", Shape: shape, File: file}
		tensor.Size = 2 * tensor.Elements()
		stored += tensor.Size
		ws.Tensors[name], ws.Names = tensor, append(ws.Names, name)
	}
	add("model.embed_tokens.weight", 256, 64)
	for i := 0; i < 2; i++ {
		p := "model.layers." + strconv.Itoa(i) + "."
		add(p+"input_layernorm.weight", 64)
		add(p+"mlp.down_proj.weight", 64, 128)
		add(p+"mlp.gate_proj.weight", 128, 64)
		add(p+"mlp.up_proj.weight", 128, 64)
		add(p+"post_attention_layernorm.weight", 64)
		add(p+"self_attn.k_proj.weight", 32, 64)
		add(p+"self_attn.o_proj.weight", 64, 64)
		add(p+"self_attn.q_proj.weight", 64, 64)
		add(p+"self_attn.v_proj.weight", 32, 64)
	}
	add("model.norm.weight", 64)
	spec, err := generic.Build(nil, ws)
	if err != nil {
		t.Fatal(err)
	}
	f := facts.Compute("mystery", spec, describe(spec), stored, map[string]int64{"BF16": int64(len(ws.Names))})
	p := f.Parameters
	var elements int64
	for _, tensor := range ws.Tensors {
		elements += tensor.Elements()
	}
	if p.Total != elements || p.Embeddings+p.Attention+p.MLP+p.Norms+p.LMHead+p.Other != p.Total {
		t.Errorf("parameters %+v, tensors hold %d", p, elements)
	}
	if !p.TiedEmbeddings || f.Memory.Stored == nil || f.Memory.Stored.Bytes != f.Memory.BF16.Bytes {
		t.Errorf("tied %v, stored %+v, bf16 %+v", p.TiedEmbeddings, f.Memory.Stored, f.Memory.BF16)
	}
	for _, c := range f.Characteristics {
		if c.Value == "" || c.Explanation == "" {
			t.Errorf("characteristic %q is empty: %+v", c.Key, c)
		}
	}
	if _, e := characteristic(f, "mlp"); e != "GLU: gate and up 128 wide, 2.00× hidden; three matrices per MLP" {
		t.Errorf("mlp: %q", e)
	}
	if *dump {
		t.Log("\n" + f.Text())
	}
	if v, _ := characteristic(f, "tied_embeddings"); v != "yes" {
		t.Errorf("tied_embeddings %q\n%s", v, f.Text())
	}
}
