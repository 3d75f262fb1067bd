package simplego

// Layerscope patch (see third_party/gomlx/PATCH.md): a hook through which an importing package
// supplies a faster float32 matrix-product kernel (an optimised BLAS through cgo), since simplego has
// no public registration for its DotGeneral executor.

// Float32DotGeneral computes a float32 DotGeneral: out, laid out as [batch, lhsCross, rhsCross] with
// the batch axes in lhsBatch's order and each side's cross axes in their order, gets Σ lhs·rhs over the
// contracting axes. lhsDims/rhsDims are the operands' dimensions, the axis lists are normalised (no
// negative axes). It returns false, having written nothing, when it does not handle this layout;
// simplego's own kernels then run.
type Float32DotGeneral func(lhs []float32, lhsDims, lhsContracting, lhsBatch []int,
	rhs []float32, rhsDims, rhsContracting, rhsBatch []int, out []float32) bool

var float32DotGeneral Float32DotGeneral

// SetFloat32DotGeneral installs kernel for every float32 DotGeneral executed afterwards (nil restores
// simplego's own). Call it before executing graphs, typically from an init function.
func SetFloat32DotGeneral(kernel Float32DotGeneral) { float32DotGeneral = kernel }
