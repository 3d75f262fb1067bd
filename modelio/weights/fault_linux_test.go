package weights

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edsrzf/mmap-go"

	"github.com/layerscope/layerscope/modelio/weights/weightstest"
)

// TestParseMappedTruncatedUnderfoot truncates a file after it was mapped, as another process could
// between ReadHeader's map and its parse: reading the header then faults, which must come back as an
// error, not a crash.
func TestParseMappedTruncatedUnderfoot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.safetensors")
	weightstest.WriteFile(t, path, tinyLlama())
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := mmap.Map(f, mmap.RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Unmap()
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	ts, err := parseMapped(path, path, m)
	if err == nil || ts != nil || !strings.HasPrefix(err.Error(), path+": the file changed or became unreadable") {
		t.Fatalf("got %v, %v", ts, err)
	}
}
