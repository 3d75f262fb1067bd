//go:build unix

package safefile_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/layerscope/layerscope/modelio/safefile"
)

func TestInModel(t *testing.T) {
	base := t.TempDir()
	model := filepath.Join(base, "model")
	repo := filepath.Join(base, "hub", "models--org--tiny")
	snap := filepath.Join(repo, "snapshots", "abc")
	other := filepath.Join(base, "hub", "models--org--other", "blobs")
	for _, d := range []string{model, filepath.Join(model, "sub"), snap, filepath.Join(repo, "blobs"), other} {
		os.MkdirAll(d, 0o755)
	}
	for _, f := range []string{filepath.Join(model, "tokenizer.json"), filepath.Join(model, "sub", "x"),
		filepath.Join(repo, "blobs", "h1"), filepath.Join(other, "h2"), filepath.Join(base, "secret")} {
		os.WriteFile(f, []byte("x"), 0o644)
	}
	link := func(dir, name, target string) string {
		p := filepath.Join(dir, name)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, dir, path string
		outside         bool
	}{
		{"a plain file", model, filepath.Join(model, "tokenizer.json"), false},
		{"a link inside", model, link(model, "a", "tokenizer.json"), false},
		{"a link into a sub-folder", model, link(model, "b", "sub/x"), false},
		{"a link out by ..", model, link(model, "c", "../secret"), true},
		{"an absolute link out", model, link(model, "d", filepath.Join(base, "secret")), true},
		{"a link out and back in", model, link(model, "e", "../model/tokenizer.json"), false},
		{"a cache snapshot's blob", snap, link(snap, "config.json", "../../blobs/h1"), false},
		{"another repository's blob", snap, link(snap, "README.md", "../../../models--org--other/blobs/h2"), true},
		{"a snapshot link out of the cache", snap, link(snap, "notes.txt", "../../../../secret"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := safefile.InModel(tt.dir, tt.path)
			if got := errors.Is(err, safefile.ErrOutside); got != tt.outside || (!tt.outside && err != nil) {
				t.Errorf("InModel(%s) = %v, want outside %v", tt.path, err, tt.outside)
			}
		})
	}
}
