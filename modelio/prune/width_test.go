package prune_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/neurons"
	"github.com/layerscope/layerscope/modelio/prune"
	"github.com/layerscope/layerscope/modelio/weights"
)

// pickBytes gathers slices idx along axis of a row-major tensor of shape [outer..., n, inner...].
func pickBytes(src []byte, shape []int64, elem int64, axis int, idx []int) []byte {
	outer, inner := int64(1), elem
	for _, d := range shape[:axis] {
		outer *= d
	}
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	n := shape[axis]
	var out []byte
	for o := range outer {
		for _, i := range idx {
			start := (o*n + int64(i)) * inner
			out = append(out, src[start:start+inner]...)
		}
	}
	return out
}

// neuronAxis says, from a tensor's name alone, along which axis it holds an MLP's neurons and
// whether gate and up are fused: written out per family, independently of modelio's roles.
func neuronAxis(name string) (axis int, fused, ok bool) {
	switch {
	case strings.HasSuffix(name, "mlp.gate_up_proj.weight"):
		return 0, true, true
	case strings.HasSuffix(name, "mlp.c_fc.weight"):
		return 1, false, true // Conv1D [in, out]
	case strings.HasSuffix(name, "mlp.c_proj.weight"):
		return 0, false, true
	case strings.HasSuffix(name, "mlp.c_fc.bias"):
		return 0, false, true
	}
	for _, s := range []string{"gate_proj.weight", "up_proj.weight", ".w1.weight", ".w3.weight", "fc1.weight", "fc1.bias", "dense_h_to_4h.weight", "dense_h_to_4h.bias"} {
		if strings.HasSuffix(name, s) {
			return 0, false, true
		}
	}
	for _, s := range []string{"down_proj.weight", ".w2.weight", "fc2.weight", "dense_4h_to_h.weight"} {
		if strings.HasSuffix(name, s) {
			return 1, false, true
		}
	}
	return 0, false, false
}

// widthCopy opens src, removes blocks, scores the rest with ppm, keeps 100−percent % of every MLP
// and writes the copy; it returns the narrowed description and the kept neurons per MLP.
func widthCopy(t *testing.T, src string, remove []int, percent float64, dst string) (*modelio.Model, []modelio.MLPUnit, [][]int) {
	t.Helper()
	m, err := modelio.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	d, err := modelio.RemoveBlocks(m, remove)
	if err != nil {
		t.Fatal(err)
	}
	s, err := neurons.Score(context.Background(), d, neurons.PPM, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, kept, err := neurons.Widths(s.Units, neurons.Target{Percent: percent})
	if err != nil {
		t.Fatal(err)
	}
	keep, err := neurons.Keep(s, kept)
	if err != nil {
		t.Fatal(err)
	}
	p, err := modelio.NarrowMLP(d, keep)
	if err != nil {
		t.Fatal(err)
	}
	if err := prune.Write(p, nil, dst, nil); err != nil {
		t.Fatal(err)
	}
	return p, s.Units, keep
}

// checkWidthCopy checks every tensor of the copy: MLP tensors hold the kept slices of the source
// tensor of the kept block, every other tensor the source's bytes unchanged.
func checkWidthCopy(t *testing.T, src, dst, list string, sourceLayer []int, units []modelio.MLPUnit, keep [][]int) {
	t.Helper()
	want, got := tensorBytes(t, src), tensorBytes(t, dst)
	srcSet, _ := modelio.Open(src)
	keepOf := func(name string) []int {
		for i, u := range units {
			if strings.HasPrefix(name, u.Path+".") || strings.HasPrefix("transformer."+name, u.Path+".") {
				return keep[i]
			}
		}
		return nil
	}
	picked := 0
	for name, b := range got {
		srcName := name
		for i, l := range sourceLayer {
			if after, ok := strings.CutPrefix(name, fmt.Sprintf("%s.%d.", list, i)); ok {
				srcName = fmt.Sprintf("%s.%d.%s", list, l, after)
			}
		}
		w, ok := want[srcName]
		if !ok {
			t.Errorf("%s: no source tensor %s", name, srcName)
			continue
		}
		if axis, fused, isMLP := neuronAxis(name); isMLP {
			k := keepOf(name)
			if k == nil {
				t.Errorf("%s: no MLP unit holds it", name)
				continue
			}
			st := srcSet.Weights.Tensors[srcName]
			idx := k
			if fused {
				idx = append([]int(nil), k...)
				for _, j := range k {
					idx = append(idx, int(st.Shape[0]/2)+j)
				}
			}
			w = pickBytes(w, st.Shape, st.Size/st.Elements(), axis, idx)
			picked++
		}
		if !bytes.Equal(b, w) {
			t.Errorf("%s does not hold the expected bytes of %s", name, srcName)
		}
	}
	if picked == 0 {
		t.Error("no MLP tensor was narrowed")
	}
}

// Transformers-made fixtures of GLU (separate and fused) and Conv1D MLPs: the copy opens with the new
// width, under the family's own key, and holds exactly the kept neurons.
func TestWriteWidthFixtures(t *testing.T) {
	cases := []struct {
		fixture, list, key string
		remove             []int
		sourceLayer        []int
	}{
		{"llama", "model.layers", "intermediate_size", nil, []int{0, 1, 2, 3}},
		{"qwen3", "model.layers", "intermediate_size", []int{1}, []int{0, 2, 3}},
		{"gemma3_text", "model.layers", "intermediate_size", nil, []int{0, 1, 2, 3}},
		{"phi3", "model.layers", "intermediate_size", []int{0}, []int{1, 2, 3}},
		{"gpt2", "transformer.h", "n_inner", []int{3}, []int{0, 1, 2}},
	}
	for _, c := range cases {
		t.Run(c.fixture, func(t *testing.T) {
			src := filepath.Join("../../testdata/fixtures", c.fixture)
			before := snapshot(t, src)
			dst := filepath.Join(t.TempDir(), "narrow")
			p, units, keep := widthCopy(t, src, c.remove, 40, dst)
			if snapshot(t, src) != before {
				t.Error("fixture folder changed")
			}
			got, err := modelio.Open(dst)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Warnings) != 0 {
				t.Errorf("the copy opens with warnings %q", got.Warnings)
			}
			k := len(keep[0])
			if n := got.Config.Int(c.key, 0); n != k || got.Spec.Hyper.Intermediate != k {
				t.Errorf("%s = %d, intermediate %d, want %d", c.key, n, got.Spec.Hyper.Intermediate, k)
			}
			if got.Spec.Root.NumParams() != p.Spec.Root.NumParams() || len(got.Arch.Blocks) != len(c.sourceLayer) {
				t.Errorf("copy: %d parameters in %d blocks; described %d", got.Spec.Root.NumParams(), len(got.Arch.Blocks), p.Spec.Root.NumParams())
			}
			checkWidthCopy(t, src, dst, c.list, c.sourceLayer, units, keep)
		})
	}
}

// Sharded BF16 weights, depth and width in one copy; the small read buffers make the writer read
// the kept rows run by run and the columns a few rows at a time, as it does for real-size tensors.
func TestWriteWidthShardedWithDepth(t *testing.T) {
	for _, chunk := range []int64{0, 100, 1000} {
		t.Run(fmt.Sprintf("chunk %d", chunk), func(t *testing.T) {
			if chunk > 0 {
				defer prune.SetPickChunk(chunk)()
			}
			testWidthShardedWithDepth(t)
		})
	}
}

func testWidthShardedWithDepth(t *testing.T) {
	src := tinyFolder(t, 8, 3)
	makeFinite(t, src)
	dst := filepath.Join(t.TempDir(), "both")
	_, units, keep := widthCopy(t, src, []int{2, 5}, 25, dst)
	got, err := modelio.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Arch.Blocks) != 6 || got.Config.Int("intermediate_size", 0) != 30 || got.Config.Int("num_hidden_layers", 0) != 6 {
		t.Errorf("%d blocks, intermediate_size %d", len(got.Arch.Blocks), got.Config.Int("intermediate_size", 0))
	}
	if _, err := os.Stat(filepath.Join(dst, "model.safetensors.index.json")); err != nil {
		t.Error(err)
	}
	checkWidthCopy(t, src, dst, "model.layers", []int{0, 1, 3, 4, 6, 7}, units, keep)
}

// galleryFolder writes a tiny model of a gallery config (with overrides) with distinct bytes in
// every tensor.
func galleryFolder(t *testing.T, stem string, set map[string]any) string {
	t.Helper()
	data, err := os.ReadFile("../gallery/configs/" + stem + ".config.json")
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	for k, v := range set {
		cfg[k] = v
	}
	dir := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeJSON(t, filepath.Join(dir, "config.json"), cfg)
	writeData(t, filepath.Join(dir, "model.safetensors"), tensorsOf(t, cfg))
	makeFinite(t, dir)
	return dir
}

// makeFinite rewrites the BF16 tensors of dir's safetensors files so that no element is NaN or
// infinite (writeData's bytes are arbitrary): an all-ones exponent loses its lowest bit.
func makeFinite(t *testing.T, dir string) {
	t.Helper()
	ws, err := weights.ReadFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range ws.Files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, tn := range ws.Tensors {
			if tn.File != file || tn.DType != "BF16" {
				continue
			}
			for i := tn.Offset; i+1 < tn.Offset+tn.Size; i += 2 {
				if u := binary.LittleEndian.Uint16(data[i:]); u&0x7f80 == 0x7f80 {
					binary.LittleEndian.PutUint16(data[i:], u&^0x0080)
				}
			}
		}
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Weights holding NaN or infinities are refused, in one line naming the MLP, before anything is written.
func TestWidthRefusesBrokenWeights(t *testing.T) {
	src := tinyFolder(t, 2, 1) // writeData's arbitrary bytes hold NaNs
	m, err := modelio.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	_, err = neurons.Score(context.Background(), m, neurons.PPM, nil)
	if err == nil || !strings.Contains(err.Error(), "hold NaN or infinite values") || strings.Contains(err.Error(), "\n") {
		t.Errorf("got %v", err)
	}
}

// Experts are each scored and narrowed alike; Qwen3-MoE's dense layers and experts have their own
// width keys; classic MLPs with biases (OPT, phi, GPT-NeoX) keep their kept neurons' biases.
func TestWriteWidthFamilies(t *testing.T) {
	small := func(extra map[string]any) map[string]any {
		out := map[string]any{"hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 3,
			"intermediate_size": 64, "vocab_size": 64, "max_position_embeddings": 64}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	cases := []struct {
		name, stem, list string
		set              map[string]any
		keys             map[string]int // config key → width after pruning 50%
	}{
		{"mixtral", "mistralai__Mixtral-8x7B-v0.1", "model.layers", small(map[string]any{"num_key_value_heads": 2, "num_local_experts": 3}),
			map[string]int{"intermediate_size": 32}},
		{"qwen3_moe", "Qwen__Qwen3-30B-A3B", "model.layers", small(map[string]any{"num_key_value_heads": 2, "head_dim": 8, "num_experts": 4,
			"num_experts_per_tok": 2, "moe_intermediate_size": 24, "mlp_only_layers": []int{1}}),
			map[string]int{"intermediate_size": 32, "moe_intermediate_size": 12}},
		{"opt", "facebook__opt-125m", "model.decoder.layers", small(map[string]any{"ffn_dim": 64, "word_embed_proj_dim": 32}),
			map[string]int{"ffn_dim": 32}},
		{"phi", "microsoft__phi-2", "model.layers", small(map[string]any{"num_key_value_heads": 4}),
			map[string]int{"intermediate_size": 32}},
		{"gpt_neox", "EleutherAI__pythia-70m", "gpt_neox.layers", small(nil),
			map[string]int{"intermediate_size": 32}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := galleryFolder(t, c.stem, c.set)
			dst := filepath.Join(t.TempDir(), "narrow")
			_, units, keep := widthCopy(t, src, nil, 50, dst)
			got, err := modelio.Open(dst)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Warnings) != 0 {
				t.Errorf("the copy opens with warnings %q", got.Warnings)
			}
			for key, w := range c.keys {
				if n := got.Config.Int(key, 0); n != w {
					t.Errorf("%s = %d, want %d", key, n, w)
				}
			}
			gotUnits, err := modelio.MLPUnits(got)
			if err != nil {
				t.Fatal(err)
			}
			for i, u := range gotUnits {
				if u.Path != units[i].Path || u.Width != int64(len(keep[i])) {
					t.Errorf("%s: %d neurons, want %d", u.Path, u.Width, len(keep[i]))
				}
			}
			checkWidthCopy(t, src, dst, c.list, []int{0, 1, 2}, units, keep)
		})
	}
}
