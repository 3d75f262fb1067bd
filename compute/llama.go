package compute

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/arch"
)

// The Llama block, shared unchanged by Mistral (sliding window on every layer), Qwen2 (q/k/v bias)
// and Qwen3 (RMSNorm of q and k over head_dim before RoPE). SmolLM2 and TinyLlama are llama configs.
// Biases and q/k norms are taken where the module tree has them, so one block serves all four.

func init() {
	for _, t := range []string{"llama", "mistral", "qwen2", "qwen3"} {
		registerForward(t, buildLlama)
	}
}

func buildLlama(m *modelio.Model) (*plan, error) {
	p, act, err := newPlanWithActivation(m)
	if err != nil {
		return nil, err
	}
	h := p.hyper
	H, I := h.Hidden, h.Intermediate
	p.blockSlots = func(i int) ([]slot, error) {
		l := p.slotsAt(p.blockPath(i) + ".")
		l.llamaAttention(h)
		l.linear("gate", "mlp.gate_proj", H, I)
		l.linear("up", "mlp.up_proj", H, I)
		l.linear("down", "mlp.down_proj", I, H)
		return l.slots, l.err
	}
	scale := attnScale(h)
	p.block = func(env *blockEnv, x *Node, w weightSet) *Node {
		x.AssertDims(env.batch, env.seq, H)
		residual := x
		a := rmsNorm(x, w.get("ln1"), w.eps["ln1"], false)
		a = llamaAttention(env, a, w, h.Heads, h.KVHeads, scale)
		x = Add(residual, a)

		residual = x
		f := rmsNorm(x, w.get("ln2"), w.eps["ln2"], false)
		f = linear(Mul(act(linear(f, w.get("gate"), w.opt("gate.bias"))), linear(f, w.get("up"), w.opt("up.bias"))),
			w.get("down"), w.opt("down.bias"))
		return Add(residual, f)
	}
	return p, nil
}

// llamaAttention adds the weights of a Llama block up to its MLP: the two norms, q, k, v, o and
// Qwen3's q/k norms where the config has them.
func (l *slotList) llamaAttention(h arch.Hyper) {
	H, q, kv := h.Hidden, h.Heads*h.HeadDim, h.KVHeads*h.HeadDim
	l.norm("ln1", "input_layernorm", H)
	l.linear("q", "self_attn.q_proj", H, q)
	l.linear("k", "self_attn.k_proj", H, kv)
	l.linear("v", "self_attn.v_proj", H, kv)
	if h.QKNorm {
		l.norm("q_norm", "self_attn.q_norm", h.HeadDim)
		l.norm("k_norm", "self_attn.k_norm", h.HeadDim)
	}
	l.linear("o", "self_attn.o_proj", q, H)
	l.norm("ln2", "post_attention_layernorm", H)
}

// llamaAttention is LlamaAttention (and Qwen3Attention with its q/k norms).
// x: [batch, seq, hidden] → [batch, seq, hidden].
func llamaAttention(env *blockEnv, x *Node, w weightSet, heads, kvHeads int, scale float64) *Node {
	q := splitHeads(linear(x, w.get("q"), w.opt("q.bias")), heads)
	k := splitHeads(linear(x, w.get("k"), w.opt("k.bias")), kvHeads)
	v := splitHeads(linear(x, w.get("v"), w.opt("v.bias")), kvHeads)
	if qn := w.opt("q_norm"); qn != nil {
		q = rmsNorm(q, qn, w.eps["q_norm"], false)
		k = rmsNorm(k, w.get("k_norm"), w.eps["k_norm"], false)
	}
	q, k = applyRope(env, q), applyRope(env, k)
	return linear(attention(env, q, k, v, scale, 0), w.get("o"), w.opt("o.bias"))
}
