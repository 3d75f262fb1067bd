package prune

// CopyError is copyError, for the tests of package prune_test.
var CopyError = copyError

// SetPickChunk sets the read buffer of width-pruned tensors, and returns a function restoring it.
func SetPickChunk(n int64) (restore func()) {
	old := pickChunk
	pickChunk = n
	return func() { pickChunk = old }
}
