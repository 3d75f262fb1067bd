package compute

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio"
)

// refMLPInput is the Llama block's input to down_proj, silu(gate·a) ⊙ (up·a) with a the attention
// residual after post_attention_layernorm, in float64, written as refBlock writes the block.
func (r *refModel) refMLPInput(i int, x [][]float64, real int) [][]float64 {
	p := fmt.Sprintf("model.layers.%d.", i)
	h := r.h
	S := len(x)
	opt := func(name string) []float64 {
		if r.has(name) {
			return r.w(name)
		}
		return nil
	}
	q, k, v := make([][]float64, S), make([][]float64, S), make([][]float64, S)
	qd, kvd := h.Heads*h.HeadDim, h.KVHeads*h.HeadDim
	ln1 := r.w(p + "input_layernorm.weight")
	wq, wk, wv := r.w(p+"self_attn.q_proj.weight"), r.w(p+"self_attn.k_proj.weight"), r.w(p+"self_attn.v_proj.weight")
	bq, bk, bv := opt(p+"self_attn.q_proj.bias"), opt(p+"self_attn.k_proj.bias"), opt(p+"self_attn.v_proj.bias")
	for t := range x {
		a := refRMS(x[t], ln1, r.eps)
		q[t], k[t], v[t] = matvec(wq, bq, a, qd, false), matvec(wk, bk, a, kvd, false), matvec(wv, bv, a, kvd, false)
	}
	rc := ropeConfig{cfg: r.m.Config, params: ropeParams(r.m.Config, "full_attention"), theta: h.RopeTheta, headDim: h.HeadDim, maxPos: h.MaxPositions}
	ro, err := ropeFor(rc, S)
	if err != nil {
		r.t.Fatal(err)
	}
	refRope(q, h.Heads, h.HeadDim, ro)
	refRope(k, h.KVHeads, h.HeadDim, ro)
	att := refAttention(q, k, v, h.Heads, h.KVHeads, h.HeadDim, real, h.SlidingWindow, 1/math.Sqrt(float64(h.HeadDim)))
	wo, ln2 := r.w(p+"self_attn.o_proj.weight"), r.w(p+"post_attention_layernorm.weight")
	wg, wu := r.w(p+"mlp.gate_proj.weight"), r.w(p+"mlp.up_proj.weight")
	out := make([][]float64, S)
	for t := range x {
		y := matvec(wo, nil, att[t], h.Hidden, false)
		for j := range y {
			y[j] += x[t][j]
		}
		a := refRMS(y, ln2, r.eps)
		g, u := matvec(wg, nil, a, h.Intermediate, false), matvec(wu, nil, a, h.Intermediate, false)
		for j := range g {
			g[j] = g[j] / (1 + math.Exp(-g[j])) * u[j]
		}
		out[t] = g
	}
	return out
}

// Every neuron's activation norm (the L2 norm over the real tokens of its input to down_proj) equals
// the float64 reference's, on transformers-made Llama-block fixtures, on the CPU in f32.
func TestNeuronActivationsMatchReference(t *testing.T) {
	for _, fixture := range []string{"llama", "mistral", "qwen2"} {
		t.Run(fixture, func(t *testing.T) {
			m, err := modelio.Open(filepath.Join("../testdata/fixtures", fixture))
			if err != nil {
				t.Fatal(err)
			}
			tokens := randomTokens(2, 11, m.Spec.Hyper.Vocab)
			tokens[1] = tokens[1][:7]
			st, err := openStore(m.Weights, m.TensorName)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			h := m.Spec.Hyper
			r := &refModel{t: t, m: m, st: st, h: h, eps: m.Spec.Root.Find("model.norm").Eps}
			want := make([][]float64, h.Layers)
			for i := range want {
				want[i] = make([]float64, h.Intermediate)
			}
			block := func(i int, x [][]float64, real int) [][]float64 {
				for _, row := range r.refMLPInput(i, x, real)[:real] {
					for j, v := range row {
						want[i][j] += v * v
					}
				}
				return r.refBlock(i, x, real)
			}
			head := "lm_head"
			if h.TiedEmbeddings {
				head = "model.embed_tokens"
			}
			r.refFamilyForward(tokens, -1, "model.embed_tokens.weight", "model.norm", head, block)

			s := NewSession()
			defer s.Close()
			got, err := s.NeuronActivations(context.Background(), m, tokens, Options{Backend: BackendCPU, DType: FP32})
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Norms) != h.Layers || got.Tokens != 18 {
				t.Fatalf("%d blocks, %d tokens", len(got.Norms), got.Tokens)
			}
			for i := range want {
				for j := range want[i] {
					w := math.Sqrt(want[i][j])
					if d := math.Abs(got.Norms[i][j] - w); d > 1e-4*max(w, 1e-3) {
						t.Fatalf("block %d neuron %d: %.7g, reference %.7g", i, j, got.Norms[i][j], w)
					}
				}
			}
			// The same session then runs plain passes as before: the measurement leaves no tap behind.
			if _, err := s.Evaluate(context.Background(), m, tokens, Options{Backend: BackendCPU, DType: FP32}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestNeuronActivationsRefuseMoE(t *testing.T) {
	m := openRandom(t, galleryConfig(t, "mistralai__Mixtral-8x7B-v0.1", map[string]any{"hidden_size": 32, "num_attention_heads": 4,
		"num_key_value_heads": 2, "num_hidden_layers": 2, "intermediate_size": 48, "vocab_size": 64, "num_local_experts": 2}), "F32", nil, nil)
	_, err := NewSession().NeuronActivations(context.Background(), m, randomTokens(1, 5, 64), Options{Backend: BackendCPU})
	if err == nil || !strings.Contains(err.Error(), "mixture-of-experts") {
		t.Errorf("got %v", err)
	}
}
