package compute

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestPureGoPatchedOpsMatchPlainLoops checks the patched simplego's fast paths
// (third_party/gomlx/PATCH.md, change 3) against plain Go loops, to the bit: binary ops with an input
// broadcast along the last axis, along the leading axes or along both, ReduceSum/ReduceMax over the
// last axis, and a Transpose and a Slice that keep axis 0 (split across the cores like element-wise ops), in shapes below the size where ops are split across the cores and above it.
func TestPureGoPatchedOpsMatchPlainLoops(t *testing.T) {
	be, err := newSimpleGo()
	if err != nil {
		t.Fatal(err)
	}
	defer be.Finalize()
	for _, c := range []struct {
		name       string
		rows, cols int // x is [2, rows, cols]
	}{
		{"small, on one core", 3, 7},
		{"split across the cores", 64, 576},
	} {
		rows, cols := c.rows, c.cols
		x := normalFloats(2*rows*cols, 1)
		col := normalFloats(2*rows, 2) // [2, rows, 1]: broadcast along the last axis
		w := normalFloats(cols, 3)     // [1, 1, cols]: broadcast along the leading axes
		x[5] = float32(math.NaN())     // max and sums carry a NaN as upstream's loops do
		g := NewGraph(be, "patch")
		xp := Parameter(g, "x", shapes.Make(dtypes.Float32, 2, rows, cols))
		cp := Parameter(g, "col", shapes.Make(dtypes.Float32, 2, rows, 1))
		wp := Parameter(g, "w", shapes.Make(dtypes.Float32, 1, 1, cols))
		half := cols / 2
		g.Compile(Mul(xp, cp), Sub(xp, wp), Div(wp, xp), Add(cp, wp), Max(cp, xp),
			ReduceSum(xp, -1), ReduceMax(xp, -1), Transpose(xp, 1, 2), SliceAxis(xp, 2, AxisRange(1, 1+half)))
		buf := func(data []float32, dims ...int) backends.Buffer {
			b, err := be.BufferFromFlatData(0, data, shapes.Make(dtypes.Float32, dims...))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		outs := g.RunWithBuffers([]backends.Buffer{buf(x, 2, rows, cols), buf(col, 2, rows, 1), buf(w, 1, 1, cols)},
			[]bool{true, true, true}, 0)
		n := 2 * rows
		want := make([][]float32, 9)
		for i := range want[:5] {
			want[i] = make([]float32, n*cols)
		}
		want[5], want[6] = make([]float32, n), make([]float32, n)
		want[7], want[8] = make([]float32, n*cols), make([]float32, n*half)
		for r := range n {
			s, m := float32(0), float32(math.Inf(-1))
			for k := range cols {
				i, v := r*cols+k, x[r*cols+k]
				want[0][i] = v * col[r]
				want[1][i] = v - w[k]
				want[2][i] = w[k] / v
				want[3][i] = col[r] + w[k]
				want[4][i] = max(col[r], v)
				bb, rr := r/rows, r%rows
				want[7][(bb*cols+k)*rows+rr] = v
				if k >= 1 && k < 1+half {
					want[8][r*half+k-1] = v
				}
				s += v
				m = max(m, v)
			}
			want[5][r], want[6][r] = s, m
		}
		for o, name := range []string{"x·col", "x−w", "w/x", "col+w", "max(col, x)", "Σ_last x", "max_last x", "xᵀ(1,2)", "x[:, :, 1:1+half]"} {
			got := tensors.MustCopyFlatData[float32](outs[o])
			outs[o].FinalizeAll()
			if len(got) != len(want[o]) {
				t.Fatalf("%s: %s has %d values, want %d", c.name, name, len(got), len(want[o]))
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[o][i]) && !(math.IsNaN(float64(got[i])) && math.IsNaN(float64(want[o][i]))) {
					t.Errorf("%s: %s[%d] = %v, want %v", c.name, name, i, got[i], want[o][i])
					break
				}
			}
		}
	}
}

// normalFloats is n standard normal float32 values from a fixed seed.
func normalFloats(n int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 11))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}
