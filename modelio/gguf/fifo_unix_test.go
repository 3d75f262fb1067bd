//go:build unix

package gguf_test

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/layerscope/layerscope/modelio/gguf"
)

// TestReadFIFO: a FIFO named like a GGUF file is refused at once instead of blocking the reader.
func TestReadFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pipe.gguf")
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skip(err)
	}
	_, err := gguf.ReadFile(path)
	if err == nil || !strings.Contains(err.Error(), path+": not a regular file") {
		t.Errorf("FIFO: %v", err)
	}
}
