package neurons_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/neurons"
)

// A file truncated by another process after Score opened it (a SIGBUS, when scoring read through a
// memory map) must give a one-line error naming the file, not a crash.
func TestScoreFileTruncatedUnderfoot(t *testing.T) {
	// Every kernel (the AVX2 ones where the CPU has them, F32 and BF16) meets the fault.
	for _, dtype := range []string{"F32", "BF16"} {
		for _, method := range []neurons.Method{neurons.PPM, neurons.VOW, neurons.PON} {
			t.Run(method.String()+"-"+dtype, func(t *testing.T) {
				dir := t.TempDir()
				writeRandom(t, dir, galleryConfig(t, "meta-llama__Llama-3.2-1B", with(map[string]any{"num_key_value_heads": 2, "head_dim": 12})), dtype, 3)
				m, err := modelio.Open(dir)
				if err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(dir, "model.safetensors")
				_, err = neurons.Score(context.Background(), m, method, func(done, total int) {
					if done == 0 { // opened, nothing read yet
						if err := os.Truncate(path, 0); err != nil {
							t.Fatal(err)
						}
					}
				})
				if err == nil || !strings.Contains(err.Error(), "model.safetensors: the file changed or became unreadable") || strings.Contains(err.Error(), "\n") {
					t.Fatalf("got %v", err)
				}
			})
		}
	}
}
