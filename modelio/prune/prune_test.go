package prune_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/config"
	"github.com/layerscope/layerscope/modelio/gguf/gguftest"
	"github.com/layerscope/layerscope/modelio/prune"
	"github.com/layerscope/layerscope/modelio/weights"
	"github.com/layerscope/layerscope/modelio/weights/weightstest"
)

// tinyLlama is a llama config small enough to write real weights for.
func tinyLlama(layers int) map[string]any {
	return map[string]any{
		"architectures": []string{"LlamaForCausalLM"}, "model_type": "llama",
		"hidden_size": 16, "intermediate_size": 40, "num_hidden_layers": layers,
		"num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 50,
		"rms_norm_eps": 1e-05, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// tensorsOf lists the tensors transformers would save for cfg.
func tensorsOf(t *testing.T, cfg map[string]any) []weightstest.Spec {
	t.Helper()
	data, _ := json.Marshal(cfg)
	c, err := config.Parse("config.json", data)
	if err != nil {
		t.Fatal(err)
	}
	fam, _ := arch.Lookup(c.String("model_type", ""))
	spec, err := fam.Build(c)
	if err != nil {
		t.Fatal(err)
	}
	var out []weightstest.Spec
	for _, p := range spec.Root.Params("") {
		out = append(out, weightstest.T(p.Name, "BF16", p.Shape...))
	}
	return out
}

// writeData writes a safetensors file whose tensors hold distinct bytes: byte j of the tensor named
// name is a function of both, so a tensor copied under another name is recognised by its bytes.
func writeData(t *testing.T, path string, specs []weightstest.Spec) {
	t.Helper()
	prefix, _ := weightstest.Header(t, specs)
	buf := bytes.NewBuffer(prefix)
	for _, s := range specs {
		n := arch.NumElements(s.Shape) * 2
		buf.Write(pattern(s.Name, n))
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func pattern(name string, n int64) []byte {
	h := uint32(2166136261)
	for _, c := range []byte(name) {
		h = (h ^ uint32(c)) * 16777619
	}
	out := make([]byte, n)
	for i := range out {
		h = h*1664525 + 1013904223
		out[i] = byte(h >> 24)
	}
	return out
}

// tinyFolder writes a llama folder of layers blocks with real data, a tokenizer, a generation config,
// a stale pytorch_model.bin and a hidden file; shards > 1 splits the tensors over that many shards.
func tinyFolder(t *testing.T, layers, shards int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tiny-llama")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := tinyLlama(layers)
	writeJSON(t, filepath.Join(dir, "config.json"), cfg)
	specs := tensorsOf(t, cfg)
	if shards <= 1 {
		writeData(t, filepath.Join(dir, "model.safetensors"), specs)
	} else {
		weightMap := map[string]string{}
		per := (len(specs) + shards - 1) / shards
		for i := range shards {
			part := specs[min(i*per, len(specs)):min((i+1)*per, len(specs))]
			name := weightstest.ShardName(i+1, shards)
			writeData(t, filepath.Join(dir, name), part)
			for _, s := range part {
				weightMap[s.Name] = name
			}
		}
		weightstest.WriteIndex(t, dir, weightMap)
	}
	for name, body := range map[string]string{
		"tokenizer.json": `{"model":{"type":"BPE"}}`, "generation_config.json": `{"do_sample": false}`,
		"README.md": "# tiny\n", "pytorch_model.bin": "stale weights", ".hidden": "x",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// snapshot records every file's name, size and modification time under dir.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		info, _ := d.Info()
		fmt.Fprintf(&b, "%s %d %v %v\n", path, info.Size(), info.ModTime().UnixNano(), info.Mode())
		return nil
	})
	return b.String()
}

// tensorBytes reads every tensor of a folder.
func tensorBytes(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	ws, err := weights.ReadFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for name, tn := range ws.Tensors {
		f, err := os.Open(tn.File)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, tn.Size)
		if _, err := f.ReadAt(b, tn.Offset); err != nil {
			t.Fatal(err)
		}
		f.Close()
		out[name] = b
	}
	return out
}

// checkCopy checks that every tensor of the copy holds the bytes of its source tensor, named by
// the source's block index, and that the copy holds every kept tensor.
func checkCopy(t *testing.T, src, dst, list string, sourceLayer []int) {
	t.Helper()
	want, got := tensorBytes(t, src), tensorBytes(t, dst)
	kept := 0
	for name := range want {
		if !strings.HasPrefix(name, list+".") || slices.ContainsFunc(sourceLayer, func(l int) bool {
			return strings.HasPrefix(name, fmt.Sprintf("%s.%d.", list, l))
		}) {
			kept++
		}
	}
	if len(got) != kept {
		t.Errorf("copy holds %d tensors, want %d", len(got), kept)
	}
	for name, b := range got {
		srcName := name
		for i, l := range sourceLayer {
			if after, ok := strings.CutPrefix(name, fmt.Sprintf("%s.%d.", list, i)); ok {
				srcName = fmt.Sprintf("%s.%d.%s", list, l, after)
			}
		}
		if w, ok := want[srcName]; !ok || !bytes.Equal(b, w) {
			t.Errorf("%s does not hold the bytes of %s", name, srcName)
		}
	}
}

func TestWriteTinyLlama(t *testing.T) {
	for _, shards := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d shards", shards), func(t *testing.T) {
			src := tinyFolder(t, 8, shards)
			m, err := modelio.Open(src)
			if err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, src)
			dst := filepath.Join(t.TempDir(), "pruned")
			var calls [][2]int
			if err := prune.Write(m, []int{3, 5}, dst, func(done, total int) { calls = append(calls, [2]int{done, total}) }); err != nil {
				t.Fatal(err)
			}
			if after := snapshot(t, src); after != before {
				t.Errorf("source folder changed:\n%s\n---\n%s", before, after)
			}
			got, err := modelio.Open(dst)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Warnings) != 0 {
				t.Errorf("warnings: %q", got.Warnings)
			}
			if tree := arch.Repr(got.Spec.Root); !strings.Contains(tree, "(0-5): 6 x LlamaDecoderLayer(") {
				t.Errorf("tree:\n%s", tree)
			}
			if n := got.Config.Int("num_hidden_layers", 0); n != 6 {
				t.Errorf("num_hidden_layers %d", n)
			}
			checkCopy(t, src, dst, "model.layers", []int{0, 1, 2, 4, 6, 7})
			a := tensorBytes(t, dst)["model.layers.5.mlp.down_proj.weight"]
			b := tensorBytes(t, src)["model.layers.7.mlp.down_proj.weight"]
			if !bytes.Equal(a, b) || len(a) == 0 {
				t.Error("layer 5 of the copy is not layer 7 of the source")
			}

			names := listDir(t, dst)
			for _, want := range []string{"config.json", "tokenizer.json", "generation_config.json", "README.md"} {
				if !slices.Contains(names, want) {
					t.Errorf("copy lacks %s: %v", want, names)
				}
			}
			for _, not := range []string{"pytorch_model.bin", ".hidden"} {
				if slices.Contains(names, not) {
					t.Errorf("copy holds %s", not)
				}
			}
			wantWeights := []string{"model.safetensors"}
			if shards > 1 {
				// The middle shard held only blocks 2 to 4 (and 5 is removed): it stays a shard.
				wantWeights = nil
				for _, n := range names {
					if strings.HasSuffix(n, ".safetensors") || n == weights.IndexName {
						wantWeights = append(wantWeights, n)
					}
				}
				if !slices.Contains(wantWeights, weights.IndexName) || !slices.Contains(wantWeights, "model-00001-of-00003.safetensors") {
					t.Errorf("sharded copy: %v", names)
				}
			} else if !slices.Contains(names, "model.safetensors") || slices.Contains(names, weights.IndexName) {
				t.Errorf("single-file copy: %v", names)
			}
			if parent := listDir(t, filepath.Dir(dst)); len(parent) != 1 {
				t.Errorf("left beside the copy: %v", parent)
			}
			last := calls[len(calls)-1]
			if calls[0][0] != 0 || last[0] != last[1] || last[1] == 0 {
				t.Errorf("progress %v", calls)
			}
			for i := 1; i < len(calls); i++ {
				if calls[i][0] < calls[i-1][0] {
					t.Errorf("progress went back: %v", calls)
				}
			}
		})
	}
}

// A shard left with no tensors is not written, and the rest are renumbered.
func TestWriteDropsEmptyShard(t *testing.T) {
	src := t.TempDir()
	cfg := tinyLlama(3)
	writeJSON(t, filepath.Join(src, "config.json"), cfg)
	var shards [3][]weightstest.Spec
	for _, s := range tensorsOf(t, cfg) {
		switch {
		case strings.HasPrefix(s.Name, "model.layers.1."):
			shards[1] = append(shards[1], s)
		case strings.HasPrefix(s.Name, "model.layers.2."), s.Name == "model.norm.weight", s.Name == "lm_head.weight":
			shards[2] = append(shards[2], s)
		default:
			shards[0] = append(shards[0], s)
		}
	}
	weightMap := map[string]string{}
	for i, specs := range shards {
		name := weightstest.ShardName(i+1, 3)
		writeData(t, filepath.Join(src, name), specs)
		for _, s := range specs {
			weightMap[s.Name] = name
		}
	}
	weightstest.WriteIndex(t, src, weightMap)
	m, err := modelio.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "out")
	if err := prune.Write(m, []int{1}, dst, nil); err != nil {
		t.Fatal(err)
	}
	names := listDir(t, dst)
	if !slices.Equal(names, []string{"config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", weights.IndexName}) {
		t.Errorf("files %v", names)
	}
	checkCopy(t, src, dst, "model.layers", []int{0, 2})
	var index struct {
		Metadata  map[string]int64  `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}
	data, _ := os.ReadFile(filepath.Join(dst, weights.IndexName))
	if err := json.Unmarshal(data, &index); err != nil {
		t.Fatal(err)
	}
	if index.WeightMap["model.layers.1.mlp.up_proj.weight"] != "model-00002-of-00002.safetensors" || index.Metadata["total_size"] == 0 {
		t.Errorf("index %s", data)
	}
}

// Transformers-made fixtures: the copy opens at the new depth, with the family's own keys.
func TestWriteFixtures(t *testing.T) {
	cases := []struct {
		fixture, list, key string
		remove             []int
		sourceLayer        []int
	}{
		{"qwen3", "model.layers", "num_hidden_layers", []int{1}, []int{0, 2, 3}},
		{"gemma3_text", "model.layers", "num_hidden_layers", []int{2}, []int{0, 1, 3}},
		{"gpt2", "transformer.h", "n_layer", []int{0, 3}, []int{1, 2}},
		{"llama", "model.layers", "num_hidden_layers", []int{3}, []int{0, 1, 2}},
	}
	for _, c := range cases {
		t.Run(c.fixture, func(t *testing.T) {
			src := filepath.Join("../../testdata/fixtures", c.fixture)
			before := snapshot(t, src)
			m, err := modelio.Open(src)
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(t.TempDir(), c.fixture+"-pruned")
			if err := prune.Write(m, c.remove, dst, nil); err != nil {
				t.Fatal(err)
			}
			if snapshot(t, src) != before {
				t.Error("fixture folder changed")
			}
			got, err := modelio.Open(dst)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Arch.Blocks) != len(c.sourceLayer) || len(got.Warnings) != len(m.Warnings) {
				t.Errorf("%d blocks, warnings %q", len(got.Arch.Blocks), got.Warnings)
			}
			if n := got.Config.Int(c.key, 0); n != len(c.sourceLayer) {
				t.Errorf("%s = %d", c.key, n)
			}
			if lt := m.Config.Strings("layer_types"); lt != nil {
				want := make([]string, len(c.sourceLayer))
				for i, l := range c.sourceLayer {
					want[i] = lt[l]
				}
				if g := got.Config.Strings("layer_types"); !slices.Equal(g, want) {
					t.Errorf("layer_types %v, want %v", g, want)
				}
			}
			checkCopy(t, src, dst, c.list, c.sourceLayer)
		})
	}
}

// Only the edited lines of config.json change.
func TestEditConfigKeepsTheRest(t *testing.T) {
	orig, err := os.ReadFile("../../testdata/fixtures/qwen3/config.json")
	if err != nil {
		t.Fatal(err)
	}
	out, err := prune.EditConfig(orig, []modelio.ConfigEdit{
		{Key: "num_hidden_layers", Value: json.Number("3")},
		{Key: "layer_types", Value: []any{"full_attention", "full_attention", "full_attention"}},
		{Key: "max_window_layers", Value: json.Number("3")},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(string(orig), `"num_hidden_layers": 4,`, `"num_hidden_layers": 3,`, 1)
	want = strings.Replace(want, "    \"full_attention\",\n    \"full_attention\"\n  ],", "    \"full_attention\"\n  ],", 1)
	want = strings.Replace(want, `"max_window_layers": 4,`, `"max_window_layers": 3,`, 1)
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}

	compact := []byte(`{"b": [1, 2], "a": {"x": 1}}`)
	out, err = prune.EditConfig(compact, []modelio.ConfigEdit{{Key: "b", Value: []any{json.Number("1")}}, {Key: "c", Value: json.Number("5")}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"b\": [1],\n  \"a\": {\"x\": 1},\n  \"c\": 5\n}"; string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	sorted := []byte("{\n  \"a\": 1,\n  \"model_type\": \"gpt2\",\n  \"z\": []\n}\n")
	out, _ = prune.EditConfig(sorted, []modelio.ConfigEdit{{Key: "n_layer", Value: json.Number("2")}})
	if want := "{\n  \"a\": 1,\n  \"model_type\": \"gpt2\",\n  \"n_layer\": 2,\n  \"z\": []\n}\n"; string(out) != want {
		t.Errorf("new key not in sorted place:\n%s", out)
	}
	if _, err := prune.EditConfig([]byte(`[1]`), nil); err == nil {
		t.Error("no error for a JSON array")
	}
}

func TestWriteRefuses(t *testing.T) {
	src := tinyFolder(t, 4, 1)
	m, err := modelio.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	gallery, err := modelio.Open("llama-3.2-1b")
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	ggufPath := filepath.Join(t.TempDir(), "tiny.gguf")
	kvs, ts := gguftest.TinyLlama()
	gguftest.Write(t, ggufPath, kvs, ts)
	ggufModel, err := modelio.Open(ggufPath)
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(src, link); err != nil {
		t.Fatal(err)
	}
	full := filepath.Join(base, "full")
	os.Mkdir(full, 0o755)
	os.WriteFile(filepath.Join(full, "x"), nil, 0o644)
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o644)
	before := snapshot(t, src)
	cases := []struct {
		name   string
		m      *modelio.Model
		remove []int
		dst    string
		want   string
	}{
		{"gallery", gallery, []int{1}, filepath.Join(base, "g"), "has no weights"},
		{"GGUF", ggufModel, []int{1}, filepath.Join(base, "g"), "writes pruned copies of full-precision safetensors only"},
		{"source", m, []int{1}, src, "is the model's own folder"},
		{"source respelled", m, []int{1}, filepath.Join(src, "..", filepath.Base(src)), "is the model's own folder"},
		{"source by link", m, []int{1}, link, "is the model's own folder"},
		{"inside source", m, []int{1}, filepath.Join(src, "pruned"), "is inside the model's folder"},
		{"inside source by link", m, []int{1}, filepath.Join(link, "pruned"), "is inside the model's folder"},
		{"not empty", m, []int{1}, full, "is not empty"},
		{"a file", m, []int{1}, file, "is a file"},
		{"no parent", m, []int{1}, filepath.Join(base, "no", "such"), "does not exist"},
		{"twice", m, []int{1, 1}, filepath.Join(base, "t"), "block 1 is listed twice"},
		{"all", m, []int{0, 1, 2, 3}, filepath.Join(base, "t"), "cannot remove all 4 blocks"},
		{"out of range", m, []int{4}, filepath.Join(base, "t"), "there is no block 4"},
		{"empty name", m, []int{1}, "", "no folder given"},
	}
	for _, c := range cases {
		err := prune.Write(c.m, c.remove, c.dst, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line with %q", c.name, err, c.want)
		}
	}
	if after := snapshot(t, src); after != before {
		t.Errorf("source changed:\n%s\n---\n%s", before, after)
	}
	if names := listDir(t, base); !slices.Equal(names, []string{"file", "full", "link"}) {
		t.Errorf("left in %s: %v", base, names)
	}
	// An empty folder is fine.
	empty := filepath.Join(base, "empty")
	os.Mkdir(empty, 0o755)
	if err := prune.Write(m, []int{1}, empty, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := modelio.Open(empty); err != nil || len(got.Arch.Blocks) != 3 {
		t.Errorf("written into an empty folder: %v", err)
	}
}

// A source file that changed after it was opened fails the copy, and nothing is left behind.
func TestWriteFailureLeavesNothing(t *testing.T) {
	src := tinyFolder(t, 4, 1)
	m, err := modelio.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	st := filepath.Join(src, "model.safetensors")
	info, _ := os.Stat(st)
	if err := os.Truncate(st, info.Size()-100); err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	err = prune.Write(m, []int{1}, filepath.Join(base, "out"), nil)
	if err == nil || !strings.Contains(err.Error(), "shorter than its header says") {
		t.Errorf("error %v", err)
	}
	if names := listDir(t, base); len(names) != 0 {
		t.Errorf("left behind: %v", names)
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}
