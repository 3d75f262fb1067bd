//go:build unix

package prune_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/prune"
)

// TestWriteCopiesNothingFromOutside links companions of the model to a secret beside it, to the
// process environment and to an endless file: none may reach the copy, and each is named as skipped.
func TestWriteCopiesNothingFromOutside(t *testing.T) {
	src := tinyFolder(t, 3, 1)
	secret := filepath.Join(filepath.Dir(src), "secret")
	os.Mkdir(secret, 0o700)
	os.WriteFile(filepath.Join(secret, "id_rsa"), []byte("PRIVATE KEY"), 0o600)
	os.Remove(filepath.Join(src, "README.md"))
	for name, target := range map[string]string{
		"README.md":  "../secret/id_rsa",
		"notes.txt":  "/proc/self/environ",
		"vocab.txt":  "/dev/zero",
		"inside.txt": "tokenizer.json", // a link inside the model folder is fine
	} {
		if err := os.Symlink(target, filepath.Join(src, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(src, "pipe.txt"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := modelio.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	skipped := prune.Skipped(m)
	for _, want := range []string{
		"README.md not copied: it is a link to ../secret/id_rsa, outside the model folder",
		"notes.txt not copied: it is a link to /proc/self/environ, outside the model folder",
		"vocab.txt not copied: it is a link to /dev/zero, outside the model folder",
		"pipe.txt not copied: it is not a regular file (p---------)",
	} {
		if !slices.Contains(skipped, want) {
			t.Errorf("Skipped lacks %q: %q", want, skipped)
		}
	}
	dst := filepath.Join(t.TempDir(), "pruned")
	if err := prune.Write(m, []int{1}, dst, nil); err != nil {
		t.Fatal(err)
	}
	got := listDir(t, dst)
	for _, name := range []string{"README.md", "notes.txt", "vocab.txt", "pipe.txt"} {
		if slices.Contains(got, name) {
			t.Errorf("the copy holds %s: %v", name, got)
		}
	}
	if data, err := os.ReadFile(filepath.Join(dst, "inside.txt")); err != nil || string(data) != `{"model":{"type":"BPE"}}` {
		t.Errorf("inside.txt, a link to a file of the model: %q, %v", data, err)
	}
}

// TestWriteHubCacheSnapshot prunes a folder laid out as the Hugging Face cache lays it out: every
// file of snapshots/<rev> a link to ../../blobs/<hash>. The links stay inside the cached repository,
// so everything is copied, as regular files.
func TestWriteHubCacheSnapshot(t *testing.T) {
	flat := tinyFolder(t, 3, 2)
	repo := filepath.Join(t.TempDir(), "hub", "models--org--tiny")
	snap := filepath.Join(repo, "snapshots", "0123abcd")
	blobs := filepath.Join(repo, "blobs")
	os.MkdirAll(snap, 0o755)
	os.MkdirAll(blobs, 0o755)
	entries, _ := os.ReadDir(flat)
	var names []string
	for i, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		blob := fmt.Sprintf("%040x", i)
		if err := os.Rename(filepath.Join(flat, e.Name()), filepath.Join(blobs, blob)); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("../../blobs/"+blob, filepath.Join(snap, e.Name())); err != nil {
			t.Fatal(err)
		}
		names = append(names, e.Name())
	}
	m, err := modelio.Open(snap)
	if err != nil {
		t.Fatal(err)
	}
	if s := prune.Skipped(m); len(s) != 0 {
		t.Errorf("skipped in a cache snapshot: %q", s)
	}
	dst := filepath.Join(t.TempDir(), "pruned")
	if err := prune.Write(m, []int{0}, dst, nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"README.md", "tokenizer.json", "generation_config.json", "config.json", "model.safetensors.index.json"} {
		info, err := os.Lstat(filepath.Join(dst, name))
		if err != nil || !info.Mode().IsRegular() {
			t.Errorf("%s in the copy: %v, %v", name, info, err)
		}
	}
}

// TestWriteModes checks the permissions of what a prune writes: a new folder and files as the user's
// umask makes them (0755 and 0644 under umask 022), not 0700 or 0600; an empty destination folder
// keeps its own.
func TestWriteModes(t *testing.T) {
	old := syscall.Umask(0o027)
	defer syscall.Umask(old)
	m, err := modelio.Open(tinyFolder(t, 3, 1))
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "pruned")
	if err := prune.Write(m, []int{1}, dst, nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "config.json", "model.safetensors", "tokenizer.json"} {
		info, err := os.Stat(filepath.Join(dst, name))
		want := os.FileMode(0o640)
		if name == "" {
			want = 0o750
		}
		if err != nil || info.Mode().Perm() != want {
			t.Errorf("%q: mode %v, %v; want %v", name, info.Mode().Perm(), err, want)
		}
	}
	empty := filepath.Join(t.TempDir(), "empty")
	os.Mkdir(empty, 0o700)
	os.Chmod(empty, 0o711)
	if err := prune.Write(m, []int{1}, empty, nil); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(empty); info.Mode().Perm() != 0o711 {
		t.Errorf("an existing folder's mode: %v, want 0711", info.Mode().Perm())
	}
	if slices.Contains(listDir(t, empty), ".layerscope-partial") {
		t.Error("the partial's marker is left in the copy")
	}
}

// TestWriteInterrupted sends SIGINT or SIGTERM to a process in the middle of a prune: the process
// must end by that signal, as it would have, and leave no .partial folder behind. A kill -9 cannot be
// caught; the partial it leaves is removed by the next prune to the same destination.
func TestWriteInterrupted(t *testing.T) {
	if dst := os.Getenv("LAYERSCOPE_PRUNE_CHILD"); dst != "" {
		sig := syscall.SIGINT
		if os.Getenv("LAYERSCOPE_PRUNE_SIGNAL") == "TERM" {
			sig = syscall.SIGTERM
		}
		m, err := modelio.Open(os.Getenv("LAYERSCOPE_PRUNE_SRC"))
		if err != nil {
			t.Fatal(err)
		}
		prune.Write(m, []int{1}, dst, func(done, total int) {
			if done > 0 {
				syscall.Kill(os.Getpid(), sig)
				select {} // the signal ends the process from here
			}
		})
		t.Fatal("the prune went on after the signal")
	}
	src := tinyFolder(t, 4, 1)
	for _, sig := range []string{"INT", "TERM", "KILL"} {
		t.Run(sig, func(t *testing.T) {
			base := t.TempDir()
			dst := filepath.Join(base, "pruned")
			cmd := exec.Command(os.Args[0], "-test.run=^TestWriteInterrupted$", "-test.count=1")
			cmd.Env = append(os.Environ(), "LAYERSCOPE_PRUNE_CHILD="+dst, "LAYERSCOPE_PRUNE_SRC="+src, "LAYERSCOPE_PRUNE_SIGNAL="+sig)
			if sig == "KILL" {
				// Stand in for kill -9: a partial with its marker, from a process that is gone.
				dead := exec.Command("true")
				dead.Run()
				stale := filepath.Join(base, ".pruned.partial-0123456789abcdef")
				os.Mkdir(stale, 0o755)
				os.WriteFile(filepath.Join(stale, "model.safetensors"), []byte("half"), 0o644)
				os.WriteFile(filepath.Join(stale, ".layerscope-partial"), []byte(fmt.Sprintf(
					"layerscope prune: a pruned copy being written; removed when complete\npid %d\n", dead.Process.Pid)), 0o644)
				// And one that is not provably ours: no marker.
				os.Mkdir(filepath.Join(base, ".pruned.partial-notours"), 0o755)
				m, err := modelio.Open(src)
				if err != nil {
					t.Fatal(err)
				}
				if err := prune.Write(m, []int{1}, dst, nil); err != nil {
					t.Fatal(err)
				}
				if got := listDir(t, base); !slices.Equal(got, []string{".pruned.partial-notours", "pruned"}) {
					t.Errorf("after a prune over a stale partial: %v", got)
				}
				return
			}
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("the child was not ended by the signal: %v\n%s", err, out)
			}
			ws, ok := ee.Sys().(syscall.WaitStatus)
			if !ok || !ws.Signaled() || ws.Signal().String() != map[string]string{"INT": "interrupt", "TERM": "terminated"}[sig] {
				t.Fatalf("the child ended with %v, not by SIG%s\n%s", err, sig, out)
			}
			if got := listDir(t, base); len(got) != 0 {
				t.Errorf("left behind: %v", got)
			}
		})
	}
}

// TestCopyErrorNamesFullDisk: a full disk is the destination's problem, and the error names it.
func TestCopyErrorNamesFullDisk(t *testing.T) {
	err := prune.CopyError("/models/llama/model.safetensors", "/mnt/usb/pruned/model.safetensors",
		&os.PathError{Op: "write", Path: "/mnt/usb/pruned/model.safetensors", Err: syscall.ENOSPC})
	if want := "/mnt/usb/pruned/model.safetensors: no space left on device"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v, want it to start %q", err, want)
	}
	err = prune.CopyError("/models/llama/model.safetensors", "/mnt/usb/pruned/model.safetensors",
		&os.PathError{Op: "read", Path: "/models/llama/model.safetensors", Err: syscall.EIO})
	if want := "/models/llama/model.safetensors: input/output error"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}
