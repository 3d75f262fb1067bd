package weights

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nlpodyssey/safetensors"

	"github.com/layerscope/layerscope/modelio/weights/weightstest"
)

// FuzzReadHeader feeds arbitrary bytes to ReadHeader as a file. It must never panic, must return
// either tensors or an error (one line, the path first), and what it accepts must be a consistent
// layout. It also holds our own header reader to nlpodyssey's on every file with only the dtypes
// nlpodyssey knows: the two must accept the same files and read them alike, so that falling back to
// ours for the newer dtypes changes nothing else.
//
// CI runs it with: go test -run='^$' -fuzz=FuzzReadHeader -fuzztime=20s ./modelio/weights
func FuzzReadHeader(f *testing.F) {
	for _, seed := range seeds(f) {
		f.Add(seed)
	}
	path := filepath.Join(f.TempDir(), "fuzz.safetensors")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		ts, err := ReadHeader(path)
		if err != nil {
			if ts != nil {
				t.Errorf("tensors beside an error: %v", ts)
			}
			msg := err.Error()
			if strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, path+": ") {
				t.Errorf("error not one line starting with the path: %q", msg)
			}
		} else {
			checkLayout(t, ts, int64(len(data)))
		}
		if d := readersDisagree(data); d != "" {
			t.Error(d)
		}
	})
}

// seeds are the files of the tests, valid and invalid, as bytes.
func seeds(f *testing.F) [][]byte {
	dir := f.TempDir()
	var out [][]byte
	read := func(path string) {
		if data, err := os.ReadFile(path); err == nil && len(data) < 1<<20 {
			out = append(out, data)
		}
	}
	for i, tc := range badHeaders {
		path := filepath.Join(dir, "bad"+itoa64(int64(i)))
		tc.write(f, path)
		read(path)
	}
	valid := [][]spec{
		tinyLlama(),
		fp8Shards()[0],
		fp8Shards()[1],
		{T("scalar", "F64"), T("empty", "C64", 0, 3), T("x", "F6_E3M2", 4), T("y", "I8", 3)},
	}
	for _, specs := range valid {
		out = append(out, weightstest.Bytes(f, specs))
	}
	return out
}

// checkLayout checks what ReadHeader accepted: tensors back to back in offset order from the end of
// the header to the end of the file, each as large as its shape and dtype say.
func checkLayout(t *testing.T, ts []Tensor, fileSize int64) {
	t.Helper()
	if len(ts) == 0 {
		return
	}
	end := ts[0].Offset
	if end < lengthBytes {
		t.Errorf("first tensor at %d, inside the length", end)
	}
	for _, x := range ts {
		if x.Offset != end {
			t.Errorf("tensor %q at %d; the previous one ends at %d", x.Name, x.Offset, end)
		}
		bitsPer, ok := DTypeBits(x.DType)
		if !ok {
			t.Errorf("tensor %q: unknown dtype %q accepted", x.Name, x.DType)
		}
		n := int64(1)
		for _, d := range x.Shape {
			if d < 0 {
				t.Errorf("tensor %q: negative dimension %v", x.Name, x.Shape)
			}
			n *= d
		}
		if x.Size < 0 || (n > 0 && x.Size*8/int64(bitsPer) != n) || (n == 0 && x.Size != 0) {
			t.Errorf("tensor %q: %v of %s in %d bytes", x.Name, x.Shape, x.DType, x.Size)
		}
		end = x.Offset + x.Size
	}
	if end != fileSize {
		t.Errorf("tensors end at %d; the file is %d bytes", end, fileSize)
	}
}

// readersDisagree compares nlpodyssey's reader and ours on one file whose framing is sound, and says
// how they disagree, or "" when they do not.
func readersDisagree(data []byte) string {
	n, err := checkFraming(data)
	if err != nil {
		return ""
	}
	own, ownErr := parseOwn(data[lengthBytes:lengthBytes+n], uint64(len(data))-lengthBytes-n)
	lib, libErr := parseWithLibrary(data)
	if ownErr == nil {
		for _, x := range own {
			if _, err := safetensors.ParseDType(x.DType); err != nil {
				return "" // a dtype nlpodyssey lacks: it must refuse, and ours decides
			}
		}
	}
	switch {
	case ownErr == nil && libErr != nil:
		return fmt.Sprintf("our reader accepts what nlpodyssey refuses (%v): %v", libErr, own)
	case ownErr != nil && libErr == nil:
		return fmt.Sprintf("our reader refuses what nlpodyssey accepts (%v): %v", lib, ownErr)
	case ownErr == nil && !reflect.DeepEqual(own, lib):
		return fmt.Sprintf("the readers disagree:\n ours %v\n nlpodyssey's %v", own, lib)
	}
	return ""
}
