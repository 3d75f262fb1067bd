package compute

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/layerscope/layerscope/modelio"
)

// GPT-2: learned absolute positions added to the token embeddings (the shared embedding code does
// this from the module tree's position table), LayerNorm before attention and MLP, c_attn fusing q, k
// and v, Conv1D weights stored [in, out], and a classic MLP with gelu_new.

func init() { registerForward("gpt2", buildGPT2) }

func buildGPT2(m *modelio.Model) (*plan, error) {
	p, act, err := newPlanWithActivation(m)
	if err != nil {
		return nil, err
	}
	h := p.hyper
	H, I := h.Hidden, h.Intermediate
	p.blockSlots = func(i int) ([]slot, error) {
		l := p.slotsAt(p.blockPath(i) + ".")
		l.norm("ln_1", "ln_1", H)
		l.conv1D("c_attn", "attn.c_attn", H, 3*H)
		l.conv1D("attn_proj", "attn.c_proj", H, H)
		l.norm("ln_2", "ln_2", H)
		l.conv1D("c_fc", "mlp.c_fc", H, I)
		l.conv1D("mlp_proj", "mlp.c_proj", I, H)
		return l.slots, l.err
	}
	scale := attnScale(h)
	p.block = func(env *blockEnv, x *Node, w weightSet) *Node {
		x.AssertDims(env.batch, env.seq, H)
		residual := x
		a := layerNorm(x, w.get("ln_1"), w.opt("ln_1.bias"), w.eps["ln_1"])
		qkv := conv1D(a, w.get("c_attn"), w.get("c_attn.bias")) // [batch, seq, 3·hidden]: q, k, v
		q := splitHeads(Slice(qkv, AxisRange(), AxisRange(), AxisRange(0, H)), h.Heads)
		k := splitHeads(Slice(qkv, AxisRange(), AxisRange(), AxisRange(H, 2*H)), h.Heads)
		v := splitHeads(Slice(qkv, AxisRange(), AxisRange(), AxisRangeToEnd(2*H)), h.Heads)
		a = conv1D(attention(env, q, k, v, scale, 0), w.get("attn_proj"), w.get("attn_proj.bias"))
		x = Add(residual, a)

		residual = x
		f := layerNorm(x, w.get("ln_2"), w.opt("ln_2.bias"), w.eps["ln_2"])
		f = conv1D(act(conv1D(f, w.get("c_fc"), w.get("c_fc.bias"))), w.get("mlp_proj"), w.get("mlp_proj.bias"))
		return Add(residual, f)
	}
	return p, nil
}
