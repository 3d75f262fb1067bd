package modelio_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/gallery"
	"github.com/layerscope/layerscope/modelio/weights/weightstest"
)

// Every gallery model loses two blocks: the tree folds at the new depth, the kept blocks keep their
// kind, the parameters fall by exactly the removed blocks', and the source is untouched.
func TestRemoveBlocksGallery(t *testing.T) {
	for _, e := range gallery.All() {
		t.Run(e.Name, func(t *testing.T) {
			m, err := modelio.Open(e.Name)
			if err != nil {
				t.Fatal(err)
			}
			before := arch.Repr(m.Spec.Root)
			n := len(m.Arch.Blocks)
			remove := []int{n - 2, 1}
			p, err := modelio.RemoveBlocks(m, remove)
			if err != nil {
				t.Fatal(err)
			}
			if arch.Repr(m.Spec.Root) != before || m.Name != e.Name || m.Removed != nil || len(m.Arch.Blocks) != n {
				t.Fatal("RemoveBlocks changed its input")
			}
			keep := []int{0}
			for i := 2; i < n; i++ {
				if i != n-2 {
					keep = append(keep, i)
				}
			}
			if len(p.Arch.Blocks) != n-2 || p.Spec.Hyper.Layers != n-2 {
				t.Fatalf("blocks %d, hyper layers %d, want %d", len(p.Arch.Blocks), p.Spec.Hyper.Layers, n-2)
			}
			if !slices.Equal(p.SourceLayer, keep) || !slices.Equal(p.Removed, []int{1, n - 2}) {
				t.Errorf("SourceLayer %v Removed %v", p.SourceLayer, p.Removed)
			}
			if want := fmt.Sprintf("%s − blocks 1, %d", e.Name, n-2); p.Name != want {
				t.Errorf("name %q, want %q", p.Name, want)
			}
			var removedParams int64
			for _, b := range []int{1, n - 2} {
				removedParams += m.Arch.Blocks[b].Params
			}
			if got := p.SourceParams - p.Spec.Root.NumParams(); p.SourceParams != m.Spec.Root.NumParams() || got != removedParams {
				t.Errorf("saved %d, the removed blocks hold %d", got, removedParams)
			}
			for i, b := range p.Arch.Blocks {
				old := m.Arch.Blocks[keep[i]]
				if b.Index != i || b.Class != old.Class || b.Attention != old.Attention || b.Params != old.Params {
					t.Errorf("block %d = %+v, was block %d = %+v", i, b, keep[i], old)
				}
			}
			if lt := m.Spec.Hyper.LayerTypes; lt != nil {
				want := make([]string, len(keep))
				for i, k := range keep {
					want[i] = lt[k]
				}
				if !slices.Equal(p.Spec.Hyper.LayerTypes, want) {
					t.Errorf("layer types %v, want %v", p.Spec.Hyper.LayerTypes, want)
				}
			}
			if e.Name == "llama-3.2-1b" {
				if tree := arch.Repr(p.Spec.Root); !strings.Contains(tree, "(0-13): 14 x LlamaDecoderLayer(") {
					t.Errorf("tree:\n%s", tree)
				}
			}
			// The facts of the what-if show the new depth.
			if f := p.Facts(); f == nil {
				t.Error("no facts")
			}
		})
	}
}

func TestRemoveBlocksErrors(t *testing.T) {
	m, err := modelio.Open("llama-3.2-1b")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		remove []int
		want   string
	}{
		{[]int{16}, "llama-3.2-1b has blocks 0 to 15: there is no block 16"},
		{[]int{-1}, "there is no block -1"},
		{[]int{3, 5, 3}, "block 3 is listed twice"},
		{[]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, "cannot remove all 16 blocks of llama-3.2-1b"},
	}
	for _, c := range cases {
		_, err := modelio.RemoveBlocks(m, c.remove)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v, want one line with %q", c.remove, err, c.want)
		}
	}
	if _, err := modelio.RemoveBlocks(nil, []int{1}); err == nil {
		t.Error("no error for a nil model")
	}
	same, err := modelio.RemoveBlocks(m, nil)
	if err != nil || same.Name != m.Name || len(same.Arch.Blocks) != 16 || len(same.Removed) != 0 {
		t.Errorf("removing nothing: %v, %v", err, same)
	}
}

// Pruning twice is pruning once: indices of the second call are the first result's.
func TestRemoveBlocksComposes(t *testing.T) {
	dir := modelFolder(t, tinyLlama(8), narrowMLP(7, 96))
	m, err := modelio.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	once, err := modelio.RemoveBlocks(m, []int{3, 5})
	if err != nil {
		t.Fatal(err)
	}
	first, err := modelio.RemoveBlocks(m, []int{5})
	if err != nil {
		t.Fatal(err)
	}
	twice, err := modelio.RemoveBlocks(first, []int{3})
	if err != nil {
		t.Fatal(err)
	}
	if once.Name != twice.Name || !slices.Equal(once.Removed, twice.Removed) || !slices.Equal(once.SourceLayer, twice.SourceLayer) ||
		arch.Repr(once.Spec.Root) != arch.Repr(twice.Spec.Root) || fmt.Sprint(once.ConfigEdits) != fmt.Sprint(twice.ConfigEdits) {
		t.Errorf("once %q %v %v %v\ntwice %q %v %v %v", once.Name, once.Removed, once.SourceLayer, once.ConfigEdits,
			twice.Name, twice.Removed, twice.SourceLayer, twice.ConfigEdits)
	}
	if want := filepath.Base(dir) + " − blocks 3, 5"; once.Name != want {
		t.Errorf("name %q, want %q", once.Name, want)
	}
}

// A folder's pruned weights name the kept tensors by their new index and point at the source bytes:
// the width-pruned block 7 becomes block 5, narrow MLP and all.
func TestRemoveBlocksRenamesWeights(t *testing.T) {
	dir := modelFolder(t, tinyLlama(8), narrowMLP(7, 96))
	m, err := modelio.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := modelio.RemoveBlocks(m, []int{3, 5})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.SourceLayer, []int{0, 1, 2, 4, 6, 7}) {
		t.Errorf("SourceLayer %v", p.SourceLayer)
	}
	got, want := p.Weights.Tensors["model.layers.5.mlp.gate_proj.weight"], m.Weights.Tensors["model.layers.7.mlp.gate_proj.weight"]
	if got == nil || got.File != want.File || got.Offset != want.Offset || !slices.Equal(got.Shape, []int64{96, 64}) {
		t.Errorf("layer 5 gate_proj = %+v, want the bytes of layer 7's %+v", got, want)
	}
	for name := range p.Weights.Tensors {
		if strings.HasPrefix(name, "model.layers.6.") || strings.HasPrefix(name, "model.layers.7.") {
			t.Errorf("tensor %s left in a 6-block model", name)
		}
	}
	if len(p.Weights.Names) != len(m.Weights.Names)-2*9 {
		t.Errorf("%d tensors, want %d", len(p.Weights.Names), len(m.Weights.Names)-18)
	}
	tree := arch.Repr(p.Spec.Root)
	for _, w := range []string{"(0-4): 5 x LlamaDecoderLayer(", "(5): LlamaDecoderLayer(", "out_features=96"} {
		if !strings.Contains(tree, w) {
			t.Errorf("tree lacks %q:\n%s", w, tree)
		}
	}
	joined := strings.Join(p.Warnings, "\n")
	if !strings.Contains(joined, "model.layers.5.mlp.gate_proj.weight is [96 64]") || strings.Contains(joined, "layers.7") {
		t.Errorf("warnings not renumbered: %q", p.Warnings)
	}
	if f := p.Facts(); f == nil {
		t.Fatal("no facts")
	}
}

// openConfig writes a gallery config with changes and opens it.
func openConfig(t *testing.T, name string, change func(map[string]any)) *modelio.Model {
	t.Helper()
	e, ok := gallery.Find(name)
	if !ok {
		t.Fatal(name)
	}
	var cfg map[string]any
	if err := json.Unmarshal(e.Config(), &cfg); err != nil {
		t.Fatal(err)
	}
	change(cfg)
	path := filepath.Join(t.TempDir(), "config.json")
	writeJSON(t, path, cfg)
	m, err := modelio.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The config keys that hold a per-layer layout follow the removed blocks, so transformers builds the
// kept blocks as they were.
func TestRemoveBlocksConfigEdits(t *testing.T) {
	cases := []struct {
		name   string
		model  string
		change func(map[string]any)
		remove []int
		want   string // the edits, as fmt prints them
	}{
		{"gemma3 layer_types", "gemma-3-270m", func(map[string]any) {}, []int{5, 0},
			"[{num_hidden_layers 16} {layer_types [sliding_attention sliding_attention sliding_attention sliding_attention " +
				"sliding_attention sliding_attention sliding_attention sliding_attention sliding_attention full_attention " +
				"sliding_attention sliding_attention sliding_attention sliding_attention sliding_attention full_attention]}]"},
		{"gemma3 pattern spelled out", "gemma-3-270m", func(c map[string]any) {
			delete(c, "layer_types")
			c["sliding_window_pattern"] = 3
			c["num_hidden_layers"] = 6
		}, []int{2},
			"[{num_hidden_layers 5} {layer_types [sliding_attention sliding_attention sliding_attention sliding_attention full_attention]}]"},
		{"gpt2 default depth", "gpt2", func(c map[string]any) { delete(c, "n_layer") }, []int{11},
			"[{num_hidden_layers 11}]"},
		{"gpt2 n_layer", "gpt2", func(map[string]any) {}, []int{0}, "[{n_layer 11}]"},
		{"qwen2 window cut", "qwen2.5-0.5b", func(c map[string]any) {
			c["use_sliding_window"] = true
			c["max_window_layers"] = 20
		}, []int{2, 21}, "[{num_hidden_layers 22} {max_window_layers 19}]"},
		{"qwen3 moe step", "qwen3-30b-a3b", func(c map[string]any) {
			c["num_hidden_layers"] = 6
			c["decoder_sparse_step"] = 2
			c["mlp_only_layers"] = []int{5}
		}, []int{0}, "[{num_hidden_layers 5} {decoder_sparse_step 1} {mlp_only_layers [1 3 4]}]"},
		{"qwen3 moe keeps the step", "qwen3-30b-a3b", func(c map[string]any) {
			c["num_hidden_layers"] = 6
			c["decoder_sparse_step"] = 2
			c["mlp_only_layers"] = []int{5}
		}, []int{0, 1}, "[{num_hidden_layers 4} {mlp_only_layers [3]}]"},
		{"qwen3 moe mlp_only_layers", "qwen3-30b-a3b", func(c map[string]any) {
			c["num_hidden_layers"] = 6
			c["mlp_only_layers"] = []int{0, 4}
		}, []int{2}, "[{num_hidden_layers 5} {mlp_only_layers [0 3]}]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := openConfig(t, c.model, c.change)
			p, err := modelio.RemoveBlocks(m, c.remove)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(p.ConfigEdits); got != c.want {
				t.Errorf("edits\n%s\nwant\n%s", got, c.want)
			}
			keep := p.SourceLayer
			for i, b := range p.Arch.Blocks {
				old := m.Arch.Blocks[keep[i]]
				if b.Attention != old.Attention || (b.Experts == nil) != (old.Experts == nil) {
					t.Errorf("block %d: attention %q moe %v, was block %d: %q moe %v", i, b.Attention, b.Experts != nil,
						keep[i], old.Attention, old.Experts != nil)
				}
			}
		})
	}
}

// A model of a family Layerscope does not know is described from its tensor names; pruning renames
// them and updates num_hidden_layers all the same.
func TestRemoveBlocksGeneric(t *testing.T) {
	cfg := tinyLlama(5)
	specs := expectedTensors(t, cfg, "BF16")
	cfg["model_type"] = "brandnew"
	cfg["architectures"] = []string{"BrandNewForCausalLM"}
	dir := t.TempDir()
	writeJSON(t, filepath.Join(dir, "config.json"), cfg)
	weightstest.WriteFile(t, filepath.Join(dir, "model.safetensors"), specs)
	m, err := modelio.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := modelio.RemoveBlocks(m, []int{0, 2})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Generic || len(p.Arch.Blocks) != 3 || fmt.Sprint(p.ConfigEdits) != "[{num_hidden_layers 3}]" {
		t.Errorf("generic %v, %d blocks, edits %v", p.Generic, len(p.Arch.Blocks), p.ConfigEdits)
	}
	if got := p.Weights.Tensors["model.layers.0.mlp.up_proj.weight"]; got == nil || got.Offset != m.Weights.Tensors["model.layers.1.mlp.up_proj.weight"].Offset {
		t.Errorf("block 0 does not read block 1's bytes: %+v", got)
	}
}

// Weights that hold fewer blocks than config.json says describe the blocks they hold; pruning them
// writes the depth they really have, and the mismatch is gone.
func TestRemoveBlocksShortCheckpoint(t *testing.T) {
	dir := modelFolder(t, tinyLlama(6), func(specs []weightstest.Spec) []weightstest.Spec {
		var out []weightstest.Spec
		for _, s := range specs {
			if !strings.HasPrefix(s.Name, "model.layers.4.") && !strings.HasPrefix(s.Name, "model.layers.5.") {
				out = append(out, s)
			}
		}
		return out
	})
	m, err := modelio.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Arch.Blocks) != 4 {
		t.Fatalf("%d blocks", len(m.Arch.Blocks))
	}
	p, err := modelio.RemoveBlocks(m, []int{1})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Arch.Blocks) != 3 || fmt.Sprint(p.ConfigEdits) != "[{num_hidden_layers 3}]" || len(p.Warnings) != 0 {
		t.Errorf("%d blocks, edits %v, warnings %q", len(p.Arch.Blocks), p.ConfigEdits, p.Warnings)
	}
}

func TestParseBlocks(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr string
	}{
		{"3", []int{3}, ""},
		{"3,5", []int{3, 5}, ""},
		{" 10-12 , 20 ", []int{10, 11, 12, 20}, ""},
		{"7-7", []int{7}, ""},
		{"", nil, "is not a block number"},
		{"3,", nil, "is not a block number"},
		{"-3", nil, "is not a block number"},
		{"+3", nil, "is not a block number"},
		{"x", nil, "is not a block number"},
		{"5-3", nil, "is not a range"},
		{"0-999999999", nil, "is not a range"},
	}
	for _, tt := range tests {
		got, err := modelio.ParseBlocks(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseBlocks(%q): error %v, want one saying %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseBlocks(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestBlocksPhrase(t *testing.T) {
	tests := []struct {
		in   []int
		want string
	}{
		{[]int{3}, "block 3"},
		{[]int{3, 5}, "blocks 3, 5"},
		{[]int{5, 6}, "blocks 5, 6"},
		{[]int{12, 13, 14, 15, 16}, "blocks 12–16"},
		{[]int{3, 20, 21, 22, 27}, "blocks 3, 20–22, 27"},
	}
	for _, tt := range tests {
		if got := modelio.BlocksPhrase(tt.in); got != tt.want {
			t.Errorf("BlocksPhrase(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
