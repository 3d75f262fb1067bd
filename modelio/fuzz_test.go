package modelio

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/gallery"
)

// FuzzOpenConfig feeds arbitrary bytes to Open as a folder's config.json. Nothing may panic or
// allocate without bound (sizes are checked before any module tree is built); an error is one line
// starting with the file's path; a model that opens has a parameter count that did not overflow.
//
// make test runs it with: go test -run='^$' -fuzz=FuzzOpenConfig -fuzztime=10s ./modelio
func FuzzOpenConfig(f *testing.F) {
	for _, e := range gallery.All() {
		f.Add(e.Config())
	}
	f.Add([]byte(`{"model_type": "llama", "num_hidden_layers": 1e9}`))
	f.Add([]byte(`{"model_type": "gpt2", "n_embd": 1099511627776, "n_inner": 1099511627776, "vocab_size": 1099511627776}`))
	f.Add([]byte(`{"model_type": "mixtral", "num_local_experts": 1024, "num_hidden_layers": 1024}`))
	dir := f.TempDir()
	path := filepath.Join(dir, "config.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := Open(dir)
		if err != nil {
			if msg := err.Error(); strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, path) {
				t.Errorf("error not one line starting with the path: %q", msg)
			}
			return
		}
		if n := m.Spec.Root.NumParams(); n < 0 || arch.Overflows(n) {
			t.Errorf("parameter count %d", n)
		}
		if len(m.Arch.Blocks) > 1024 {
			t.Errorf("%d blocks, over the limit", len(m.Arch.Blocks))
		}
	})
}
