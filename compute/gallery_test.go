package compute

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio/arch"
)

// Every real config of the gallery whose family has a forward pass runs, shrunk to a tiny random
// model that keeps its peculiarities (RoPE scaling and its keys, sliding windows, q/k norms, biases,
// tied embeddings, partial rotary). Where the float64 reference covers the family, the two agree.
func TestGalleryConfigsRun(t *testing.T) {
	paths, err := filepath.Glob("../modelio/gallery/configs/*.config.json")
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, path := range paths {
		var cfg map[string]any
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &cfg); err != nil {
			t.Fatal(err)
		}
		if _, ok := forwards[cfg["model_type"].(string)]; !ok {
			continue
		}
		name := strings.TrimSuffix(filepath.Base(path), ".config.json")
		t.Run(name, func(t *testing.T) {
			shrink(cfg)
			m := openRandom(t, cfg, "BF16", nil, nil)
			tokens := [][]int{randomTokens(1, 12, 64)[0], randomTokens(1, 7, 64)[0][:7]}
			res, pr, err := run(context.Background(), m, tokens, Options{Backend: BackendCPU, Metrics: AllMetrics},
				passOptions{keepHidden: true})
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range append(append(append([]float64{res.NLL}, res.BI...), res.Ablation...), res.Flat...) {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("score %d is %v: %+v", i, v, res)
				}
			}
			h := m.Spec.Hyper
			switch m.Spec.Family {
			case "llama", "mistral", "qwen2", "gpt2": // what refForward covers; reference_families_test.go has others
			default:
				return
			}
			if h.QKNorm || h.RotaryFraction != 1 && h.Positional == arch.PosRoPE || h.NormsPerBlock != 2 {
				return
			}
			st, err := openStore(m.Weights, m.TensorName)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			eps := m.Spec.Root.Find(map[bool]string{true: "transformer.ln_f", false: "model.norm"}[h.Positional == arch.PosLearned]).Eps
			r := &refModel{t: t, m: m, st: st, h: h, eps: eps}
			states, nll := r.refForward(tokens, -1)
			if e := math.Abs(res.NLL-nll) / nll; e > 1e-5 {
				t.Errorf("NLL %.7f, float64 reference %.7f", res.NLL, nll)
			}
			last := states[len(states)-1]
			S, H := res.SeqLen, h.Hidden
			for b, s := range tokens {
				var got, want []float32
				for tt := range s {
					got = append(got, pr.hidden[len(states)-1][(b*S+tt)*H:(b*S+tt+1)*H]...)
					for _, v := range last[b][tt] {
						want = append(want, float32(v))
					}
				}
				if e := relErr(got, want); e > 1e-5 {
					t.Errorf("sample %d, last block: relative error %.2e against the float64 reference", b, e)
				}
			}
		})
		ran++
	}
	if ran < 8 {
		t.Errorf("only %d gallery configs have a forward pass", ran)
	}
}

// shrink makes a real config tiny: 2 layers, hidden 32 in 4 heads of 8 (2 key/value heads where the
// config groups them), MLP 64, vocabulary 64, and whatever per-layer or per-dimension lists it holds
// cut to match.
func shrink(cfg map[string]any) {
	set := func(key string, v any) {
		if _, ok := cfg[key]; ok {
			cfg[key] = v
		}
	}
	for _, k := range []string{"hidden_size", "n_embd", "word_embed_proj_dim"} {
		set(k, 32)
	}
	for _, k := range []string{"num_attention_heads", "n_head"} {
		set(k, 4)
	}
	set("num_key_value_heads", 2)
	set("head_dim", 8)
	set("query_pre_attn_scalar", 8)
	for _, k := range []string{"intermediate_size", "n_inner", "ffn_dim"} {
		set(k, 64)
	}
	for _, k := range []string{"num_hidden_layers", "n_layer"} {
		set(k, 2)
	}
	set("max_window_layers", 1)
	set("num_experts", 6) // Qwen3-MoE's 128 and Mixtral's 8, of 16-wide experts
	set("num_local_experts", 6)
	set("moe_intermediate_size", 16)
	set("num_experts_per_tok", 2)
	set("vocab_size", 64)
	if id, ok := cfg["pad_token_id"].(float64); ok && id >= 64 {
		cfg["pad_token_id"] = 0.0
	}
	if types, ok := cfg["layer_types"].([]any); ok && len(types) >= 2 {
		cfg["layer_types"] = []any{types[0], "full_attention"}
	}
	if sw, ok := cfg["sliding_window"].(float64); ok && sw > 0 {
		cfg["sliding_window"] = 5.0 // shorter than the samples, so the window bites
	}
	if rs, ok := cfg["rope_scaling"].(map[string]any); ok {
		frac := 1.0
		if f, ok := cfg["partial_rotary_factor"].(float64); ok {
			frac = f
		}
		n := int(8*frac) / 2
		for _, k := range []string{"long_factor", "short_factor"} {
			if f, ok := rs[k].([]any); ok && len(f) > n {
				rs[k] = f[:n]
			}
		}
	}
}
