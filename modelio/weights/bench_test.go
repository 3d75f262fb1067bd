package weights

import (
	"strconv"
	"testing"

	"github.com/layerscope/layerscope/modelio/weights/weightstest"
)

// llama31_8B returns the 291 tensors of Llama-3.1-8B in BF16, in the order of its checkpoint
// (embeddings, 32 layers, final norm, LM head), from its config.json: hidden 4096, 32 heads of 128,
// 8 KV heads, intermediate 14336, vocab 128256, untied embeddings.
func llama31_8B() []spec {
	const (
		hidden       = 4096
		kv           = 8 * 128
		intermediate = 14336
		vocab        = 128256
		layers       = 32
	)
	specs := []spec{T("model.embed_tokens.weight", "BF16", vocab, hidden)}
	for l := range layers {
		p := "model.layers." + strconv.Itoa(l) + "."
		specs = append(specs,
			T(p+"input_layernorm.weight", "BF16", hidden),
			T(p+"mlp.down_proj.weight", "BF16", hidden, intermediate),
			T(p+"mlp.gate_proj.weight", "BF16", intermediate, hidden),
			T(p+"mlp.up_proj.weight", "BF16", intermediate, hidden),
			T(p+"post_attention_layernorm.weight", "BF16", hidden),
			T(p+"self_attn.k_proj.weight", "BF16", kv, hidden),
			T(p+"self_attn.o_proj.weight", "BF16", hidden, hidden),
			T(p+"self_attn.q_proj.weight", "BF16", hidden, hidden),
			T(p+"self_attn.v_proj.weight", "BF16", kv, hidden),
		)
	}
	return append(specs, T("model.norm.weight", "BF16", hidden), T("lm_head.weight", "BF16", vocab, hidden))
}

// splitEvenly cuts specs, in order, into n shards of roughly equal bytes, as save_pretrained's
// max_shard_size does.
func splitEvenly(specs []spec, n int) [][]spec {
	size := func(s spec) int64 {
		b, _ := weightstest.Bits(s.DType)
		for _, d := range s.Shape {
			b *= d
		}
		return b / 8
	}
	var total int64
	for _, s := range specs {
		total += size(s)
	}
	shards := make([][]spec, n)
	var done int64
	for _, s := range specs {
		i := min(int(done*int64(n)/total), n-1)
		shards[i] = append(shards[i], s)
		done += size(s)
	}
	return shards
}

func TestLlama31_8BFolder(t *testing.T) {
	specs := llama31_8B()
	if len(specs) != 291 {
		t.Fatalf("%d tensors, want 291", len(specs))
	}
	dir := t.TempDir()
	shards := splitEvenly(specs, 4)
	weightstest.WriteSharded(t, dir, shards)
	s, err := ReadFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	var params int64
	for _, x := range s.Tensors {
		params += x.Elements()
	}
	// 8,030,261,248 parameters: the count Hugging Face shows for meta-llama/Llama-3.1-8B.
	if len(s.Names) != 291 || len(s.Files) != 4 || params != 8_030_261_248 || s.Warnings != nil {
		t.Errorf("%d tensors in %d files, %d parameters, warnings %q", len(s.Names), len(s.Files), params, s.Warnings)
	}
	for i, sh := range shards {
		t.Logf("shard %d: %d tensors", i+1, len(sh))
	}
}

// BenchmarkReadFolderLlama31_8B reads the headers of a 4-shard Llama-3.1-8B folder (16 GB of sparse
// files). Target: under 20 ms and 20 MB per read.
func BenchmarkReadFolderLlama31_8B(b *testing.B) {
	dir := b.TempDir()
	weightstest.WriteSharded(b, dir, splitEvenly(llama31_8B(), 4))
	b.ReportAllocs()
	for b.Loop() {
		s, err := ReadFolder(dir)
		if err != nil {
			b.Fatal(err)
		}
		if len(s.Names) != 291 {
			b.Fatalf("%d tensors", len(s.Names))
		}
	}
}
