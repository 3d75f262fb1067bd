//go:build !unix

package compute

// release is a no-op where madvise is not available: the mapped weights stay resident until the run
// ends and the files are unmapped.
func (s *store) release(string) {}

func releaseBytes([]byte) {}
