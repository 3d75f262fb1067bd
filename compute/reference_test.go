package compute

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/arch"
)

// A plain float64 forward pass, written from the transformers modules with loops and no GoMLX, to
// cross-check the graphs independently of the fixtures: the hidden states after every block, the NLL,
// and the NLL with each block skipped (the ablation, which the fixtures do not record).

type refModel struct {
	t   testing.TB
	m   *modelio.Model
	st  *store
	h   arch.Hyper
	eps float64
}

func (r *refModel) w(name string) []float64 {
	v, err := r.st.F32(r.st.resolve(name), nil)
	if err != nil {
		r.t.Fatal(err)
	}
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func (r *refModel) has(name string) bool { _, ok := r.st.set.Tensors[r.st.resolve(name)]; return ok }

// matvec: y = W x (+ b) for W [out, in]; transposed: W [in, out] (GPT-2's Conv1D).
func matvec(w, b, x []float64, out int, transposed bool) []float64 {
	in := len(x)
	y := make([]float64, out)
	for o := range y {
		var s float64
		for i := range x {
			if transposed {
				s += w[i*out+o] * x[i]
			} else {
				s += w[o*in+i] * x[i]
			}
		}
		if b != nil {
			s += b[o]
		}
		y[o] = s
	}
	return y
}

func refRMS(x, w []float64, eps float64) []float64 {
	var ms float64
	for _, v := range x {
		ms += v * v
	}
	ms = 1 / math.Sqrt(ms/float64(len(x))+eps)
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = v * ms * w[i]
	}
	return out
}

func refLN(x, w, b []float64, eps float64) []float64 {
	var mean, vr float64
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	for _, v := range x {
		vr += (v - mean) * (v - mean)
	}
	vr /= float64(len(x))
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = (v-mean)/math.Sqrt(vr+eps)*w[i] + b[i]
	}
	return out
}

// refAttention: q [S][heads·hd], k, v [S][kv·hd]; causal, real keys only (lens), window (0 = none).
func refAttention(q, k, v [][]float64, heads, kvHeads, hd, real, window int, scale float64) [][]float64 {
	S := len(q)
	out := make([][]float64, S)
	for t := 0; t < S; t++ {
		out[t] = make([]float64, heads*hd)
		for h := 0; h < heads; h++ {
			kh := h / (heads / kvHeads)
			scores := make([]float64, S)
			mx := math.Inf(-1)
			for s := 0; s < S; s++ {
				if s > t || s >= real || (window > 0 && t-s >= window) {
					scores[s] = math.Inf(-1)
					continue
				}
				var d float64
				for i := 0; i < hd; i++ {
					d += q[t][h*hd+i] * k[s][kh*hd+i]
				}
				scores[s] = d * scale
				mx = math.Max(mx, scores[s])
			}
			var z float64
			for s := range scores {
				scores[s] = math.Exp(scores[s] - mx)
				z += scores[s]
			}
			for s := range scores {
				for i := 0; i < hd; i++ {
					out[t][h*hd+i] += scores[s] / z * v[s][kh*hd+i]
				}
			}
		}
	}
	return out
}

// refRope rotates every head of x [S][heads·hd] in place, with the half-split pairs of rotate_half.
func refRope(x [][]float64, heads, hd int, r rope) {
	half := r.dim / 2
	for t := range x {
		for h := 0; h < heads; h++ {
			base := x[t][h*hd:]
			for i := 0; i < half; i++ {
				a := float64(t) * float64(r.invFreq[i])
				c, s := math.Cos(a)*r.scale, math.Sin(a)*r.scale
				x1, x2 := base[i], base[i+half]
				base[i], base[i+half] = x1*c-x2*s, x2*c+x1*s
			}
		}
	}
}

// refBlock runs block i on one sample's states x [S][hidden] with real tokens.
func (r *refModel) refBlock(i int, x [][]float64, real int) [][]float64 {
	p := fmt.Sprintf("%s.%d.", map[bool]string{true: "transformer.h", false: "model.layers"}[r.h.Positional == arch.PosLearned], i)
	h := r.h
	S := len(x)
	q, k, v := make([][]float64, S), make([][]float64, S), make([][]float64, S)
	out := make([][]float64, S)
	if h.Positional == arch.PosLearned { // GPT-2
		w1, b1 := r.w(p+"ln_1.weight"), r.w(p+"ln_1.bias")
		wa, ba := r.w(p+"attn.c_attn.weight"), r.w(p+"attn.c_attn.bias")
		for t := range x {
			qkv := matvec(wa, ba, refLN(x[t], w1, b1, r.eps), 3*h.Hidden, true)
			q[t], k[t], v[t] = qkv[:h.Hidden], qkv[h.Hidden:2*h.Hidden], qkv[2*h.Hidden:]
		}
		att := refAttention(q, k, v, h.Heads, h.Heads, h.HeadDim, real, 0, 1/math.Sqrt(float64(h.HeadDim)))
		wp, bp := r.w(p+"attn.c_proj.weight"), r.w(p+"attn.c_proj.bias")
		w2, b2 := r.w(p+"ln_2.weight"), r.w(p+"ln_2.bias")
		wf, bf := r.w(p+"mlp.c_fc.weight"), r.w(p+"mlp.c_fc.bias")
		wm, bm := r.w(p+"mlp.c_proj.weight"), r.w(p+"mlp.c_proj.bias")
		for t := range x {
			y := matvec(wp, bp, att[t], h.Hidden, true)
			for j := range y {
				y[j] += x[t][j]
			}
			f := matvec(wf, bf, refLN(y, w2, b2, r.eps), h.Intermediate, true)
			for j, a := range f {
				f[j] = 0.5 * a * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(a+0.044715*a*a*a)))
			}
			f = matvec(wm, bm, f, h.Hidden, true)
			for j := range f {
				f[j] += y[j]
			}
			out[t] = f
		}
		return out
	}
	opt := func(name string) []float64 {
		if r.has(name) {
			return r.w(name)
		}
		return nil
	}
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
	wo := r.w(p + "self_attn.o_proj.weight")
	ln2 := r.w(p + "post_attention_layernorm.weight")
	wg, wu, wd := r.w(p+"mlp.gate_proj.weight"), r.w(p+"mlp.up_proj.weight"), r.w(p+"mlp.down_proj.weight")
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
		f := matvec(wd, nil, g, h.Hidden, false)
		for j := range f {
			f[j] += y[j]
		}
		out[t] = f
	}
	return out
}

// refNLL is −log softmax(logits)[target].
func refNLL(logits []float64, target int) float64 {
	mx := math.Inf(-1)
	for _, l := range logits {
		mx = math.Max(mx, l)
	}
	var z float64
	for _, l := range logits {
		z += math.Exp(l - mx)
	}
	return math.Log(z) + mx - logits[target]
}

// refForward returns every sample's states after every block ([block][sample][t][hidden]) and the
// mean NLL with block skip skipped (-1: none), for GPT-2 and the Llama-block families.
func (r *refModel) refForward(tokens [][]int, skip int) ([][][][]float64, float64) {
	emb, final, head := "model.embed_tokens.weight", "model.norm", "lm_head"
	if r.h.Positional == arch.PosLearned { // GPT-2
		emb, final = "transformer.wte.weight", "transformer.ln_f"
	}
	if r.h.TiedEmbeddings {
		head = strings.TrimSuffix(emb, ".weight")
	}
	return r.refFamilyForward(tokens, skip, emb, final, head, r.refBlock)
}

// compareWithReference checks a run's block outputs at the real positions (the reference leaves
// padding unmasked) and its NLL against the float64 reference's.
func compareWithReference(t *testing.T, res *Result, pr *passResult, tokens [][]int, states [][][][]float64, nll float64) {
	t.Helper()
	S, H := res.SeqLen, len(states[0][0][0])
	for i := range states {
		var ref, got []float32
		for b, s := range tokens {
			for pos := range s {
				for _, v := range states[i][b][pos] {
					ref = append(ref, float32(v))
				}
				got = append(got, pr.hidden[i][(b*S+pos)*H:(b*S+pos+1)*H]...)
			}
		}
		if e := relErr(got, ref); e > 1e-5 {
			t.Errorf("block %d: graph vs float64 reference: relative error %.2e", i, e)
		}
	}
	if e := math.Abs(res.NLL-nll) / nll; e > 1e-5 {
		t.Errorf("NLL %.7f, reference %.7f", res.NLL, nll)
	}
}

func TestReferenceForward(t *testing.T) {
	for _, family := range []string{"llama", "mistral", "qwen2", "gpt2"} {
		t.Run(family, func(t *testing.T) {
			f := loadFixture(t, family)
			m := f.model
			st, err := openStore(m.Weights, m.TensorName)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			eps := m.Spec.Root.Find(map[bool]string{true: "transformer.ln_f", false: "model.norm"}[family == "gpt2"]).Eps
			r := &refModel{t: t, m: m, st: st, h: m.Spec.Hyper, eps: eps}
			states, nll := r.refForward(f.tokens, -1)

			res, pr, err := run(context.Background(), m, f.tokens, Options{Backend: BackendCPU, DType: FP32, Metrics: AllMetrics},
				passOptions{keepHidden: true})
			if err != nil {
				t.Fatal(err)
			}
			compareWithReference(t, res, pr, f.tokens, states, nll)
			if e := math.Abs(nll-f.expected.NLL) / nll; e > 1e-5 {
				t.Errorf("reference NLL %.7f, PyTorch %.7f", nll, f.expected.NLL)
			}
			for i := 0; i < m.Spec.Hyper.Layers; i++ {
				_, skipped := r.refForward(f.tokens, i)
				if d := math.Abs(res.Ablation[i] - (skipped - nll)); d > 1e-4 {
					t.Errorf("ablation of block %d: ΔNLL %.6f, reference %.6f", i, res.Ablation[i], skipped-nll)
				}
			}
			t.Logf("%s: ΔNLL %v", family, res.Ablation)
		})
	}
}
