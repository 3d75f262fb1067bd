//go:build unix

package prune

import (
	"errors"
	"os"
	"syscall"
)

// terminatingSignals are the signals a prune cleans up after: Ctrl-C and kill's default.
var terminatingSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

// processGone reports whether no process has the id pid (a stale partial's writer was killed).
func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// diskFull reports whether err is the destination running out of room rather than the source failing.
func diskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EFBIG)
}
