package compute

// gemmOperand reads a DotGeneral operand as batch row-major matrices: its batch axes must be its
// leading axes in order and its contracting axes one ascending run, either last (the matrix is
// [cross, contracting]) or right after the batch axes ([contracting, cross], contractingFirst). It
// returns the batch size, the cross and contracting sizes, and ok false for any other layout.
func gemmOperand(dims, contracting, batchAxes []int) (batch, cross, k int, contractingFirst, ok bool) {
	nb := len(batchAxes)
	for i, a := range batchAxes {
		if a != i {
			return 0, 0, 0, false, false
		}
	}
	nc := len(contracting)
	if nc == 0 {
		return 0, 0, 0, false, false
	}
	for i := 1; i < nc; i++ {
		if contracting[i] != contracting[i-1]+1 {
			return 0, 0, 0, false, false
		}
	}
	switch contracting[0] {
	case len(dims) - nc:
	case nb:
		contractingFirst = true
	default:
		return 0, 0, 0, false, false
	}
	batch, cross, k = 1, 1, 1
	for a, d := range dims {
		switch {
		case a < nb:
			batch *= d
		case a >= contracting[0] && a < contracting[0]+nc:
			k *= d
		default:
			cross *= d
		}
	}
	return batch, cross, k, contractingFirst, true
}

// sameOrder reports whether the two operands' contracting axes pair up dimension by dimension, so that
// their flattened contracting indices agree.
func sameOrder(lhsDims, lhsContracting, rhsDims, rhsContracting []int) bool {
	for i := range lhsContracting {
		if lhsDims[lhsContracting[i]] != rhsDims[rhsContracting[i]] {
			return false
		}
	}
	return true
}
