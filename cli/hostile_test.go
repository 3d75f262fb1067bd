//go:build unix

package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/layerscope/layerscope/internal/boundedtest"
	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/weights/weightstest"
)

// TestHostileFolders runs the commands on folders crafted to hang them, blow them up or forge their
// output. Each case runs in a bounded child process: a regression fails instead of hanging the test or
// exhausting the machine's memory.
func TestHostileFolders(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) []string // the command line, with dir as the model
		check func(t *testing.T, dir string, status int, stdout, stderr string)
	}{
		{"facts on a FIFO config.json", func(t *testing.T, dir string) []string {
			syscall.Mkfifo(filepath.Join(dir, "config.json"), 0o644)
			return []string{"facts", dir}
		}, wantError("/config.json: is a FIFO (named pipe), not a regular file")},
		{"tokenize on a FIFO tokenizer.json", func(t *testing.T, dir string) []string {
			syscall.Mkfifo(filepath.Join(dir, "tokenizer.json"), 0o644)
			return []string{"tokenize", dir, "hello"}
		}, wantError("/tokenizer.json: is a FIFO (named pipe), not a regular file")},
		{"facts on 1e9 layers", func(t *testing.T, dir string) []string {
			os.WriteFile(filepath.Join(dir, "config.json"), []byte(strings.Replace(llamaConfig, `"num_hidden_layers": 2`, `"num_hidden_layers": 1e9`, 1)), 0o644)
			return []string{"facts", dir}
		}, wantError("/config.json: num_hidden_layers is 1000000000, beyond any real model (Layerscope reads at most 1024)")},
		{"diagram --unfold of 1024 layers at scale 8", func(t *testing.T, dir string) []string {
			os.WriteFile(filepath.Join(dir, "config.json"), []byte(strings.Replace(llamaConfig, `"num_hidden_layers": 2`, `"num_hidden_layers": 1024`, 1)), 0o644)
			return []string{"diagram", "--unfold", "--scale", "8", dir, "-o", filepath.Join(filepath.Dir(dir), "out", "stack.png")}
		}, func(t *testing.T, dir string, status int, stdout, stderr string) {
			wantError("million a PNG export may take")(t, dir, status, stdout, stderr)
			if entries, _ := os.ReadDir(filepath.Join(filepath.Dir(dir), "out")); len(entries) != 0 {
				t.Errorf("left behind: %v", entries)
			}
		}},
		{"a tensor name with a terminal escape", func(t *testing.T, dir string) []string {
			writeModelWithExtraTensor(t, dir, "x\x1b[2J\nlayerscope: forged")
			return []string{"facts", dir}
		}, func(t *testing.T, dir string, status int, stdout, stderr string) {
			if status != 0 || strings.Contains(stdout+stderr, "\x1b") || strings.Contains(stderr, "\nlayerscope: forged") ||
				!strings.Contains(stdout, `x\x1b[2J\nlayerscope: forged`) {
				t.Errorf("status %d\nstdout %q\nstderr %q", status, stdout, stderr)
			}
		}},
		{"importance --samples 2^62", func(t *testing.T, dir string) []string {
			return []string{"importance", "--samples", "4611686018427387904", "llama-3.2-1b"}
		}, func(t *testing.T, dir string, status int, stdout, stderr string) {
			if status != 2 || !strings.HasPrefix(stderr, "layerscope: importance: --samples must be between 1 and 65536, got 4611686018427387904\n") {
				t.Errorf("status %d, stderr %q", status, stderr)
			}
		}},
		{"importance --tokens with an id outside the vocabulary", func(t *testing.T, dir string) []string {
			writeModelWithExtraTensor(t, dir, "")
			tokens := filepath.Join(filepath.Dir(dir), "tokens.json")
			os.WriteFile(tokens, []byte(`[[1, 2, 100]]`), 0o644)
			return []string{"importance", "--backend", "cpu", "--tokens", tokens, dir}
		}, func(t *testing.T, dir string, status int, stdout, stderr string) {
			want := "layerscope: " + filepath.Join(filepath.Dir(dir), "tokens.json") + ": " + filepath.Base(dir) +
				": sample 0, token 2: id 100 is outside the vocabulary (vocab_size 100)\n"
			if status != 1 || stderr != want {
				t.Errorf("status %d, stderr %q\nwant %q", status, stderr, want)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			boundedtest.Run(t, boundedtest.Default, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "model")
				os.Mkdir(dir, 0o755)
				os.Mkdir(filepath.Join(filepath.Dir(dir), "out"), 0o755)
				args := tt.setup(t, dir)
				status, stdout, stderr := run(args...)
				tt.check(t, dir, status, stdout, stderr)
			})
		})
	}
}

// wantError expects the command to fail with one line: "layerscope: " dir suffix.
func wantError(suffix string) func(t *testing.T, dir string, status int, stdout, stderr string) {
	return func(t *testing.T, dir string, status int, stdout, stderr string) {
		t.Helper()
		if status != 1 || !strings.HasPrefix(stderr, "layerscope: ") || !strings.Contains(stderr, suffix) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("status %d, stderr %q, want one line containing %q", status, stderr, suffix)
		}
	}
}

// writeModelWithExtraTensor writes the tiny llama of llamaConfig into dir, its weights all zero, plus a
// tensor of the given name when it is not empty.
func writeModelWithExtraTensor(t *testing.T, dir, extra string) {
	t.Helper()
	cfg := filepath.Join(dir, "config.json")
	os.WriteFile(cfg, []byte(llamaConfig), 0o644)
	m, err := modelio.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var specs []weightstest.Spec
	for _, p := range m.Spec.Root.Params("") {
		specs = append(specs, weightstest.T(p.Name, "F32", p.Shape...))
	}
	if extra != "" {
		specs = append(specs, weightstest.T(extra, "F32", 1))
	}
	weightstest.WriteFile(t, filepath.Join(dir, "model.safetensors"), specs)
}
