package compute

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// BenchmarkBISmolLM2 measures BI over 8×128 tokens of a SmolLM2-135M-shaped model with random BF16
// weights on the pure Go backend, and the same backend's matrix-product peak (a large float32
// matmul: OpenBLAS through the patched simplego in a cgo build, simplego's own kernel otherwise), so
// the ratio says how much of the CPU the forward pass uses. It also reports the peak
// resident memory against the weights' bytes (the file, 270 MB).
//
//	go test ./compute -run '^$' -bench BISmolLM2 -benchtime 3x
func BenchmarkBISmolLM2(b *testing.B) {
	var cfg map[string]any
	data, err := os.ReadFile("../modelio/gallery/configs/HuggingFaceTB__SmolLM2-135M.config.json")
	if err != nil {
		b.Fatal(err)
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		b.Fatal(err)
	}
	m := openRandom(b, cfg, "BF16", nil, nil)
	h := m.Spec.Hyper
	const samples, seq = 8, 128
	tokens := randomTokens(samples, seq, h.Vocab)

	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := Run(context.Background(), m, tokens, Options{Backend: BackendCPU, Metrics: []Metric{MetricBI}}); err != nil {
			b.Fatal(err)
		}
	}
	perRun := time.Since(start).Seconds() / float64(b.N)
	b.StopTimer()
	hwm := peakRSS() // before the peak measurement, whose 2048² matrices are not the run's
	peak := matmulPeak(b)
	flops := forwardFLOPs(h.Layers, h.Hidden, h.Heads*h.HeadDim, h.KVHeads*h.HeadDim, h.Intermediate, h.Vocab, seq) * samples * seq
	gflops := flops / perRun / 1e9
	b.ReportMetric(samples*seq/perRun, "tokens/s")
	b.ReportMetric(gflops, "GFLOP/s")
	b.ReportMetric(peak, "peak-GFLOP/s")
	b.ReportMetric(gflops/peak, "of-peak")
	var weightBytes int64
	for _, t := range m.Weights.Tensors {
		weightBytes += t.Size
	}
	if hwm > 0 {
		b.ReportMetric(float64(hwm)/1e6, "peak-RSS-MB")
		b.ReportMetric(float64(hwm)/float64(weightBytes), "RSS/weights")
	}
}

// peakRSS is the process's peak resident memory in bytes (Linux VmHWM), 0 where unknown.
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &kb)
			return kb * 1024
		}
	}
	return 0
}

// forwardFLOPs counts the multiply-adds (×2) of one token's pass through a Llama-shaped model as the
// engine computes it: the projections, the full seq×seq attention products (the causal mask does not
// save work), and the LM head.
func forwardFLOPs(layers, hidden, q, kv, inter, vocab, seq int) float64 {
	proj := hidden*(q+2*kv) + q*hidden + 3*hidden*inter
	attn := 2 * seq * q
	return 2 * (float64(layers)*float64(proj+attn) + float64(hidden*vocab))
}

// matmulPeak measures the pure Go backend's float32 matrix product in GFLOP/s on a 2048² × 2048²
// product, the best case of its kernels (OpenBLAS's in a cgo build).
func matmulPeak(b *testing.B) float64 {
	const n = 2048
	be, err := newSimpleGo()
	if err != nil {
		b.Fatal(err)
	}
	defer be.Finalize()
	g := NewGraph(be, "peak")
	x := Parameter(g, "x", shapes.Make(dtypes.Float32, n, n))
	y := Parameter(g, "y", shapes.Make(dtypes.Float32, n, n))
	g.Compile(DotGeneral(x, []int{1}, nil, y, []int{1}, nil))
	ones := make([]float32, n*n)
	for i := range ones {
		ones[i] = 1
	}
	buf := func() backends.Buffer {
		bb, err := be.BufferFromFlatData(0, ones, shapes.Make(dtypes.Float32, n, n))
		if err != nil {
			b.Fatal(err)
		}
		return bb
	}
	xb, yb := buf(), buf()
	best := 0.0
	for i := 0; i < 3; i++ {
		start := time.Now()
		out := g.RunWithBuffers([]backends.Buffer{xb, yb}, []bool{false, false}, 0)
		out[0].FinalizeAll()
		best = max(best, 2*n*n*n/time.Since(start).Seconds()/1e9)
	}
	return best
}

// BenchmarkEmbedHost measures the host side of the token embedding for 64 × 512 tokens of a
// 2048-wide model (Llama-3.2-1B's width, a 32k vocabulary of BF16 rows) into fp16, as a GPU run
// uploads it: on one core and on all of them.
//
//	go test ./compute -run '^$' -bench EmbedHost -count 5
func BenchmarkEmbedHost(b *testing.B) {
	cfg := tinyLlamaConfig()
	cfg["hidden_size"], cfg["intermediate_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"] = 2048, 64, 16, 8
	cfg["num_hidden_layers"], cfg["vocab_size"], cfg["max_position_embeddings"] = 1, 32000, 512
	m := openRandom(b, cfg, "BF16", nil, nil)
	p, st, in, err := setup(m, randomTokens(64, 512, 32000))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	e := &engine{p: p, st: st, in: in, dt: dtypes.Float16}
	for _, procs := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("cores=%d", procs), func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			for b.Loop() {
				if _, err := e.embedHost(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(in.batch*in.seq)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
