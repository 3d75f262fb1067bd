//go:build unix

package tokenizer

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/layerscope/layerscope/internal/boundedtest"
	"github.com/layerscope/layerscope/modelio/safefile"
)

// splitTokenizer is a minimal byte-level tokenizer.json whose pre-tokenizer splits on pattern.
func splitTokenizer(pattern string) string {
	return `{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []},
	 "pre_tokenizer": {"type": "Split", "pattern": {"Regex": ` + quoteJSON(pattern) + `}, "behavior": "Isolated", "invert": false}}`
}

func quoteJSON(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// TestRegexTimeout loads a tokenizer.json whose Split pattern backtracks catastrophically: (a+)+$ on
// 40 a's and a b takes days without a time limit. Encode must stop at the limit and name the pattern.
func TestRegexTimeout(t *testing.T) {
	boundedtest.Run(t, boundedtest.Limits{MemoryMiB: 2048, Timeout: 30e9}, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "tokenizer.json")
		if err := os.WriteFile(path, []byte(splitTokenizer(`(a+)+$`)), 0o644); err != nil {
			t.Fatal(err)
		}
		tok, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if ids, err := tok.Encode("aab", false); err != nil || len(ids) != 3 {
			t.Fatalf("a short text: %v, %v", ids, err)
		}
		_, err = tok.Encode(strings.Repeat("a", 40)+"b", false)
		want := path + `: pre_tokenizer: the regex "(a+)+$" ran past the time limit`
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Fatalf("got %v, want an error starting %q", err, want)
		}
	})
}

// gzipBomb is gzip data inflating to n MiB of zeros (concatenated members), a few KB on disk.
func gzipBomb(t testing.TB, n int) []byte {
	var member bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	zw.Write(make([]byte, 1<<20))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return bytes.Repeat(member.Bytes(), n)
}

// TestLoadHostileFiles gives Load files that hang, never end or explode: each must be a one-line
// error naming the file, within bounded memory and time.
func TestLoadHostileFiles(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string // the error after the folder
		is    error
	}{
		{"tokenizer.json is a FIFO", func(t *testing.T, dir string) {
			if err := syscall.Mkfifo(filepath.Join(dir, "tokenizer.json"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "/tokenizer.json: is a FIFO (named pipe), not a regular file", safefile.ErrNotRegular},
		{"tokenizer_config.json is a FIFO", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte(splitTokenizer("a")), 0o644)
			if err := syscall.Mkfifo(filepath.Join(dir, "tokenizer_config.json"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "/tokenizer_config.json: is a FIFO (named pipe), not a regular file", safefile.ErrNotRegular},
		{"tokenizer.json links to /dev/zero", func(t *testing.T, dir string) {
			os.Symlink("/dev/zero", filepath.Join(dir, "tokenizer.json"))
		}, "/tokenizer.json: is a character device, not a regular file", safefile.ErrNotRegular},
		{"tokenizer.json.gz is a gzip bomb", func(t *testing.T, dir string) {
			// 300 MiB inflated, over the 256 MiB limit: the bounded process has 2 GiB.
			os.WriteFile(filepath.Join(dir, "tokenizer.json.gz"), gzipBomb(t, 300), 0o644)
		}, "/tokenizer.json.gz: inflates to more than 268435456 bytes", safefile.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			boundedtest.Run(t, boundedtest.Default, func(t *testing.T) {
				dir := t.TempDir()
				tt.setup(t, dir)
				_, err := Load(dir)
				if err == nil || !strings.HasPrefix(err.Error(), dir+tt.want) || !errors.Is(err, tt.is) {
					t.Fatalf("got %v, want %s%s", err, dir, tt.want)
				}
			})
		})
	}
}
