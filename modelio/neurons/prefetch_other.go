//go:build !linux

package neurons

import "os"

// willNeed does nothing where there is no posix_fadvise: the reads just wait for the disk.
func willNeed(*os.File, int64, int64) {}
