package compute

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio/arch"
)

// Forward passes that have no transformers fixture yet (gpt_neox, phi) are checked here against a
// plain float64 pass written from transformers 4.55's modeling_gpt_neox.py and modeling_phi.py, on
// random models shrunk from the gallery's real configs: the hidden states after every block, the NLL
// and the NLL with each block skipped. tools/fixtures/make_fixtures.py makes their transformers
// fixtures where torch is.

// galleryConfig reads a gallery config.json and overrides some keys.
func galleryConfig(tb testing.TB, stem string, set map[string]any) map[string]any {
	tb.Helper()
	data, err := os.ReadFile("../modelio/gallery/configs/" + stem + ".config.json")
	if err != nil {
		tb.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		tb.Fatal(err)
	}
	for k, v := range set {
		cfg[k] = v
	}
	return cfg
}

func refGELU(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }

func refGELUTanh(x float64) float64 {
	return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
}

func addInto(dst []float64, vs ...[]float64) []float64 {
	out := append([]float64{}, dst...)
	for _, v := range vs {
		for i := range out {
			out[i] += v[i]
		}
	}
	return out
}

// refNeoXBlock is GPTNeoXLayer on one sample's states x [S][hidden].
func (r *refModel) refNeoXBlock(i int, x [][]float64, real int) [][]float64 {
	h := r.h
	p := fmt.Sprintf("gpt_neox.layers.%d.", i)
	H, hd, S := h.Hidden, h.HeadDim, len(x)
	ln := func(name string, v []float64) []float64 {
		return refLN(v, r.w(p+name+".weight"), r.w(p+name+".bias"), r.eps)
	}
	wqkv, bqkv := r.w(p+"attention.query_key_value.weight"), r.w(p+"attention.query_key_value.bias")
	q, k, v := make([][]float64, S), make([][]float64, S), make([][]float64, S)
	for t := range x {
		qkv := matvec(wqkv, bqkv, ln("input_layernorm", x[t]), 3*H, false)
		for head := 0; head < h.Heads; head++ { // [heads, 3·head_dim]: q, k, v per head
			base := qkv[head*3*hd:]
			q[t] = append(q[t], base[:hd]...)
			k[t] = append(k[t], base[hd:2*hd]...)
			v[t] = append(v[t], base[2*hd:3*hd]...)
		}
	}
	r.refRopeAll(q, k, S)
	att := refAttention(q, k, v, h.Heads, h.Heads, hd, real, 0, 1/math.Sqrt(float64(hd)))
	wd, bd := r.w(p+"attention.dense.weight"), r.w(p+"attention.dense.bias")
	w1, b1 := r.w(p+"mlp.dense_h_to_4h.weight"), r.w(p+"mlp.dense_h_to_4h.bias")
	w2, b2 := r.w(p+"mlp.dense_4h_to_h.weight"), r.w(p+"mlp.dense_4h_to_h.bias")
	mlp := func(in []float64) []float64 {
		f := matvec(w1, b1, ln("post_attention_layernorm", in), h.Intermediate, false)
		for j := range f {
			f[j] = refGELU(f[j])
		}
		return matvec(w2, b2, f, H, false)
	}
	out := make([][]float64, S)
	for t := range x {
		a := matvec(wd, bd, att[t], H, false)
		if h.ParallelBlock {
			out[t] = addInto(mlp(x[t]), a, x[t])
		} else {
			y := addInto(a, x[t])
			out[t] = addInto(mlp(y), y)
		}
	}
	return out
}

// refPhiBlock is PhiDecoderLayer on one sample's states x [S][hidden].
func (r *refModel) refPhiBlock(i int, x [][]float64, real int) [][]float64 {
	h := r.h
	p := fmt.Sprintf("model.layers.%d.", i)
	H, hd, S := h.Hidden, h.HeadDim, len(x)
	lnW, lnB := r.w(p+"input_layernorm.weight"), r.w(p+"input_layernorm.bias")
	lin := func(name string, in []float64, out int) []float64 {
		return matvec(r.w(p+name+".weight"), r.w(p+name+".bias"), in, out, false)
	}
	a := make([][]float64, S)
	q, k, v := make([][]float64, S), make([][]float64, S), make([][]float64, S)
	for t := range x {
		a[t] = refLN(x[t], lnW, lnB, r.eps)
		q[t], k[t], v[t] = lin("self_attn.q_proj", a[t], h.Heads*hd), lin("self_attn.k_proj", a[t], h.KVHeads*hd), lin("self_attn.v_proj", a[t], h.KVHeads*hd)
		if h.QKNorm {
			for head := 0; head < h.Heads; head++ {
				copy(q[t][head*hd:], refLN(q[t][head*hd:(head+1)*hd], r.w(p+"self_attn.q_layernorm.weight"), r.w(p+"self_attn.q_layernorm.bias"), r.eps))
			}
			for head := 0; head < h.KVHeads; head++ {
				copy(k[t][head*hd:], refLN(k[t][head*hd:(head+1)*hd], r.w(p+"self_attn.k_layernorm.weight"), r.w(p+"self_attn.k_layernorm.bias"), r.eps))
			}
		}
	}
	r.refRopeAll(q, k, S)
	att := refAttention(q, k, v, h.Heads, h.KVHeads, hd, real, 0, 1/math.Sqrt(float64(hd)))
	out := make([][]float64, S)
	for t := range x {
		f := lin("mlp.fc1", a[t], h.Intermediate)
		for j := range f {
			f[j] = refGELUTanh(f[j])
		}
		out[t] = addInto(lin("self_attn.dense", att[t], H), lin("mlp.fc2", f, H), x[t])
	}
	return out
}

// refOPTBlock is OPTDecoderLayer (do_layer_norm_before) on one sample's states x [S][hidden].
func (r *refModel) refOPTBlock(i int, x [][]float64, real int) [][]float64 {
	h := r.h
	p := fmt.Sprintf("model.decoder.layers.%d.", i)
	H, hd, S := h.Hidden, h.HeadDim, len(x)
	lin := func(name string, in []float64, out int) []float64 {
		return matvec(r.w(p+name+".weight"), r.w(p+name+".bias"), in, out, false)
	}
	ln := func(name string, v []float64) []float64 {
		return refLN(v, r.w(p+name+".weight"), r.w(p+name+".bias"), r.eps)
	}
	q, k, v := make([][]float64, S), make([][]float64, S), make([][]float64, S)
	for t := range x {
		a := ln("self_attn_layer_norm", x[t])
		q[t], k[t], v[t] = lin("self_attn.q_proj", a, H), lin("self_attn.k_proj", a, H), lin("self_attn.v_proj", a, H)
	}
	att := refAttention(q, k, v, h.Heads, h.Heads, hd, real, 0, 1/math.Sqrt(float64(hd)))
	out := make([][]float64, S)
	for t := range x {
		y := addInto(lin("self_attn.out_proj", att[t], H), x[t])
		f := lin("fc1", ln("final_layer_norm", y), h.Intermediate)
		for j := range f {
			f[j] = math.Max(0, f[j])
		}
		out[t] = addInto(lin("fc2", f, H), y)
	}
	return out
}

// refMoEBlock is MixtralDecoderLayer or Qwen3MoeDecoderLayer on one sample's states x [S][hidden]:
// the Llama attention (with Qwen3's per-head q/k RMSNorms), then the sparse MoE block at ffn, or a
// dense GLU MLP where the layer has no router.
func (r *refModel) refMoEBlock(i int, x [][]float64, real int, ffn string, names [3]string, normTopK bool) [][]float64 {
	h := r.h
	p := fmt.Sprintf("model.layers.%d.", i)
	H, hd, S := h.Hidden, h.HeadDim, len(x)
	lin := func(name string, in []float64, out int) []float64 {
		return matvec(r.w(p+name+".weight"), nil, in, out, false)
	}
	q, k, v := make([][]float64, S), make([][]float64, S), make([][]float64, S)
	for t := range x {
		a := refRMS(x[t], r.w(p+"input_layernorm.weight"), r.eps)
		q[t], k[t], v[t] = lin("self_attn.q_proj", a, h.Heads*hd), lin("self_attn.k_proj", a, h.KVHeads*hd), lin("self_attn.v_proj", a, h.KVHeads*hd)
		if h.QKNorm {
			for head := 0; head < h.Heads; head++ {
				copy(q[t][head*hd:], refRMS(q[t][head*hd:(head+1)*hd], r.w(p+"self_attn.q_norm.weight"), r.eps))
			}
			for head := 0; head < h.KVHeads; head++ {
				copy(k[t][head*hd:], refRMS(k[t][head*hd:(head+1)*hd], r.w(p+"self_attn.k_norm.weight"), r.eps))
			}
		}
	}
	r.refRopeAll(q, k, S)
	att := refAttention(q, k, v, h.Heads, h.KVHeads, hd, real, h.SlidingWindow, 1/math.Sqrt(float64(hd)))
	glu := func(prefix string, in []float64, width int) []float64 {
		g, u := lin(prefix+names[0], in, width), lin(prefix+names[1], in, width)
		for j := range g {
			g[j] = g[j] / (1 + math.Exp(-g[j])) * u[j]
		}
		return lin(prefix+names[2], g, H)
	}
	out := make([][]float64, S)
	for t := range x {
		y := addInto(lin("self_attn.o_proj", att[t], H), x[t])
		a := refRMS(y, r.w(p+"post_attention_layernorm.weight"), r.eps)
		if !r.has(p + ffn + ".gate.weight") {
			out[t] = addInto(glu(ffn+".", a, h.Intermediate), y)
			continue
		}
		logits := lin(ffn+".gate", a, h.Experts)
		mx, z := math.Inf(-1), 0.0
		for _, l := range logits {
			mx = math.Max(mx, l)
		}
		probs := make([]float64, len(logits))
		for e, l := range logits {
			probs[e] = math.Exp(l - mx)
			z += probs[e]
		}
		order := make([]int, len(probs))
		for e := range order {
			order[e] = e
			probs[e] /= z
		}
		sort.SliceStable(order, func(a, b int) bool { return probs[order[a]] > probs[order[b]] })
		chosen := order[:h.ExpertsPerToken]
		sum := 0.0
		for _, e := range chosen {
			sum += probs[e]
		}
		f := make([]float64, H)
		for e := 0; e < h.Experts; e++ { // expert order, as index_add_ adds them
			if !slices.Contains(chosen, e) {
				continue
			}
			wgt := probs[e]
			if normTopK {
				wgt /= sum
			}
			ye := glu(fmt.Sprintf("%s.experts.%d.", ffn, e), a, h.ExpertIntermediate)
			for j := range f {
				f[j] += wgt * ye[j]
			}
		}
		out[t] = addInto(f, y)
	}
	return out
}

// refRopeAll rotates q and k with the model's (partial) RoPE.
func (r *refModel) refRopeAll(q, k [][]float64, S int) {
	h := r.h
	rc := ropeConfig{cfg: r.m.Config, params: ropeParams(r.m.Config, "full_attention"), theta: h.RopeTheta,
		headDim: h.HeadDim, fraction: h.RotaryFraction, maxPos: h.MaxPositions}
	ro, err := ropeFor(rc, S)
	if err != nil {
		r.t.Fatal(err)
	}
	refRope(q, h.Heads, h.HeadDim, ro)
	refRope(k, h.KVHeads, h.HeadDim, ro)
}

// refFamilyForward is a whole forward pass: the embedding (with learned positions: GPT-2's row t,
// OPT's row t+2 for a real token and row 1 for padding), the blocks (skip: -1 for none), the final
// norm and the LM head (with its bias where it has one); it returns every sample's states after every
// block ([block][sample][t][hidden]) and the mean next-token NLL.
func (r *refModel) refFamilyForward(tokens [][]int, skip int, emb, final, head string,
	block func(i int, x [][]float64, real int) [][]float64) ([][][][]float64, float64) {
	var P []float64
	position := func(t, real int) int { return t }
	switch r.m.Spec.Family {
	case "gpt2":
		P = r.w("transformer.wpe.weight")
	case "opt":
		P = r.w("model.decoder.embed_positions.weight")
		position = func(t, real int) int {
			if t >= real {
				return 1
			}
			return t + 2
		}
	}
	h := r.h
	S := 0
	for _, s := range tokens {
		S = max(S, len(s))
	}
	E, W := r.w(emb), r.w(head+".weight")
	var hb []float64
	if r.has(head + ".bias") {
		hb = r.w(head + ".bias")
	}
	states := make([][][][]float64, h.Layers)
	var nllSum float64
	var nllN int
	for b, s := range tokens {
		x := make([][]float64, S)
		for t := range x {
			id := 0
			if t < len(s) {
				id = s[t]
			}
			x[t] = append([]float64{}, E[id*h.Hidden:(id+1)*h.Hidden]...)
			if P != nil {
				row := position(t, len(s))
				x[t] = addInto(x[t], P[row*h.Hidden:(row+1)*h.Hidden])
			}
		}
		for i := 0; i < h.Layers; i++ {
			if i != skip {
				x = block(i, x, len(s))
			}
			if b == 0 {
				states[i] = make([][][]float64, len(tokens))
			}
			states[i][b] = x
		}
		for t := 0; t+1 < len(s); t++ {
			var n []float64
			if r.m.Spec.Root.Find(final).Op == arch.OpLayerNorm {
				n = refLN(x[t], r.w(final+".weight"), r.w(final+".bias"), r.eps)
			} else {
				n = refRMS(x[t], r.w(final+".weight"), r.eps)
			}
			logits := matvec(W, hb, n, h.Vocab, false)
			nllSum += refNLL(logits, s[t+1])
			nllN++
		}
	}
	return states, nllSum / float64(nllN)
}

func TestFamiliesAgainstReference(t *testing.T) {
	small := map[string]any{"hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 3,
		"intermediate_size": 160, "vocab_size": 96, "max_position_embeddings": 64}
	with := func(extra map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range small {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	tests := []struct {
		name, stem       string
		set              map[string]any
		emb, final, head string
		bias             bool // the LM head has a bias
		parallel, qkNorm bool
		wantRotary       int
	}{
		{"pythia parallel", "EleutherAI__pythia-70m", with(nil),
			"gpt_neox.embed_in.weight", "gpt_neox.final_layer_norm", "embed_out", false, true, false, 4},
		{"pythia sequential", "EleutherAI__pythia-70m", with(map[string]any{"use_parallel_residual": false, "rotary_pct": 0.5}),
			"gpt_neox.embed_in.weight", "gpt_neox.final_layer_norm", "embed_out", false, false, false, 8},
		{"phi-2", "microsoft__phi-2", with(map[string]any{"num_key_value_heads": 4}),
			"model.embed_tokens.weight", "model.final_layernorm", "lm_head", true, true, false, 6},
		{"phi qk_layernorm gqa", "microsoft__phi-2", with(map[string]any{"num_key_value_heads": 2, "qk_layernorm": true}),
			"model.embed_tokens.weight", "model.final_layernorm", "lm_head", true, true, true, 6},
		{"mixtral", "mistralai__Mixtral-8x7B-v0.1", with(map[string]any{"num_key_value_heads": 2, "num_local_experts": 4, "sliding_window": 5}),
			"model.embed_tokens.weight", "model.norm", "lm_head", false, false, false, 16},
		{"qwen3-moe, a dense layer", "Qwen__Qwen3-30B-A3B", with(map[string]any{"num_key_value_heads": 2, "head_dim": 16, "num_experts": 6,
			"num_experts_per_tok": 3, "moe_intermediate_size": 48, "mlp_only_layers": []int{1}}),
			"model.embed_tokens.weight", "model.norm", "lm_head", false, false, true, 16},
		{"qwen3-moe, top-k not renormalised", "Qwen__Qwen3-30B-A3B", with(map[string]any{"num_key_value_heads": 2, "head_dim": 16, "num_experts": 5,
			"num_experts_per_tok": 2, "moe_intermediate_size": 48, "norm_topk_prob": false}),
			"model.embed_tokens.weight", "model.norm", "lm_head", false, false, true, 16},
		{"opt-125m", "facebook__opt-125m", with(map[string]any{"ffn_dim": 160, "word_embed_proj_dim": 64}),
			"model.decoder.embed_tokens.weight", "model.decoder.final_layer_norm", "model.decoder.embed_tokens", false, false, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := openRandom(t, galleryConfig(t, tt.stem, tt.set), "F32", nil, nil)
			h := m.Spec.Hyper
			if h.ParallelBlock != tt.parallel || h.QKNorm != tt.qkNorm {
				t.Fatalf("config read as parallel %v, qk norm %v", h.ParallelBlock, h.QKNorm)
			}
			p, err := forwards[m.Spec.Family](m)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantRotary > 0 {
				if d := ropeDim(p.ropes[0]); d != tt.wantRotary {
					t.Fatalf("rotary dims %d, want %d", d, tt.wantRotary)
				}
			}
			st, err := openStore(m.Weights, m.TensorName)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			r := &refModel{t: t, m: m, st: st, h: h, eps: m.Spec.Root.Find(tt.final).Eps}
			block := map[string]func(int, [][]float64, int) [][]float64{
				"gpt_neox": r.refNeoXBlock, "phi": r.refPhiBlock, "opt": r.refOPTBlock,
				"mixtral": func(i int, x [][]float64, real int) [][]float64 {
					return r.refMoEBlock(i, x, real, "block_sparse_moe", [3]string{"w1", "w3", "w2"}, true)
				},
				"qwen3_moe": func(i int, x [][]float64, real int) [][]float64 {
					return r.refMoEBlock(i, x, real, "mlp", [3]string{"gate_proj", "up_proj", "down_proj"}, m.Config.Bool("norm_topk_prob", false))
				},
			}[m.Spec.Family]
			tokens := randomTokens(2, 11, h.Vocab)
			tokens[1] = tokens[1][:7] // padded on the right
			states, nll := r.refFamilyForward(tokens, -1, tt.emb, tt.final, tt.head, block)

			res, pr, err := run(context.Background(), m, tokens, Options{Backend: BackendCPU, DType: FP32, Metrics: AllMetrics},
				passOptions{keepHidden: true})
			if err != nil {
				t.Fatal(err)
			}
			compareWithReference(t, res, pr, tokens, states, nll)
			for i := 0; i < h.Layers; i++ {
				_, skipped := r.refFamilyForward(tokens, i, tt.emb, tt.final, tt.head, block)
				if d := math.Abs(res.Ablation[i] - (skipped - nll)); d > 1e-4 {
					t.Errorf("ablation of block %d: ΔNLL %.6f, reference %.6f", i, res.Ablation[i], skipped-nll)
				}
			}
		})
	}
}

// The LM head's bias is applied in every vocabulary slice, resident or streamed.
func TestHeadBiasAcrossSlices(t *testing.T) {
	cfg := galleryConfig(t, "microsoft__phi-2", map[string]any{"hidden_size": 32, "num_attention_heads": 4,
		"num_key_value_heads": 4, "num_hidden_layers": 1, "intermediate_size": 64, "vocab_size": 70, "max_position_embeddings": 32})
	m := openRandom(t, cfg, "F32", nil, nil)
	tokens := randomTokens(2, 6, 70)
	whole, err := Run(context.Background(), m, tokens, Options{Backend: BackendCPU})
	if err != nil {
		t.Fatal(err)
	}
	for _, resident := range []bool{false, true} {
		vocabSliceForTest, residentHeadForTest = 16, resident
		sliced, err := Run(context.Background(), m, tokens, Options{Backend: BackendCPU})
		vocabSliceForTest, residentHeadForTest = 0, false
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(sliced.NLL-whole.NLL) > 1e-5*whole.NLL {
			t.Errorf("resident %v: NLL over slices of 16 rows %.7f, in one slice %.7f", resident, sliced.NLL, whole.NLL)
		}
	}
}

// opt-350m's shape (post-LayerNorm blocks, a narrower word embedding) is refused in one line.
func TestOPTUnsupportedShapes(t *testing.T) {
	base := map[string]any{"hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 1, "ffn_dim": 64,
		"vocab_size": 64, "max_position_embeddings": 32, "word_embed_proj_dim": 32}
	for _, tt := range []struct {
		set  map[string]any
		want string
	}{
		{map[string]any{"do_layer_norm_before": false}, "do_layer_norm_before is false"},
		{map[string]any{"word_embed_proj_dim": 16}, "word_embed_proj_dim differs from hidden_size"},
	} {
		cfg := galleryConfig(t, "facebook__opt-125m", base)
		for k, v := range tt.set {
			cfg[k] = v
		}
		m := openRandom(t, cfg, "F32", nil, nil)
		_, err := Run(context.Background(), m, randomTokens(1, 4, 64), Options{Backend: BackendCPU})
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v, want one line with %q", tt.set, err, tt.want)
		}
	}
}

// A MoE run says that every expert was computed.
func TestMoENote(t *testing.T) {
	cfg := galleryConfig(t, "mistralai__Mixtral-8x7B-v0.1", map[string]any{"hidden_size": 32, "num_attention_heads": 4,
		"num_key_value_heads": 2, "num_hidden_layers": 1, "intermediate_size": 16, "vocab_size": 64,
		"max_position_embeddings": 32, "num_local_experts": 8, "num_experts_per_tok": 2})
	res, err := Run(context.Background(), openRandom(t, cfg, "F32", nil, nil), randomTokens(1, 5, 64), Options{Backend: BackendCPU})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Notes) == 0 || !strings.Contains(res.Notes[0], "8/2 = 4× its expert FLOPs") {
		t.Errorf("notes %q", res.Notes)
	}
}
