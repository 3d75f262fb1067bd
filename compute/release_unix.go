//go:build unix

package compute

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

var pageSize = os.Getpagesize()

// release tells the kernel that a tensor's pages of the map are no longer needed, so the weights of
// blocks already run leave the process's resident memory (they stay in the page cache, and a later
// read faults them back in unchanged: the map is read-only). Only whole pages inside the tensor's
// bytes are released, never a neighbour's.
func (s *store) release(name string) {
	if _, b, err := s.raw(name); err == nil {
		releaseBytes(b)
	}
}

// releaseBytes releases the whole pages inside b, a slice of the map.
func releaseBytes(b []byte) {
	if len(b) == 0 {
		return
	}
	start := uintptr(unsafe.Pointer(&b[0]))
	lo := (start + uintptr(pageSize) - 1) &^ uintptr(pageSize-1)
	hi := (start + uintptr(len(b))) &^ uintptr(pageSize-1)
	if hi <= lo {
		return
	}
	_ = unix.Madvise(b[lo-start:hi-start], unix.MADV_DONTNEED)
}
