package cli_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/weights"
	"github.com/layerscope/layerscope/modelio/weights/weightstest"
	"github.com/layerscope/layerscope/render"
)

// prunableLlama writes a llama folder of 8 blocks whose tensors hold distinct bytes.
func prunableLlama(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tiny")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(llamaConfig, `"num_hidden_layers": 2`, `"num_hidden_layers": 8`, 1)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := modelio.Open(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var specs []weightstest.Spec
	for _, p := range m.Spec.Root.Params("") {
		specs = append(specs, weightstest.T(p.Name, "F32", p.Shape...))
	}
	prefix, _ := weightstest.Header(t, specs)
	data := bytes.NewBuffer(prefix)
	for i, s := range specs {
		for j := range arch.NumElements(s.Shape) * 4 {
			data.WriteByte(byte(i*7 + int(j)*13))
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "model.safetensors"), data.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tensorData reads the bytes of one tensor of a folder.
func tensorData(t *testing.T, dir, name string) []byte {
	t.Helper()
	ws, err := weights.ReadFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	tn, ok := ws.Tensors[name]
	if !ok {
		t.Fatalf("%s has no tensor %s", dir, name)
	}
	f, err := os.Open(tn.File)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, tn.Size)
	if _, err := f.ReadAt(b, tn.Offset); err != nil {
		t.Fatal(err)
	}
	return b
}

// folderState records names, sizes and modification times under dir.
func folderState(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		info, _ := d.Info()
		fmt.Fprintf(&b, "%s %d %d\n", path, info.Size(), info.ModTime().UnixNano())
		return nil
	})
	return b.String()
}

func TestPruneTinyModel(t *testing.T) {
	src := prunableLlama(t)
	before := folderState(t, src)
	dst := filepath.Join(t.TempDir(), "pruned")
	status, stdout, stderr := run("prune", src, "--remove", "3,5", "-o", dst)
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	for _, want := range []string{
		"removed:    blocks 3, 5 of 8 (LlamaDecoderLayer)", "depth:      8 → 6 blocks", "parameters: ", "saved:      ",
		"wrote:      " + dst, "it opens with 6 blocks",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if stderr != "" {
		t.Errorf("stderr: %s", stderr)
	}
	if folderState(t, src) != before {
		t.Error("the source folder changed")
	}
	m, err := modelio.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	if tree := render.ModuleTree(m.Spec.Root); !strings.Contains(tree, "(0-5): 6 x LlamaDecoderLayer(") {
		t.Errorf("tree of the copy:\n%s", tree)
	}
	for _, part := range []string{"self_attn.q_proj.weight", "mlp.down_proj.weight", "input_layernorm.weight"} {
		got := tensorData(t, dst, "model.layers.5."+part)
		want := tensorData(t, src, "model.layers.7."+part)
		if !bytes.Equal(got, want) {
			t.Errorf("layer 5 %s of the copy is not layer 7's", part)
		}
		if bytes.Equal(got, tensorData(t, src, "model.layers.5."+part)) {
			t.Errorf("layer 5 %s of the copy is still the source's layer 5", part)
		}
	}
	if !bytes.Equal(tensorData(t, dst, "model.embed_tokens.weight"), tensorData(t, src, "model.embed_tokens.weight")) {
		t.Error("embeddings changed")
	}
	// The tree command shows the new depth too.
	if status, out, _ := run("tree", dst); status != 0 || !strings.Contains(out, "(0-5): 6 x LlamaDecoderLayer(") {
		t.Errorf("tree %d:\n%s", status, out)
	}
}

// Removing block 1 of a transformers-made Qwen3 leaves block 0 as it was: its Block Influence, computed
// on the copy, is the original's.
func TestPruneQwen3KeepsBlock0(t *testing.T) {
	src := "../testdata/fixtures/qwen3"
	dst := filepath.Join(t.TempDir(), "qwen3-pruned")
	if status, _, stderr := run("prune", src, "--remove", "1", "-o", dst); status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	m, err := modelio.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Arch.Blocks) != 3 || len(m.Warnings) != 0 {
		t.Fatalf("%d blocks, warnings %q", len(m.Arch.Blocks), m.Warnings)
	}
	tokens := fixtureTokens(t, "qwen3")
	bi := func(model string) []float64 {
		status, stdout, stderr := run("importance", "--json", "--backend", "cpu", "--tokens", tokens, model)
		if status != 0 {
			t.Fatalf("importance %s: status %d: %s", model, status, stderr)
		}
		var got struct {
			Metrics []struct {
				Metric string    `json:"metric"`
				Scores []float64 `json:"scores"`
			} `json:"metrics"`
		}
		if err := json.Unmarshal([]byte(stdout), &got); err != nil {
			t.Fatal(err)
		}
		for _, m := range got.Metrics {
			if m.Metric == "bi" {
				return m.Scores
			}
		}
		t.Fatalf("no BI in %s", stdout)
		return nil
	}
	orig, pruned := bi(src), bi(dst)
	if len(orig) != 4 || len(pruned) != 3 {
		t.Fatalf("BI of %d and %d blocks", len(orig), len(pruned))
	}
	if math.Abs(orig[0]-pruned[0]) > 1e-6 {
		t.Errorf("block 0: BI %.7f in the copy, %.7f in the original", pruned[0], orig[0])
	}
}

// The family's own keys follow: Gemma 3's layer_types shrinks, GPT-2 keeps n_layer and transformer.h.N.
func TestPruneFixtures(t *testing.T) {
	cases := []struct {
		fixture, remove string
		key             string
		blocks          int
		moved           [2]string // a tensor of the copy and the source tensor it must hold
		fold            string
	}{
		{"gemma3_text", "2", "num_hidden_layers", 3,
			[2]string{"model.layers.2.mlp.up_proj.weight", "model.layers.3.mlp.up_proj.weight"}, "(0-2): 3 x Gemma3DecoderLayer("},
		{"gpt2", "0,1", "n_layer", 2,
			[2]string{"transformer.h.0.attn.c_attn.weight", "transformer.h.2.attn.c_attn.weight"}, "(0-1): 2 x GPT2Block("},
	}
	for _, c := range cases {
		t.Run(c.fixture, func(t *testing.T) {
			src := filepath.Join("../testdata/fixtures", c.fixture)
			before := folderState(t, src)
			dst := filepath.Join(t.TempDir(), "out")
			if status, _, stderr := run("prune", src, "--remove", c.remove, "-o", dst); status != 0 {
				t.Fatalf("status %d: %s", status, stderr)
			}
			if folderState(t, src) != before {
				t.Error("the fixture changed")
			}
			m, err := modelio.Open(dst)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Arch.Blocks) != c.blocks || m.Config.Int(c.key, 0) != c.blocks {
				t.Errorf("%d blocks, %s = %d", len(m.Arch.Blocks), c.key, m.Config.Int(c.key, 0))
			}
			if tree := render.ModuleTree(m.Spec.Root); !strings.Contains(tree, c.fold) {
				t.Errorf("tree:\n%s", tree)
			}
			if !bytes.Equal(tensorData(t, dst, c.moved[0]), tensorData(t, src, c.moved[1])) {
				t.Errorf("%s of the copy is not %s", c.moved[0], c.moved[1])
			}
			if c.fixture == "gemma3_text" {
				if got := strings.Join(m.Config.Strings("layer_types"), ","); got != "sliding_attention,sliding_attention,sliding_attention" {
					t.Errorf("layer_types %s", got)
				}
				for _, b := range m.Arch.Blocks {
					if b.Attention != "sliding" {
						t.Errorf("block %d attention %q", b.Index, b.Attention)
					}
				}
			}
		})
	}
}

func TestPruneRefusals(t *testing.T) {
	src := prunableLlama(t)
	before := folderState(t, src)
	base := t.TempDir()
	full := filepath.Join(base, "full")
	os.Mkdir(full, 0o755)
	os.WriteFile(filepath.Join(full, "keep.txt"), []byte("x"), 0o644)
	out := filepath.Join(base, "new")
	cases := []struct {
		args   []string
		status int
		want   string
	}{
		{[]string{"prune", src, "--remove", "3", "-o", src}, 1, "is the model's own folder"},
		{[]string{"prune", src, "--remove", "3", "-o", filepath.Join(src, ".")}, 1, "is the model's own folder"},
		{[]string{"prune", src, "--remove", "3", "-o", filepath.Join(src, "sub")}, 1, "is inside the model's folder"},
		{[]string{"prune", src, "--remove", "3", "-o", full}, 1, "is not empty"},
		{[]string{"prune", "llama-3.2-1b", "--remove", "3", "-o", out}, 1, "has no weights"},
		{[]string{"prune", src, "--remove", "3,3", "-o", out}, 1, "block 3 is listed twice"},
		{[]string{"prune", src, "--remove", "99", "-o", out}, 1, "there is no block 99"},
		{[]string{"prune", src, "--remove", "0-7", "-o", out}, 1, "cannot remove all 8 blocks"},
		{[]string{"prune", src, "--remove", "a", "-o", out}, 2, `"a" is not a block number`},
		{[]string{"prune", src, "--remove", "-1", "-o", out}, 2, "is not a block number"},
		{[]string{"prune", src, "--remove", "5-3", "-o", out}, 2, "is not a range of blocks"},
		{[]string{"prune", src, "-o", out}, 2, "--remove is required"},
		{[]string{"prune", src, "--remove", "3"}, 2, "-o NEW_FOLDER is required"},
	}
	for _, c := range cases {
		status, stdout, stderr := run(c.args...)
		first, _, _ := strings.Cut(stderr, "\n")
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		// A usage error adds the one hint line every command gives ("run 'layerscope help'").
		wantLines := 1
		if c.status == 2 {
			wantLines = 2
		}
		if status != c.status || stdout != "" || len(lines) != wantLines || !strings.Contains(first, c.want) {
			t.Errorf("%q: status %d, stdout %q, stderr %q; want status %d and one line with %q", c.args[1:], status, stdout, stderr, c.status, c.want)
		}
	}
	if folderState(t, src) != before {
		t.Error("the source folder changed")
	}
	if entries, _ := os.ReadDir(base); len(entries) != 1 {
		t.Errorf("left in %s: %d entries", base, len(entries))
	}
}

// --dry-run shows a gallery model's pruning without weights and writes nothing.
func TestPruneDryRun(t *testing.T) {
	status, stdout, stderr := run("prune", "llama-3.2-1b", "--remove", "3,5", "--dry-run")
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	for _, want := range []string{"depth:      16 → 14 blocks", "parameters: 1,235,814,400 → ", "(1.24 B → ", "nothing written"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}
