package compute

import (
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/family/hfconfig"
)

// Gemma 3's text decoder: embeddings scaled by sqrt(hidden) (in the model's dtype), RMSNorm with
// (1+w) in float32, four norms per block (before and after attention, before and after the MLP), q/k
// norms over head_dim, scores scaled by query_pre_attn_scalar^-0.5, a GELU-tanh GLU, and sliding
// layers with their own window and RoPE base (rope_local_base_freq, or rope_parameters'
// sliding_attention entry in transformers 5 configs).

func init() { registerForward("gemma3_text", buildGemma3) }

func buildGemma3(m *modelio.Model) (*plan, error) {
	p, act, err := newPlanWithActivation(m)
	if err != nil {
		return nil, err
	}
	h := p.hyper
	// Sliding layers rotate with the local base and no scaling (transformers 4 applies rope_scaling to
	// the global layers only); a transformers 5 config names their parameters itself.
	local := p.ropes[0]
	local.theta, local.params = h.RopeLocalTheta, nil
	if m.Config.Sub("rope_scaling") == nil {
		local.params = hfconfig.RopeParameters(m.Config, "sliding_attention")
	}
	if local.theta == 0 {
		local.theta = 10000 // Gemma3TextConfig's rope_local_base_freq default
	}
	p.ropes = append(p.ropes, local)
	for i := range p.layerRope {
		if h.LayerTypes != nil && h.LayerTypes[i] == "sliding_attention" {
			p.layerRope[i] = 1
		}
	}
	p.headNorm = func(x *Node, w weightSet) *Node { return rmsNorm(x, w.get("final_norm"), w.eps["final_norm"], true) }

	H, q, kv, I := h.Hidden, h.Heads*h.HeadDim, h.KVHeads*h.HeadDim, h.Intermediate
	p.blockSlots = func(i int) ([]slot, error) {
		l := p.slotsAt(p.blockPath(i) + ".")
		l.norm("ln_in", "input_layernorm", H)
		l.linear("q", "self_attn.q_proj", H, q)
		l.linear("k", "self_attn.k_proj", H, kv)
		l.linear("v", "self_attn.v_proj", H, kv)
		l.norm("q_norm", "self_attn.q_norm", h.HeadDim)
		l.norm("k_norm", "self_attn.k_norm", h.HeadDim)
		l.linear("o", "self_attn.o_proj", q, H)
		l.norm("ln_post_attn", "post_attention_layernorm", H)
		l.norm("ln_pre_ff", "pre_feedforward_layernorm", H)
		l.linear("gate", "mlp.gate_proj", H, I)
		l.linear("up", "mlp.up_proj", H, I)
		l.linear("down", "mlp.down_proj", I, H)
		l.norm("ln_post_ff", "post_feedforward_layernorm", H)
		return l.slots, l.err
	}
	scale, softcap := attnScale(h), h.AttnLogitSoftcap
	norm := func(x *Node, w weightSet, key string) *Node { return rmsNorm(x, w.get(key), w.eps[key], true) }
	p.block = func(env *blockEnv, x *Node, w weightSet) *Node {
		x.AssertDims(env.batch, env.seq, H)
		residual := x
		a := norm(x, w, "ln_in")
		a = gemma3Attention(env, a, w, h.Heads, h.KVHeads, scale, softcap)
		x = Add(residual, norm(a, w, "ln_post_attn"))

		residual = x
		f := norm(x, w, "ln_pre_ff")
		f = linear(Mul(act(linear(f, w.get("gate"), nil)), linear(f, w.get("up"), nil)), w.get("down"), nil)
		return Add(residual, norm(f, w, "ln_post_ff"))
	}
	return p, nil
}

// gemma3Attention is Gemma3Attention: q/k RMSNorm (1+w) over head_dim before RoPE.
// x: [batch, seq, hidden] → [batch, seq, hidden].
func gemma3Attention(env *blockEnv, x *Node, w weightSet, heads, kvHeads int, scale, softcap float64) *Node {
	q := splitHeads(linear(x, w.get("q"), w.opt("q.bias")), heads)
	k := splitHeads(linear(x, w.get("k"), w.opt("k.bias")), kvHeads)
	v := splitHeads(linear(x, w.get("v"), w.opt("v.bias")), kvHeads)
	q = rmsNorm(q, w.get("q_norm"), w.eps["q_norm"], true)
	k = rmsNorm(k, w.get("k_norm"), w.eps["k_norm"], true)
	q, k = applyRope(env, q), applyRope(env, k)
	return linear(attention(env, q, k, v, scale, softcap), w.get("o"), w.opt("o.bias"))
}
