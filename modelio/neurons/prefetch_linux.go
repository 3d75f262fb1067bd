package neurons

import (
	"os"

	"golang.org/x/sys/unix"
)

// willNeed starts the kernel reading n bytes at off of f into the page cache, in the background.
func willNeed(f *os.File, off, n int64) {
	unix.Fadvise(int(f.Fd()), off, n, unix.FADV_WILLNEED) // advice: an error only loses the head start
}
