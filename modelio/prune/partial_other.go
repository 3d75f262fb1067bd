//go:build !unix

package prune

import "os"

var terminatingSignals = []os.Signal{os.Interrupt}

// processGone never claims a process is gone where it cannot be asked: a stale partial stays.
func processGone(int) bool { return false }

func diskFull(error) bool { return false }
