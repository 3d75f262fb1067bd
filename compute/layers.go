package compute

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads as math with the ops unqualified
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// This file holds the pieces every family's block is built from. Each follows the transformers module
// it stands for, including where it computes in float32 and where in the model's dtype, so that a run
// in float32 agrees with PyTorch to rounding and a run in fp16 overflows where PyTorch would.

// maskedScore is what a hidden key scores before the softmax. It is finite, unlike -inf, so a query
// with no visible key (a padding position past the window) gets a uniform row instead of NaN, as
// transformers' eager attention gives with finfo.min.
const maskedScore = -1e30

// blockEnv is what a block reads besides its weights and the hidden states: the attention mask and
// the RoPE tables of its layer kind. It is built from the graph's inputs, so layers that differ only
// in window or RoPE base share one executable.
type blockEnv struct {
	batch, seq int
	// bias: [batch, 1, 1, seq, seq] float32, 0 where query q may see key k (causal, not padding,
	// within the window), maskedScore elsewhere.
	bias *Node
	// cos, sin: [seq, rotary dims] in the compute dtype; nil for a family without RoPE.
	cos, sin *Node
	// queryChunk, when > 0, is how many query positions attention takes at a time (see attention).
	queryChunk int
}

// newBlockEnv builds the mask from keyMask [batch, seq] (1 for a real token, 0 for padding) and
// window, an int32 scalar: key k is visible from query q when k ≤ q and q − k < window.
func newBlockEnv(keyMask, window, cos, sin *Node, dtype dtypes.DType) *blockEnv {
	g := keyMask.Graph()
	b, s := keyMask.Shape().Dim(0), keyMask.Shape().Dim(1)
	q := Iota(g, shapes.Make(dtypes.Int32, s, s), 0)
	k := Iota(g, shapes.Make(dtypes.Int32, s, s), 1)
	visible := LogicalAnd(LessOrEqual(k, q), LessThan(Sub(q, k), window))
	visible = LogicalAnd(Reshape(visible, 1, s, s), GreaterThan(Reshape(keyMask, b, 1, s), ScalarZero(g, dtypes.Float32)))
	bias := Where(visible, ScalarZero(g, dtypes.Float32), Scalar(g, dtypes.Float32, maskedScore))
	env := &blockEnv{batch: b, seq: s, bias: Reshape(bias, b, 1, 1, s, s)}
	if cos != nil {
		env.cos, env.sin = ConvertDType(cos, dtype), ConvertDType(sin, dtype)
	}
	return env
}

// linear is nn.Linear: x [..., in] · w[out, in]ᵀ + b[out] → [..., out]; b may be nil.
func linear(x, w, b *Node) *Node {
	in, out := w.Shape().Dim(1), w.Shape().Dim(0)
	return matmulBias(x, w, 1, in, out, b)
}

// conv1D is GPT-2's Conv1D, a linear layer stored transposed: x [..., in] · w[in, out] + b[out].
func conv1D(x, w, b *Node) *Node {
	in, out := w.Shape().Dim(0), w.Shape().Dim(1)
	return matmulBias(x, w, 0, in, out, b)
}

// matmulBias contracts x's last axis with w's axis wIn, flattening x's leading axes so the backend
// sees one plain matrix product.
func matmulBias(x, w *Node, wIn, in, out int, b *Node) *Node {
	dims := x.Shape().Dimensions
	if dims[len(dims)-1] != in {
		panic(fmt.Errorf("linear: input %v does not end in %d", dims, in))
	}
	taps.see(w, x) // the down projection's input, when a graph measures MLP activations (activation.go)
	rows := x.Shape().Size() / in
	y := DotGeneral(Reshape(x, rows, in), []int{1}, nil, w, []int{wIn}, nil)
	if b != nil {
		y = Add(y, Reshape(b, 1, out))
	}
	outDims := append(append([]int{}, dims[:len(dims)-1]...), out)
	return Reshape(y, outDims...)
}

// rmsNorm is LlamaRMSNorm: w · (x·rsqrt(mean(x²)+eps)) with the normalisation in float32 and the
// product in x's dtype. plusOne is Gemma's variant: the product (1+w) is taken in float32 too.
// x: [..., dim]; w: [dim].
func rmsNorm(x, w *Node, eps float64, plusOne bool) *Node {
	dt := x.DType()
	xf := ConvertDType(x, dtypes.Float32)
	n := Mul(xf, Rsqrt(AddScalar(ReduceAndKeep(Square(xf), ReduceMean, -1), eps)))
	if plusOne {
		return ConvertDType(Mul(n, ExpandLeftToRank(OnePlus(ConvertDType(w, dtypes.Float32)), n.Rank())), dt)
	}
	return Mul(ConvertDType(n, dt), ExpandLeftToRank(w, x.Rank()))
}

// layerNorm is nn.LayerNorm over the last axis, computed in float32 as PyTorch's kernels do for
// half-precision inputs. x: [..., dim]; w, b: [dim].
func layerNorm(x, w, b *Node, eps float64) *Node {
	dt := x.DType()
	xf := ConvertDType(x, dtypes.Float32)
	c := Sub(xf, ReduceAndKeep(xf, ReduceMean, -1))
	n := Mul(c, Rsqrt(AddScalar(ReduceAndKeep(Square(c), ReduceMean, -1), eps)))
	n = Mul(n, ExpandLeftToRank(ConvertDType(w, dtypes.Float32), n.Rank()))
	if b != nil {
		n = Add(n, ExpandLeftToRank(ConvertDType(b, dtypes.Float32), n.Rank()))
	}
	return ConvertDType(n, dt)
}

// applyRope rotates the first rotary dims of every head as transformers' apply_rotary_pos_emb with
// rotate_half does (the two halves of the rotated part form the pairs); the rest passes unchanged
// (Phi-3's partial rotary). x: [batch, seq, heads, head_dim]; env.cos, env.sin: [seq, rotary].
func applyRope(env *blockEnv, x *Node) *Node {
	if env.cos == nil {
		return x
	}
	d := x.Shape().Dimensions
	s, hd, rd := d[1], d[3], env.cos.Shape().Dim(1)
	rot, pass := x, (*Node)(nil)
	if rd < hd {
		rot = Slice(x, AxisRange(), AxisRange(), AxisRange(), AxisRange(0, rd))
		pass = Slice(x, AxisRange(), AxisRange(), AxisRange(), AxisRangeToEnd(rd))
	}
	half := rd / 2
	x1 := Slice(rot, AxisRange(), AxisRange(), AxisRange(), AxisRange(0, half))
	x2 := Slice(rot, AxisRange(), AxisRange(), AxisRange(), AxisRangeToEnd(half))
	rotated := Concatenate([]*Node{Neg(x2), x1}, -1)
	cos, sin := Reshape(env.cos, 1, s, 1, rd), Reshape(env.sin, 1, s, 1, rd)
	out := Add(Mul(rot, cos), Mul(rotated, sin))
	if pass != nil {
		out = Concatenate([]*Node{out, pass}, -1)
	}
	return out
}

// attention is grouped-query scaled dot-product attention: query head h reads key/value head
// h / (heads/kvHeads), as transformers' repeat_kv arranges them. Scores are scaled, soft-capped when
// softcap > 0, masked and normalised in float32; the weighted sum is in the compute dtype. In half
// precision the queries are scaled before the product, as PyTorch's SDPA does, so q·k cannot overflow
// fp16 where the scaled score would not; in float32 the scores are scaled after, as the eager
// attention the fixtures were made with.
//
// With env.queryChunk > 0 the queries go through in chunks of that many positions, each against the
// keys up to its last position only (the later ones are masked for all of its queries), so the
// [batch, heads, chunk, keys] scores of one chunk are all that is ever held, not [batch, heads, seq,
// seq]: at 8 × 2048 on a Llama-3.2-1B shape that is 4.3 GB of float32 scores, several times over for
// the softmax's temporaries. The masked keys left out contributed exactly 0 to the softmax.
// q: [batch, seq, heads, head_dim]; k, v: [batch, seq, kvHeads, head_dim] → [batch, seq, heads·head_dim].
func attention(env *blockEnv, q, k, v *Node, scale, softcap float64) *Node {
	d := q.Shape().Dimensions
	b, s, heads, hd := d[0], d[1], d[2], d[3]
	kvHeads := k.Shape().Dim(2)
	k.AssertDims(b, s, kvHeads, hd)
	v.AssertDims(b, s, kvHeads, hd)
	if heads%kvHeads != 0 {
		panic(fmt.Errorf("attention: %d heads do not share %d key/value heads evenly", heads, kvHeads))
	}
	if q.DType() != dtypes.Float32 {
		q, scale = MulScalar(q, scale), 1
	}
	kt := TransposeAllAxes(k, 0, 2, 1, 3) // [b, kv, s, hd]
	vt := TransposeAllAxes(v, 0, 2, 1, 3)
	chunk := env.queryChunk
	if chunk <= 0 || chunk >= s {
		return attendChunk(q, kt, vt, env.bias, scale, softcap)
	}
	var parts []*Node
	for q0 := 0; q0 < s; q0 += chunk {
		q1 := min(s, q0+chunk)
		all := AxisRange()
		qc := Slice(q, all, AxisRange(q0, q1))
		keys := AxisRange(0, q1)
		bias := Slice(env.bias, all, all, all, AxisRange(q0, q1), keys)
		parts = append(parts, attendChunk(qc, Slice(kt, all, all, keys), Slice(vt, all, all, keys), bias, scale, softcap))
	}
	return Concatenate(parts, 1)
}

// attendChunk is attention for the queries q [batch, n, heads, head_dim] against the keys and values
// kt, vt [batch, kvHeads, keys, head_dim] with bias [batch, 1, 1, n, keys] → [batch, n, heads·head_dim].
func attendChunk(q, kt, vt, bias *Node, scale, softcap float64) *Node {
	d := q.Shape().Dimensions
	b, n, heads, hd := d[0], d[1], d[2], d[3]
	kvHeads, keys := kt.Shape().Dim(1), kt.Shape().Dim(2)
	groups := heads / kvHeads
	dt := q.DType()
	qg := TransposeAllAxes(Reshape(q, b, n, kvHeads, groups, hd), 0, 2, 3, 1, 4) // [b, kv, g, n, hd]
	qg = Reshape(qg, b, kvHeads, groups*n, hd)
	scores := DotGeneral(qg, []int{3}, []int{0, 1}, kt, []int{3}, []int{0, 1}) // [b, kv, g·n, keys]
	scores = ConvertDType(scores, dtypes.Float32)
	if scale != 1 {
		scores = MulScalar(scores, scale)
	}
	if softcap > 0 {
		scores = MulScalar(Tanh(DivScalar(scores, softcap)), softcap)
	}
	scores = Add(Reshape(scores, b, kvHeads, groups, n, keys), bias)
	probs := ConvertDType(Reshape(Softmax(scores, -1), b, kvHeads, groups*n, keys), dt)
	ctx := DotGeneral(probs, []int{3}, []int{0, 1}, vt, []int{2}, []int{0, 1}) // [b, kv, g·n, hd]
	ctx = TransposeAllAxes(Reshape(ctx, b, kvHeads, groups, n, hd), 0, 3, 1, 2, 4)
	return Reshape(ctx, b, n, heads*hd)
}

// splitHeads reshapes [batch, seq, heads·head_dim] into [batch, seq, heads, head_dim].
func splitHeads(x *Node, heads int) *Node {
	d := x.Shape().Dimensions
	return Reshape(x, d[0], d[1], heads, d[2]/heads)
}

// activation returns the function transformers' ACT2FN maps a config's activation name to.
func activation(name string) (func(*Node) *Node, error) {
	switch name {
	case "silu", "swish":
		return func(x *Node) *Node { return Mul(x, Logistic(x)) }, nil
	case "gelu_pytorch_tanh", "gelu_new", "gelu_fast", "gelu_python_tanh":
		return geluTanh, nil
	case "gelu", "gelu_python":
		return func(x *Node) *Node {
			return Mul(MulScalar(x, 0.5), OnePlus(Erf(MulScalar(x, 1/math.Sqrt2))))
		}, nil
	case "relu":
		return func(x *Node) *Node { return Max(x, ScalarZero(x.Graph(), x.DType())) }, nil
	}
	return nil, fmt.Errorf("activation %q has no forward pass in Layerscope", name)
}

// geluTanh is GELU with the tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
func geluTanh(x *Node) *Node {
	inner := MulScalar(Add(x, MulScalar(Mul(x, Square(x)), 0.044715)), math.Sqrt(2/math.Pi))
	return Mul(MulScalar(x, 0.5), OnePlus(Tanh(inner)))
}
