package compute

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/config"
	"github.com/layerscope/layerscope/modelio/weights/weightstest"
)

// writeRandomModel writes a model folder into dir: config.json from cfg, and model.safetensors with
// every parameter the family's module tree names, in dtype, filled from a fixed seed (norm weights
// near 1, everything else small, as an initialised model). skip leaves tensors out (to test errors);
// reshape overrides a tensor's shape.
func writeRandomModel(tb testing.TB, dir string, cfg map[string]any, dtype string, skip map[string]bool, reshape map[string][]int64) {
	tb.Helper()
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		tb.Fatal(err)
	}
	c, err := config.Parse("config.json", data)
	if err != nil {
		tb.Fatal(err)
	}
	fam, ok := arch.Lookup(c.String("model_type", ""))
	if !ok {
		tb.Fatalf("no family for %v", cfg["model_type"])
	}
	spec, err := fam.Build(c)
	if err != nil {
		tb.Fatal(err)
	}
	var specs []weightstest.Spec
	for _, p := range spec.Root.Params("") {
		if skip[p.Name] {
			continue
		}
		shape := p.Shape
		if s, ok := reshape[p.Name]; ok {
			shape = s
		}
		specs = append(specs, weightstest.T(p.Name, dtype, shape...))
	}
	prefix, _ := weightstest.Header(tb, specs)
	f, err := os.Create(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.Write(prefix)
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 4)
	for _, s := range specs {
		n := arch.NumElements(s.Shape)
		norm := strings.Contains(s.Name, "norm") || strings.Contains(s.Name, "ln_")
		for i := int64(0); i < n; i++ {
			v := float32(rng.NormFloat64() * 0.05)
			if norm && strings.HasSuffix(s.Name, "weight") {
				v += 1
			}
			switch dtype {
			case "F32":
				binary.LittleEndian.PutUint32(buf, math.Float32bits(v))
				w.Write(buf[:4])
			case "BF16":
				binary.LittleEndian.PutUint16(buf, uint16(bf16RNE(v)))
				w.Write(buf[:2])
			default:
				tb.Fatalf("writeRandomModel: dtype %s", dtype)
			}
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// tinyLlamaConfig is a small llama config.json.
func tinyLlamaConfig() map[string]any {
	return map[string]any{
		"model_type": "llama", "architectures": []string{"LlamaForCausalLM"},
		"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2,
		"num_hidden_layers": 3, "vocab_size": 64, "max_position_embeddings": 32, "rms_norm_eps": 1e-5,
		"rope_theta": 10000.0, "tie_word_embeddings": true, "hidden_act": "silu",
	}
}

// openRandom writes a random model and opens it.
func openRandom(tb testing.TB, cfg map[string]any, dtype string, skip map[string]bool, reshape map[string][]int64) *modelio.Model {
	tb.Helper()
	dir := tb.TempDir()
	writeRandomModel(tb, dir, cfg, dtype, skip, reshape)
	m, err := modelio.Open(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// randomTokens returns n samples of length seq with ids below vocab.
func randomTokens(n, seq, vocab int) [][]int {
	rng := rand.New(rand.NewPCG(3, 4))
	out := make([][]int, n)
	for i := range out {
		out[i] = make([]int, seq)
		for j := range out[i] {
			out[i][j] = rng.IntN(vocab)
		}
	}
	return out
}
