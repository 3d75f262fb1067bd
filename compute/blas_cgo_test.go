//go:build cgo && (linux || darwin) && !noblas

package compute

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// naiveDot is DotGeneral for operands laid out as gemmOperand accepts, in float64: out[b, i, j] =
// Σ_k lhs[b, i, k]·rhs[b, j, k], reading each side through its index function.
func naiveDot(batch, m, n, k int, a, b func(bb, r, c int) float32) []float64 {
	out := make([]float64, batch*m*n)
	for bb := range batch {
		for i := range m {
			for j := range n {
				var s float64
				for c := range k {
					s += float64(a(bb, i, c)) * float64(b(bb, j, c))
				}
				out[(bb*m+i)*n+j] = s
			}
		}
	}
	return out
}

func randFloats(n int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 9))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// TestBLASDotGeneralLayouts checks the OpenBLAS kernel on every layout it takes (contracting axes
// last or first on either side, batch axes, several contracting axes, products large enough to be
// split across the cores) against a float64 product, and that it declines the layouts it does not take.
func TestBLASDotGeneralLayouts(t *testing.T) {
	for _, c := range []struct {
		name               string
		batch, m, n, k     int
		lhsFirst, rhsFirst bool // contracting axes right after the batch axes
	}{
		{"linear x·wᵀ", 1, 5, 3, 7, false, false},
		{"conv1D x·w", 1, 5, 3, 7, false, true},
		{"lhs transposed", 1, 4, 6, 5, true, false},
		{"both transposed", 1, 4, 6, 5, true, true},
		{"attention scores, batch 6", 6, 9, 8, 4, false, false},
		{"attention context, batch 6", 6, 9, 4, 8, false, true},
		{"split across cores", 1, 300, 130, 129, false, false},
		{"split across cores, transposed", 2, 301, 64, 257, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			lhs, rhs := randFloats(c.batch*c.m*c.k, 1), randFloats(c.batch*c.n*c.k, 2)
			dims := func(cross int, first bool) ([]int, []int, []int) {
				if c.batch == 1 {
					if first {
						return []int{c.k, cross}, []int{0}, nil
					}
					return []int{cross, c.k}, []int{1}, nil
				}
				if first {
					return []int{c.batch, c.k, cross}, []int{1}, []int{0}
				}
				return []int{c.batch, cross, c.k}, []int{2}, []int{0}
			}
			ld, lc, lb := dims(c.m, c.lhsFirst)
			rd, rc, rb := dims(c.n, c.rhsFirst)
			at := func(v []float32, cross int, first bool) func(bb, r, k int) float32 {
				return func(bb, r, k int) float32 {
					if first {
						return v[(bb*c.k+k)*cross+r]
					}
					return v[(bb*cross+r)*c.k+k]
				}
			}
			want := naiveDot(c.batch, c.m, c.n, c.k, at(lhs, c.m, c.lhsFirst), at(rhs, c.n, c.rhsFirst))
			out := make([]float32, len(want))
			if !blasDotGeneral(lhs, ld, lc, lb, rhs, rd, rc, rb, out) {
				t.Fatal("declined")
			}
			for i := range want {
				if d := math.Abs(float64(out[i]) - want[i]); d > 1e-4*math.Max(1, math.Abs(want[i])) {
					t.Fatalf("out[%d] = %v, want %v", i, out[i], want[i])
				}
			}
		})
	}
	// Batch axes that are not leading, and contracting axes in the middle of the cross axes, go to
	// simplego's own kernels.
	v := make([]float32, 2*3*4)
	if blasDotGeneral(v, []int{3, 2, 4}, []int{2}, []int{1}, v, []int{2, 3, 4}, []int{2}, []int{0}, make([]float32, 2*3*3)) {
		t.Error("took batch axes that are not leading")
	}
	if blasDotGeneral(v, []int{2, 4, 3}, []int{1}, nil, v, []int{2, 4, 3}, []int{1}, nil, make([]float32, 36)) {
		t.Error("took contracting axes between cross axes")
	}
}

// TestSimplegoUsesBLAS checks that the pure Go backend routes its float32 products through the
// installed kernel (the patched simplego's hook) and that the graph's result is the product.
func TestSimplegoUsesBLAS(t *testing.T) {
	calls := 0
	simplego.SetFloat32DotGeneral(func(lhs []float32, lhsDims, lhsContracting, lhsBatch []int,
		rhs []float32, rhsDims, rhsContracting, rhsBatch []int, out []float32) bool {
		calls++
		return blasDotGeneral(lhs, lhsDims, lhsContracting, lhsBatch, rhs, rhsDims, rhsContracting, rhsBatch, out)
	})
	defer simplego.SetFloat32DotGeneral(blasDotGeneral)
	be, err := newSimpleGo()
	if err != nil {
		t.Fatal(err)
	}
	defer be.Finalize()
	g := NewGraph(be, "dot")
	x := Parameter(g, "x", shapes.Make(dtypes.Float32, 2, 3))
	w := Parameter(g, "w", shapes.Make(dtypes.Float32, 4, 3))
	g.Compile(linear(x, w, nil))
	out := g.Run([][]float32{{1, 2, 3}, {4, 5, 6}}, [][]float32{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 1, 1}})
	got := out[0].Value().([][]float32)
	want := [][]float32{{1, 2, 3, 6}, {4, 5, 6, 15}}
	for i := range want {
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("x·wᵀ = %v, want %v", got, want)
			}
		}
	}
	if calls != 1 {
		t.Errorf("the BLAS kernel ran %d times, want 1", calls)
	}
}
