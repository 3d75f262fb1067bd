package cli_test

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/layerscope/layerscope/cli"
	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/gallery"
	"github.com/layerscope/layerscope/modelio/weights/weightstest"
)

// llama8BFolder writes the config.json of Llama-3.1-8B and its 291 tensors in BF16 over four sparse
// shards with an index: real headers, holes for the 16 GB of data.
func llama8BFolder(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	e, _ := gallery.Find("llama-3.1-8b")
	if err := os.WriteFile(filepath.Join(dir, "config.json"), e.Config(), 0o644); err != nil {
		b.Fatal(err)
	}
	m, err := modelio.Open("llama-3.1-8b")
	if err != nil {
		b.Fatal(err)
	}
	params := m.Spec.Root.Params("")
	shards := make([][]weightstest.Spec, 4)
	weightMap := map[string]string{}
	for i, p := range params {
		s := i * 4 / len(params)
		shards[s] = append(shards[s], weightstest.T(p.Name, "BF16", p.Shape...))
		weightMap[p.Name] = weightstest.ShardName(s+1, 4)
	}
	for s, specs := range shards {
		weightstest.WriteSparse(b, filepath.Join(dir, weightstest.ShardName(s+1, 4)), specs)
	}
	weightstest.WriteIndex(b, dir, weightMap)
	return dir
}

// BenchmarkFactsLlama31_8B is `layerscope facts` end to end on a 4-shard Llama-3.1-8B folder:
// open (config, four headers), describe, compute the facts and print them.
func BenchmarkFactsLlama31_8B(b *testing.B) {
	dir := llama8BFolder(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if status := cli.Main([]string{"facts", dir}, io.Discard, io.Discard, noWindow); status != 0 {
			b.Fatalf("status %d", status)
		}
	}
}

// BenchmarkOpenLlama31_8B is modelio.Open alone on the same folder.
func BenchmarkOpenLlama31_8B(b *testing.B) {
	dir := llama8BFolder(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := modelio.Open(dir); err != nil {
			b.Fatal(err)
		}
	}
}
