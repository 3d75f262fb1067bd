package compute

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/layerscope/layerscope/modelio"
)

// Phi-3 (and Phi-4-mini): the Llama block with q, k and v fused in qkv_proj and gate and up fused in
// gate_up_proj, partial rotary (partial_rotary_factor of each head rotates) and longrope scaling, whose
// short or long factors and attention scaling the shared RoPE code applies.

func init() { registerForward("phi3", buildPhi3) }

func buildPhi3(m *modelio.Model) (*plan, error) {
	p, act, err := newPlanWithActivation(m)
	if err != nil {
		return nil, err
	}
	h := p.hyper
	H, q, kv, I := h.Hidden, h.Heads*h.HeadDim, h.KVHeads*h.HeadDim, h.Intermediate
	p.blockSlots = func(i int) ([]slot, error) {
		l := p.slotsAt(p.blockPath(i) + ".")
		l.norm("ln1", "input_layernorm", H)
		l.linear("qkv", "self_attn.qkv_proj", H, q+2*kv)
		l.linear("o", "self_attn.o_proj", q, H)
		l.norm("ln2", "post_attention_layernorm", H)
		l.linear("gate_up", "mlp.gate_up_proj", H, 2*I)
		l.linear("down", "mlp.down_proj", I, H)
		return l.slots, l.err
	}
	scale := attnScale(h)
	p.block = func(env *blockEnv, x *Node, w weightSet) *Node {
		x.AssertDims(env.batch, env.seq, H)
		residual := x
		a := rmsNorm(x, w.get("ln1"), w.eps["ln1"], false)
		qkv := linear(a, w.get("qkv"), w.opt("qkv.bias")) // [batch, seq, q + 2·kv]
		qh := splitHeads(Slice(qkv, AxisRange(), AxisRange(), AxisRange(0, q)), h.Heads)
		kh := splitHeads(Slice(qkv, AxisRange(), AxisRange(), AxisRange(q, q+kv)), h.KVHeads)
		vh := splitHeads(Slice(qkv, AxisRange(), AxisRange(), AxisRangeToEnd(q+kv)), h.KVHeads)
		qh, kh = applyRope(env, qh), applyRope(env, kh)
		a = linear(attention(env, qh, kh, vh, scale, 0), w.get("o"), w.opt("o.bias"))
		x = Add(residual, a)

		residual = x
		f := rmsNorm(x, w.get("ln2"), w.eps["ln2"], false)
		gu := linear(f, w.get("gate_up"), w.opt("gate_up.bias")) // [batch, seq, 2·I]: gate, then up
		gate := Slice(gu, AxisRange(), AxisRange(), AxisRange(0, I))
		up := Slice(gu, AxisRange(), AxisRange(), AxisRangeToEnd(I))
		f = linear(Mul(up, act(gate)), w.get("down"), w.opt("down.bias"))
		return Add(residual, f)
	}
	return p, nil
}
