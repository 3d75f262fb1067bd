//go:build unix

package safefile_test

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

// gzipBomb returns gzip data that inflates to n MiB of zeros: one member of 1 MiB repeated, as
// gzip readers read concatenated members as one stream. A few kilobytes on disk.
func gzipBomb(t testing.TB, n int) []byte {
	var member bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	zw.Write(make([]byte, 1<<20))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return bytes.Repeat(member.Bytes(), n)
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "config.json")
	os.WriteFile(small, []byte(`{"a": 1}`), 0o644)
	big := filepath.Join(dir, "big.json")
	os.WriteFile(big, bytes.Repeat([]byte(" "), 101), 0o644)
	fifo := filepath.Join(dir, "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	zero := filepath.Join(dir, "zero.json")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	esc := filepath.Join(dir, "a\x1b[2J\nlayerscope: forged.json")
	tests := []struct {
		name, path string
		want       string // "" for success
		is         error
	}{
		{"regular", small, "", nil},
		{"over the limit", big, big + ": is 101 bytes, over the size limit of 100 bytes for this file", safefile.ErrTooLarge},
		{"FIFO", fifo, fifo + ": is a FIFO (named pipe), not a regular file", safefile.ErrNotRegular},
		{"link to /dev/zero", zero, zero + ": is a character device, not a regular file", safefile.ErrNotRegular},
		{"folder", dir, dir + ": is a folder, not a regular file", safefile.ErrNotRegular},
		{"missing", esc, `/a\x1b[2J\nlayerscope: forged.json: no such file or directory`, os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			boundedtest.Run(t, boundedtest.Default, func(t *testing.T) {
				data, err := safefile.ReadFile(tt.path, 100)
				if tt.want == "" {
					if err != nil || string(data) != `{"a": 1}` {
						t.Fatalf("got %q, %v", data, err)
					}
					return
				}
				if err == nil || !strings.HasSuffix(err.Error(), tt.want) || !errors.Is(err, tt.is) || strings.ContainsAny(err.Error(), "\n\x1b") {
					t.Fatalf("got %q, %v; want an error ending %q", data, err, tt.want)
				}
			})
		})
	}
}

func TestReadGzipBomb(t *testing.T) {
	boundedtest.Run(t, boundedtest.Default, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "tokenizer.json.gz")
		if err := os.WriteFile(path, gzipBomb(t, 64), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := safefile.ReadGzip(path, 8<<20)
		if !errors.Is(err, safefile.ErrTooLarge) || !strings.HasPrefix(err.Error(), path+": inflates to more than 8388608 bytes") {
			t.Fatalf("got %v", err)
		}
		ok := filepath.Join(t.TempDir(), "ok.gz")
		os.WriteFile(ok, gzipBomb(t, 1), 0o644)
		if data, err := safefile.ReadGzip(ok, 8<<20); err != nil || len(data) != 1<<20 {
			t.Fatalf("1 MiB under an 8 MiB limit: %d bytes, %v", len(data), err)
		}
	})
}
