package neurons

// SetReadChunk makes the workers read n bytes at a time, so that a tiny model's tensors span several
// chunks, with a remainder; it returns what restores the size.
func SetReadChunk(n int) (restore func()) {
	old := readChunk
	readChunk = n
	return func() { readChunk = old }
}
