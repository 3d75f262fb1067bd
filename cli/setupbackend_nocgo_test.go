//go:build !cgo

package cli_test

import (
	"strings"
	"testing"
)

func init() { cgoBuild = false }

// A build without cgo cannot load a plugin, so setup-backend downloads nothing and says so in one line.
func TestSetupBackendNoCgo(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	status, stdout, stderr := run("setup-backend", "cpu")
	if status != 1 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "need a cgo build") {
		t.Errorf("status %d, stdout %q, stderr %q", status, stdout, stderr)
	}
}
