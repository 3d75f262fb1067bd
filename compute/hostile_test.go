//go:build unix

package compute

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/internal/boundedtest"
	"github.com/layerscope/layerscope/modelio"
)

// TestTruncatedMidRun truncates the weights while a run reads them, as another program could: the
// blocks not yet read then lie past the end of the mapped file, and reading them faults (SIGBUS).
// The run must end with an error naming the file, not a crash; the bounded child process keeps a
// regression from taking the test binary down.
func TestTruncatedMidRun(t *testing.T) {
	boundedtest.Run(t, boundedtest.Limits{MemoryMiB: 4096, Timeout: 120e9}, func(t *testing.T) {
		cfg := tinyLlamaConfig()
		cfg["num_hidden_layers"] = 6
		dir := t.TempDir()
		writeRandomModel(t, dir, cfg, "F32", nil, nil)
		m, err := modelio.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "model.safetensors")
		truncated := false
		// One session for both runs, as the window keeps one: the failed run must leave it usable.
		session := NewSession()
		defer session.Close()
		good := openRandom(t, tinyLlamaConfig(), "F32", nil, nil)
		before, err := session.Run(context.Background(), good, randomTokens(2, 8, 64), Options{Backend: BackendCPU})
		if err != nil {
			t.Fatal(err)
		}
		_, err = session.Run(context.Background(), m, randomTokens(2, 8, 64), Options{Backend: BackendCPU,
			Progress: func(done, total int, msg string) {
				if !truncated {
					truncated = true
					if err := os.Truncate(path, 4096); err != nil {
						t.Error(err)
					}
				}
			}})
		want := path + ": the file changed or became unreadable while tensor model.layers."
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Fatalf("got %v, want an error containing %q", err, want)
		}
		after, err := session.Run(context.Background(), good, randomTokens(2, 8, 64), Options{Backend: BackendCPU})
		if err != nil {
			t.Fatalf("the session after a failed run: %v", err)
		}
		if !slices.Equal(before.BI, after.BI) {
			t.Errorf("the session after a failed run scores %v, before it %v", after.BI, before.BI)
		}
	})
}

// TestBareGPT2Runs runs a GPT-2 checkpoint stored as openai-community/gpt2 stores it (wte.weight,
// h.0.*, no transformer. prefix): it opens without warnings and scores exactly as the prefixed one.
func TestBareGPT2Runs(t *testing.T) {
	cfg := map[string]any{"model_type": "gpt2", "n_embd": 32, "n_head": 4, "n_layer": 3, "vocab_size": 64, "n_positions": 32}
	full := openRandom(t, cfg, "F32", nil, nil)
	bareDir := t.TempDir()
	writeRandomModel(t, bareDir, cfg, "F32", nil, nil)
	renameTensors(t, filepath.Join(bareDir, "model.safetensors"), "transformer.")
	bare, err := modelio.Open(bareDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(bare.Warnings) > 0 {
		t.Errorf("warnings on the bare layout: %q", bare.Warnings)
	}
	tokens := randomTokens(2, 8, 64)
	a, err := Run(context.Background(), full, tokens, Options{Backend: BackendCPU})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(context.Background(), bare, tokens, Options{Backend: BackendCPU})
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.BI {
		if a.BI[i] != b.BI[i] {
			t.Errorf("block %d: BI %v bare, %v prefixed", i, b.BI[i], a.BI[i])
		}
	}
}

// renameTensors drops prefix from the tensor names in a safetensors header, in place: the header is
// rewritten to the same length (names only get shorter; the padding takes the difference).
func renameTensors(t *testing.T, path, prefix string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := int(data[0]) | int(data[1])<<8 | int(data[2])<<16 | int(data[3])<<24
	hdr := strings.ReplaceAll(string(data[8:8+n]), `"`+prefix, `"`)
	hdr += strings.Repeat(" ", n-len(hdr))
	copy(data[8:], hdr)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
