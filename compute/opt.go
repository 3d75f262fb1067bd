package compute

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/layerscope/layerscope/modelio"
)

// OPT, as transformers 4.55's modeling_opt: learned positions with fairseq's offset of 2 (a real token
// at position t reads row t+2; padding reads row 1, as the cumsum of the attention mask gives it),
// LayerNorm before attention and before the MLP, q, k, v and out_proj with biases, and fc1, ReLU,
// fc2 hanging off the layer. opt-350m's post-LayerNorm blocks and its project_in/project_out around a
// narrower word embedding are refused with a one-line error.

func init() { registerForward("opt", buildOPT) }

// optPositionOffset is OPTLearnedPositionalEmbedding's offset.
const optPositionOffset = 2

func buildOPT(m *modelio.Model) (*plan, error) {
	switch {
	case !m.Config.Bool("do_layer_norm_before", true):
		return nil, fmt.Errorf("do_layer_norm_before is false (post-LayerNorm blocks, as opt-350m): no forward pass in Layerscope yet")
	case m.Spec.Root.Find("model.decoder.project_in") != nil:
		return nil, fmt.Errorf("word_embed_proj_dim differs from hidden_size (project_in/project_out, as opt-350m): no forward pass in Layerscope yet")
	}
	p, act, err := newPlanWithActivation(m)
	if err != nil {
		return nil, err
	}
	h := p.hyper
	H, I := h.Hidden, h.Intermediate
	p.blockSlots = func(i int) ([]slot, error) {
		l := p.slotsAt(p.blockPath(i) + ".")
		l.norm("ln1", "self_attn_layer_norm", H)
		l.linear("q", "self_attn.q_proj", H, H)
		l.linear("k", "self_attn.k_proj", H, H)
		l.linear("v", "self_attn.v_proj", H, H)
		l.linear("o", "self_attn.out_proj", H, H)
		l.norm("ln2", "final_layer_norm", H)
		l.linear("fc1", "fc1", H, I)
		l.linear("fc2", "fc2", I, H)
		return l.slots, l.err
	}
	scale := attnScale(h)
	p.block = func(env *blockEnv, x *Node, w weightSet) *Node {
		x.AssertDims(env.batch, env.seq, H)
		a := layerNorm(x, w.get("ln1"), w.opt("ln1.bias"), w.eps["ln1"])
		q := splitHeads(linear(a, w.get("q"), w.opt("q.bias")), h.Heads)
		k := splitHeads(linear(a, w.get("k"), w.opt("k.bias")), h.Heads)
		v := splitHeads(linear(a, w.get("v"), w.opt("v.bias")), h.Heads)
		x = Add(x, linear(attention(env, q, k, v, scale, 0), w.get("o"), w.opt("o.bias")))
		f := layerNorm(x, w.get("ln2"), w.opt("ln2.bias"), w.eps["ln2"])
		f = linear(act(linear(f, w.get("fc1"), w.opt("fc1.bias"))), w.get("fc2"), w.opt("fc2.bias"))
		return Add(x, f)
	}
	p.position = func(t, real int) int {
		if t >= real {
			return optPositionOffset - 1 // cumsum(mask)·mask − 1 + offset
		}
		return t + optPositionOffset
	}
	return p, nil
}
