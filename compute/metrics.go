package compute

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// The metrics of ../shared/reference/IMPORTANCE.md. The block executable reduces its input and output
// to a few numbers per token and per sample on the device (blockStats), so the host never downloads a
// hidden state; the scores are then formed on the host in float64.

// blockStats are the statistics a block executable returns beside its output, all float32:
// per-token cosine of input and output [batch, seq]; per sample, over the whole (seq × hidden) tensor
// with padding, the dot product and both squared norms [batch, 3]; the last real token's input and
// output [batch, hidden] each; and the count of non-finite values in the output (a scalar).
// Padding is masked on the host, where the real tokens are known. x, y: [batch, seq, hidden];
// last: [batch, seq], 1 at each sample's last real token.
func blockStats(x, y, last *Node) []*Node {
	g := x.Graph()
	d := x.Shape().Dimensions
	b, s := d[0], d[1]
	xf, yf := ConvertDType(x, dtypes.Float32), ConvertDType(y, dtypes.Float32)
	dot := ReduceSum(Mul(xf, yf), -1)
	nx, ny := ReduceSum(Square(xf), -1), ReduceSum(Square(yf), -1)
	// torch.nn.functional.cosine_similarity: x·y / sqrt(max(|x|²·|y|², eps²)), eps = 1e-8
	tokCos := Div(dot, Sqrt(Max(Mul(nx, ny), Scalar(g, dtypes.Float32, 1e-16))))
	flat := Stack([]*Node{ReduceSum(dot, -1), ReduceSum(nx, -1), ReduceSum(ny, -1)}, -1)
	sel := Reshape(last, b, s, 1)
	lastX, lastY := ReduceSum(Mul(xf, sel), 1), ReduceSum(Mul(yf, sel), 1)
	bad := ReduceAllSum(Where(IsFinite(yf), ScalarZero(g, dtypes.Float32), ScalarOne(g, dtypes.Float32)))
	return []*Node{tokCos, flat, lastX, lastY, bad}
}

// blockStat is blockStats on the host.
type blockStat struct {
	tokCos       []float32 // [batch·seq]
	flat         []float32 // [batch·3]
	lastX, lastY []float32 // [batch·hidden]
	nonFinite    int
}

// blockStatCount is how many outputs blockStats adds to a block's executable.
const blockStatCount = 5

func readStats(ts []*tensors.Tensor) (st blockStat, err error) {
	if len(ts) != blockStatCount {
		return st, fmt.Errorf("compute: block executable returned %d statistics, expected 5", len(ts))
	}
	get := func(t *tensors.Tensor) []float32 {
		if err != nil {
			return nil
		}
		var v []float32
		v, err = tensors.CopyFlatData[float32](t)
		return v
	}
	st.tokCos, st.flat, st.lastX, st.lastY = get(ts[0]), get(ts[1]), get(ts[2]), get(ts[3])
	bad := get(ts[4])
	if err == nil {
		st.nonFinite = int(bad[0])
	}
	return st, err
}

// blockInfluence is ShortGPT's BI of each block: 1 − the mean, over every real token of every sample,
// of the cosine between the block's input and output.
func blockInfluence(stats []blockStat, in *batch) []float64 {
	out := make([]float64, len(stats))
	for i, st := range stats {
		var sum float64
		var n int
		for j, c := range st.tokCos {
			if in.keyMask[j] > 0 {
				sum += float64(c)
				n++
			}
		}
		out[i] = 1 - sum/float64(n)
	}
	return out
}

// flatCosine is optipfair's score: 1 − the cosine of each sample's whole (seq × hidden) input and
// output, padding included, averaged over samples.
func flatCosine(stats []blockStat, in *batch) []float64 {
	out := make([]float64, len(stats))
	for i, st := range stats {
		var sum float64
		for b := 0; b < in.batch; b++ {
			dot, nx, ny := float64(st.flat[3*b]), float64(st.flat[3*b+1]), float64(st.flat[3*b+2])
			sum += dot / math.Sqrt(math.Max(nx*ny, 1e-16))
		}
		out[i] = 1 - sum/float64(in.batch)
	}
	return out
}

// angularDistances is Gromov et al.'s distance of every n-block span for n = 1..maxN (at most the
// number of blocks): d(i, n) = arccos(cos(h_i[T], h_{i+n}[T]))/π on each sample's last real token T,
// averaged over samples. The result maps n to the distances of spans starting at blocks 0..L−n.
func angularDistances(stats []blockStat, in *batch, hidden, maxN int) map[int][]float64 {
	L := len(stats)
	// states[i] holds h_i[T] of every sample: the input of block i, or the output of the last block.
	states := make([][]float32, L+1)
	for i, st := range stats {
		states[i] = st.lastX
		states[i+1] = st.lastY
	}
	out := map[int][]float64{}
	for n := 1; n <= maxN && n <= L; n++ {
		d := make([]float64, L-n+1)
		for i := range d {
			var sum float64
			for b := 0; b < in.batch; b++ {
				c := cosine(states[i][b*hidden:(b+1)*hidden], states[i+n][b*hidden:(b+1)*hidden])
				sum += math.Acos(max(-1, min(1, c))) / math.Pi
			}
			d[i] = sum / float64(in.batch)
		}
		out[n] = d
	}
	return out
}

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return dot / math.Sqrt(math.Max(na*nb, 1e-16))
}

// meanNLL averages the per-position NLL the head returns over the positions that have a real next
// token, and returns how many there were.
func meanNLL(nll []float32, in *batch) (float64, int) {
	var sum float64
	var n int
	for j, v := range nll {
		if in.hasTarget[j] {
			sum += float64(v)
			n++
		}
	}
	if n == 0 {
		return math.NaN(), 0
	}
	return sum / float64(n), n
}
