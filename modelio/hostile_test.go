//go:build unix

package modelio

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/layerscope/layerscope/internal/boundedtest"
	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/safefile"
	"github.com/layerscope/layerscope/modelio/weights/weightstest"
)

func writeConfig(t *testing.T, dir string, cfg map[string]any) {
	t.Helper()
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func tinyLlamaConfig() map[string]any {
	return map[string]any{
		"model_type": "llama", "hidden_size": 16, "intermediate_size": 32, "num_attention_heads": 4,
		"num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 32,
	}
}

// TestOpenHostileFiles opens folders whose files hang, never end, or state sizes no model has: each
// must be a one-line error naming the file, in bounded memory and time.
func TestOpenHostileFiles(t *testing.T) {
	with := func(key string, v any) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			cfg := tinyLlamaConfig()
			cfg[key] = v
			writeConfig(t, dir, cfg)
		}
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string // the error after dir
		is    error
	}{
		{"config.json is a FIFO", func(t *testing.T, dir string) {
			if err := syscall.Mkfifo(filepath.Join(dir, "config.json"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "/config.json: is a FIFO (named pipe), not a regular file", safefile.ErrNotRegular},
		{"config.json links to /dev/zero", func(t *testing.T, dir string) {
			os.Symlink("/dev/zero", filepath.Join(dir, "config.json"))
		}, "/config.json: is a character device, not a regular file", safefile.ErrNotRegular},
		{"the index is a FIFO", func(t *testing.T, dir string) {
			writeConfig(t, dir, tinyLlamaConfig())
			if err := syscall.Mkfifo(filepath.Join(dir, "model.safetensors.index.json"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "/model.safetensors.index.json: is a FIFO (named pipe), not a regular file", safefile.ErrNotRegular},
		{"config.json over its limit", func(t *testing.T, dir string) {
			f, _ := os.Create(filepath.Join(dir, "config.json"))
			f.Truncate(safefile.MaxConfigBytes + 1) // sparse: no disk
			f.Close()
		}, "/config.json: is 4194305 bytes, over the size limit of 4194304 bytes for this file", safefile.ErrTooLarge},
		{"1e9 layers", with("num_hidden_layers", 1e9),
			"/config.json: num_hidden_layers is 1000000000, beyond any real model (Layerscope reads at most 1024)", nil},
		{"1e5 layers", with("num_hidden_layers", 100000),
			"/config.json: num_hidden_layers is 100000, beyond any real model (Layerscope reads at most 1024)", nil},
		{"hidden 2^40", with("hidden_size", int64(1)<<40),
			"/config.json: hidden_size is 1099511627776, beyond any real model (Layerscope reads at most 131072)", nil},
		{"intermediate 2^40", with("intermediate_size", int64(1)<<40),
			"/config.json: intermediate_size is 1099511627776, beyond any real model (Layerscope reads at most 1048576)", nil},
		{"vocab 2^40", with("vocab_size", int64(1)<<40),
			"/config.json: vocab_size is 1099511627776, beyond any real model (Layerscope reads at most 4194304)", nil},
		{"1e400 heads", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"model_type": "llama", "num_attention_heads": 1e400}`), 0o644)
		}, "/config.json: num_attention_heads is +Inf, beyond any real model (Layerscope reads at most 16384)", nil},
		{"experts × layers", func(t *testing.T, dir string) {
			writeConfig(t, dir, map[string]any{"model_type": "mixtral", "num_hidden_layers": 1024, "num_local_experts": 8192})
		}, "/config.json: 1024 layers of 8192 experts each are beyond any real model (Layerscope reads at most 65536 experts in all)", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			boundedtest.Run(t, boundedtest.Default, func(t *testing.T) {
				dir := t.TempDir()
				tt.setup(t, dir)
				m, err := Open(dir)
				if err == nil || err.Error() != dir+tt.want || (tt.is != nil && !errors.Is(err, tt.is)) {
					t.Fatalf("got %v, %v\nwant %s%s", m, err, dir, tt.want)
				}
			})
		})
	}
}

// TestLimitsFitRealModels opens configs at the limits: every real model lies below them, so a model
// of exactly the limits must open.
func TestLimitsFitRealModels(t *testing.T) {
	boundedtest.Run(t, boundedtest.Default, func(t *testing.T) {
		dir := t.TempDir()
		cfg := tinyLlamaConfig()
		cfg["num_hidden_layers"] = 1024
		cfg["vocab_size"] = 1 << 22
		cfg["hidden_size"] = 1 << 17
		cfg["num_attention_heads"] = 1024
		cfg["num_key_value_heads"] = 8
		cfg["intermediate_size"] = 1 << 20
		writeConfig(t, dir, cfg)
		m, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		// 1024 × (4·2^34 + 3·2^37 + ...) + 2·2^39: about 4.1e14, no overflow.
		if n := m.Spec.Root.NumParams(); n < 4e14 || arch.Overflows(n) {
			t.Errorf("NumParams = %d", n)
		}
	})
}

// TestNumElementsSaturates: a product past int64 saturates, never wraps round to 0 or below.
func TestNumElementsSaturates(t *testing.T) {
	for _, tt := range []struct {
		shape []int64
		want  int64
	}{
		{[]int64{1 << 40, 1 << 40}, math.MaxInt64},
		{[]int64{1 << 40, 1 << 40, 0}, 0},
		{[]int64{1 << 31, 1 << 31}, 1 << 62},
		{[]int64{3, 5}, 15},
		{nil, 1},
	} {
		if got := arch.NumElements(tt.shape); got != tt.want {
			t.Errorf("NumElements(%v) = %d, want %d", tt.shape, got, tt.want)
		}
	}
	m := arch.Container("M", arch.RoleNone)
	m.Add("a", arch.Linear(1<<40, 1<<22, false, arch.RoleNone))
	m.Add("b", arch.Linear(1<<40, 1<<22, false, arch.RoleNone))
	if n := m.NumParams(); !arch.Overflows(n) {
		t.Errorf("two 2^62 linears: NumParams = %d, want saturation", n)
	}
}

// TestBareCheckpointLayouts opens checkpoints saved from the base model, as the Hub's own GPT-2
// (wte.weight, h.0.attn.c_attn.weight) and OPT (decoder.layers.0.fc1.weight) files are: every tensor
// is found, and no warning says otherwise.
func TestBareCheckpointLayouts(t *testing.T) {
	for _, c := range []struct {
		name  string
		cfg   map[string]any
		strip string
	}{
		{"gpt2", map[string]any{"model_type": "gpt2", "n_embd": 8, "n_head": 2, "n_layer": 2, "vocab_size": 16, "n_positions": 8}, "transformer."},
		{"opt", map[string]any{"model_type": "opt", "hidden_size": 8, "num_attention_heads": 2, "num_hidden_layers": 2,
			"vocab_size": 16, "max_position_embeddings": 8, "ffn_dim": 16, "word_embed_proj_dim": 8}, "model."},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeConfig(t, dir, c.cfg)
			full, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			var specs []weightstest.Spec
			for _, p := range full.Spec.Root.Params("") {
				bare, ok := strings.CutPrefix(p.Name, c.strip)
				if !ok {
					continue // lm_head: tied, not stored
				}
				specs = append(specs, weightstest.T(bare, "F32", p.Shape...))
			}
			weightstest.WriteFile(t, filepath.Join(dir, "model.safetensors"), specs)
			m, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Warnings) > 0 {
				t.Errorf("warnings: %q", m.Warnings)
			}
			if got, want := m.TensorName(c.strip+specs[0].Name), specs[0].Name; got != want {
				t.Errorf("TensorName = %q, want %q", got, want)
			}
		})
	}
}

// TestWarningsEscaped: a tensor name holding a terminal escape and a line break is reported escaped.
func TestWarningsEscaped(t *testing.T) {
	dir := t.TempDir()
	writeConfig(t, dir, tinyLlamaConfig())
	full, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var specs []weightstest.Spec
	for _, p := range full.Spec.Root.Params("") {
		specs = append(specs, weightstest.T(p.Name, "F32", p.Shape...))
	}
	specs = append(specs, weightstest.T("x\x1b[2J\nlayerscope: forged", "F32", 1))
	weightstest.WriteFile(t, filepath.Join(dir, "model.safetensors"), specs)
	m, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := `tensor x\x1b[2J\nlayerscope: forged in the weights is not part of LlamaForCausalLM`
	if len(m.Warnings) != 1 || m.Warnings[0] != want {
		t.Errorf("warnings %q, want [%q]", m.Warnings, want)
	}
}
