package compute

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/layerscope/layerscope/modelio"
)

// Mixture-of-experts families: Mixtral (every layer sparse; experts w1 gate, w3 up, w2 down; top-k
// weights always renormalised) and Qwen3-MoE (the Qwen3 block with q/k norms; layers sparse or dense
// as the module tree says; renormalised when norm_topk_prob). As transformers 4.55's
// MixtralSparseMoeBlock and Qwen3MoeSparseMoeBlock: the router's logits go through a float32 softmax,
// torch.topk picks num_experts_per_tok experts per token (the first index among equals), and the token's
// output is the sum, in expert order, of each chosen expert's GLU MLP times its weight in the model's
// dtype.
//
// Every expert runs on every token, with weight 0 where it was not chosen: exact and simple, at
// experts/top-k times the FLOPs of routed compute (8/2 for Mixtral, 128/8 for Qwen3-30B-A3B).

func init() {
	registerForward("mixtral", func(m *modelio.Model) (*plan, error) {
		return buildMoE(m, "block_sparse_moe", [3]string{"w1", "w3", "w2"}, true)
	})
	registerForward("qwen3_moe", func(m *modelio.Model) (*plan, error) {
		return buildMoE(m, "mlp", [3]string{"gate_proj", "up_proj", "down_proj"}, m.Config.Bool("norm_topk_prob", false))
	})
}

// buildMoE builds a Llama-style block whose MLP is the module at ffn: a sparse MoE block where the
// module tree has a router there, else a dense GLU MLP. names are an expert's gate, up and down
// projections.
func buildMoE(m *modelio.Model, ffn string, names [3]string, normTopK bool) (*plan, error) {
	p, act, err := newPlanWithActivation(m)
	if err != nil {
		return nil, err
	}
	h := p.hyper
	p.variant = fmt.Sprintf("norm_topk_prob %t", normTopK)
	H := h.Hidden
	if h.Experts > 0 && h.ExpertsPerToken > 0 && h.Experts > h.ExpertsPerToken {
		p.notes = append(p.notes, fmt.Sprintf("every expert runs on every token (weight 0 where the router did not pick it): "+
			"the same scores as routed compute, at %d/%d = %.0f× its expert FLOPs", h.Experts, h.ExpertsPerToken,
			float64(h.Experts)/float64(h.ExpertsPerToken)))
	}
	p.blockSlots = func(i int) ([]slot, error) {
		prefix := p.blockPath(i) + "."
		l := p.slotsAt(prefix)
		l.llamaAttention(h)
		if m.Spec.Root.Find(prefix+ffn+".gate") == nil || h.Experts == 0 { // a dense layer (Qwen3-MoE's mlp_only_layers)
			l.linear("gate", ffn+".gate_proj", H, h.Intermediate)
			l.linear("up", ffn+".up_proj", H, h.Intermediate)
			l.linear("down", ffn+".down_proj", h.Intermediate, H)
			return l.slots, l.err
		}
		I := h.ExpertIntermediate
		l.linear("router", ffn+".gate", H, h.Experts)
		for e := range h.Experts {
			ex := fmt.Sprintf("%s.experts.%d.", ffn, e)
			l.linear(expertKey(e, "gate"), ex+names[0], H, I)
			l.linear(expertKey(e, "up"), ex+names[1], H, I)
			l.linear(expertKey(e, "down"), ex+names[2], I, H)
		}
		return l.slots, l.err
	}
	scale := attnScale(h)
	p.block = func(env *blockEnv, x *Node, w weightSet) *Node {
		x.AssertDims(env.batch, env.seq, H)
		residual := x
		a := rmsNorm(x, w.get("ln1"), w.eps["ln1"], false)
		x = Add(residual, llamaAttention(env, a, w, h.Heads, h.KVHeads, scale))

		residual = x
		f := rmsNorm(x, w.get("ln2"), w.eps["ln2"], false)
		if w.opt("router") == nil {
			f = linear(Mul(act(linear(f, w.get("gate"), nil)), linear(f, w.get("up"), nil)), w.get("down"), nil)
		} else {
			f = sparseMoE(f, w, h.Experts, h.ExpertsPerToken, normTopK, act)
		}
		return Add(residual, f)
	}
	return p, nil
}

func expertKey(e int, proj string) string { return fmt.Sprintf("expert%d.%s", e, proj) }

// sparseMoE routes every token of x [batch, seq, hidden] to its topK experts (see the file comment).
func sparseMoE(x *Node, w weightSet, experts, topK int, normTopK bool, act func(*Node) *Node) *Node {
	d := x.Shape().Dimensions
	n, hidden := d[0]*d[1], d[2]
	xf := Reshape(x, n, hidden)
	probs := Softmax(ConvertDType(linear(xf, w.get("router"), nil), dtypes.Float32), -1) // [n, experts]
	// torch.topk, one expert at a time so that equal probabilities still choose exactly topK.
	chosen, left := ZerosLike(probs), probs
	for range topK {
		pick := OneHot(ArgMax(left, -1), experts, dtypes.Float32)
		chosen = Add(chosen, pick)
		left = Where(GreaterThan(pick, ScalarZero(x.Graph(), dtypes.Float32)), Scalar(x.Graph(), dtypes.Float32, -1), left)
	}
	weights := Mul(probs, chosen)
	if normTopK {
		weights = Div(weights, ReduceAndKeep(weights, ReduceSum, -1))
	}
	weights = ConvertDType(weights, x.DType())
	var out *Node
	for e := range experts {
		g := act(linear(xf, w.get(expertKey(e, "gate")), nil))
		y := linear(Mul(g, linear(xf, w.get(expertKey(e, "up")), nil)), w.get(expertKey(e, "down")), nil)
		y = Mul(y, Slice(weights, AxisRange(), AxisRange(e, e+1)))
		if out == nil {
			out = y
		} else {
			out = Add(out, y)
		}
	}
	return Reshape(out, d...)
}
