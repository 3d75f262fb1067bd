package compute

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/layerscope/layerscope/modelio"
)

// GPT-NeoX (GPT-NeoX-20B, the Pythia suite), as transformers 4.55's modeling_gpt_neox: LayerNorm,
// query_key_value fusing q, k and v per head ([heads, 3·head_dim]: each head's q, then its k, then its
// v, unlike Phi-3's qkv_proj), partial rotary (rotary_pct of each head), a classic MLP, and by default
// the parallel residual: x + attn(ln1(x)) + mlp(ln2(x)); without it, x + attn(ln1(x)) feeds the MLP.

func init() { registerForward("gpt_neox", buildGPTNeoX) }

func buildGPTNeoX(m *modelio.Model) (*plan, error) {
	p, act, err := newPlanWithActivation(m)
	if err != nil {
		return nil, err
	}
	h := p.hyper
	H, I, hd := h.Hidden, h.Intermediate, h.HeadDim
	p.blockSlots = func(i int) ([]slot, error) {
		l := p.slotsAt(p.blockPath(i) + ".")
		l.norm("ln1", "input_layernorm", H)
		l.norm("ln2", "post_attention_layernorm", H)
		l.linear("qkv", "attention.query_key_value", H, 3*H)
		l.linear("dense", "attention.dense", H, H)
		l.linear("up", "mlp.dense_h_to_4h", H, I)
		l.linear("down", "mlp.dense_4h_to_h", I, H)
		return l.slots, l.err
	}
	scale := attnScale(h)
	p.block = func(env *blockEnv, x *Node, w weightSet) *Node {
		x.AssertDims(env.batch, env.seq, H)
		a := layerNorm(x, w.get("ln1"), w.opt("ln1.bias"), w.eps["ln1"])
		qkv := Reshape(linear(a, w.get("qkv"), w.opt("qkv.bias")), env.batch, env.seq, h.Heads, 3*hd)
		q := Slice(qkv, AxisRange(), AxisRange(), AxisRange(), AxisRange(0, hd))
		k := Slice(qkv, AxisRange(), AxisRange(), AxisRange(), AxisRange(hd, 2*hd))
		v := Slice(qkv, AxisRange(), AxisRange(), AxisRange(), AxisRangeToEnd(2*hd))
		q, k = applyRope(env, q), applyRope(env, k)
		attn := linear(attention(env, q, k, v, scale, 0), w.get("dense"), w.opt("dense.bias"))
		mlp := func(in *Node) *Node {
			f := layerNorm(in, w.get("ln2"), w.opt("ln2.bias"), w.eps["ln2"])
			return linear(act(linear(f, w.get("up"), w.opt("up.bias"))), w.get("down"), w.opt("down.bias"))
		}
		if h.ParallelBlock {
			return Add(Add(mlp(x), attn), x) // mlp_output + attn_output + hidden_states
		}
		y := Add(attn, x)
		return Add(mlp(y), y)
	}
	return p, nil
}
