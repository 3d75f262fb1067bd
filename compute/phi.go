package compute

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/layerscope/layerscope/modelio"
)

// Phi (phi-1, phi-1.5, phi-2), as transformers 4.55's modeling_phi: one LayerNorm feeds attention and
// the MLP side by side (x + attn(ln(x)) + mlp(ln(x))), q, k, v and dense with biases, optional
// LayerNorms of q and k per head, partial rotary (partial_rotary_factor of each head), a classic MLP
// with gelu_new, and an LM head with a bias (newPlan adds it to the head's weights).

func init() { registerForward("phi", buildPhi) }

func buildPhi(m *modelio.Model) (*plan, error) {
	p, act, err := newPlanWithActivation(m)
	if err != nil {
		return nil, err
	}
	h := p.hyper
	H, q, kv, I := h.Hidden, h.Heads*h.HeadDim, h.KVHeads*h.HeadDim, h.Intermediate
	qkDim := h.Hidden / h.Heads // PhiAttention sizes its q/k LayerNorms so
	p.blockSlots = func(i int) ([]slot, error) {
		l := p.slotsAt(p.blockPath(i) + ".")
		l.norm("ln", "input_layernorm", H)
		l.linear("q", "self_attn.q_proj", H, q)
		l.linear("k", "self_attn.k_proj", H, kv)
		l.linear("v", "self_attn.v_proj", H, kv)
		if h.QKNorm {
			l.norm("q_norm", "self_attn.q_layernorm", qkDim)
			l.norm("k_norm", "self_attn.k_layernorm", qkDim)
		}
		l.linear("dense", "self_attn.dense", q, H)
		l.linear("fc1", "mlp.fc1", H, I)
		l.linear("fc2", "mlp.fc2", I, H)
		return l.slots, l.err
	}
	scale := attnScale(h)
	p.block = func(env *blockEnv, x *Node, w weightSet) *Node {
		x.AssertDims(env.batch, env.seq, H)
		a := layerNorm(x, w.get("ln"), w.opt("ln.bias"), w.eps["ln"])
		qh := splitHeads(linear(a, w.get("q"), w.opt("q.bias")), h.Heads)
		kh := splitHeads(linear(a, w.get("k"), w.opt("k.bias")), h.KVHeads)
		vh := splitHeads(linear(a, w.get("v"), w.opt("v.bias")), h.KVHeads)
		if qn := w.opt("q_norm"); qn != nil {
			qh = layerNorm(qh, qn, w.opt("q_norm.bias"), w.eps["q_norm"])
			kh = layerNorm(kh, w.get("k_norm"), w.opt("k_norm.bias"), w.eps["k_norm"])
		}
		qh, kh = applyRope(env, qh), applyRope(env, kh)
		attn := linear(attention(env, qh, kh, vh, scale, 0), w.get("dense"), w.opt("dense.bias"))
		mlp := linear(act(linear(a, w.get("fc1"), w.opt("fc1.bias"))), w.get("fc2"), w.opt("fc2.bias"))
		return Add(Add(attn, mlp), x) // attn_outputs + feed_forward_hidden_states + residual
	}
	return p, nil
}
