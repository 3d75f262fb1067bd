//go:build unix

package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestWriteModes(t *testing.T) {
	old := syscall.Umask(0o027)
	defer syscall.Umask(old)
	dir := t.TempDir()
	write := func(w io.Writer) error { _, err := io.WriteString(w, "picture"); return err }

	fresh := filepath.Join(dir, "new.png")
	if err := Write(fresh, write); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(fresh); info.Mode().Perm() != 0o640 {
		t.Errorf("a new file under umask 027: %v, want 0640 (0644 under the umask)", info.Mode().Perm())
	}
	kept := filepath.Join(dir, "old.png")
	os.WriteFile(kept, []byte("old"), 0o600)
	os.Chmod(kept, 0o604)
	if err := Write(kept, write); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(kept); info.Mode().Perm() != 0o604 {
		t.Errorf("a replaced file: %v, want its own 0604", info.Mode().Perm())
	}
	failed := filepath.Join(dir, "failed.png")
	if err := Write(failed, func(io.Writer) error { return errors.New("boom") }); err == nil {
		t.Error("no error")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("left behind: %v", entries)
	}
}
