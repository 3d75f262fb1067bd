package compute

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/layerscope/layerscope/modelio"
)

// The GPU checks run only where a CUDA PJRT plugin is found (see plugins.go); elsewhere they skip.
//
//	go test ./compute -run GPU -v
//	LAYERSCOPE_BENCH_MODEL=/path/to/model go test ./compute -run '^$' -bench BIGPU -benchtime 3x

func gpuOrSkip(t testing.TB) {
	if _, err := candidates(BackendGPU); err != nil {
		t.Skip(err)
	}
}

// On the GPU the fixtures agree with PyTorch: fp32 to 1e-4 on the block outputs, and BI in fp16 and
// bf16 to 2e-2 of PyTorch's own fp16 and bf16 runs.
func TestFixturesGPU(t *testing.T) {
	gpuOrSkip(t)
	for _, family := range fixtureFamilies {
		t.Run(family, func(t *testing.T) {
			f := loadFixture(t, family)
			for _, tc := range []struct {
				dtype string
				want  []float64
				tol   float64
			}{{FP32, f.expected.BI, 1e-4}, {FP16, f.expected.BIfp16, 2e-2}, {BF16, f.expected.BIbf16, 2e-2}} {
				res, err := Run(context.Background(), f.model, f.tokens, Options{Backend: BackendGPU, DType: tc.dtype, Metrics: AllMetrics})
				if err != nil {
					t.Fatalf("%s: %v", tc.dtype, err)
				}
				d := maxAbsDiff(res.BI, tc.want)
				if d > tc.tol {
					t.Errorf("%s: BI %v, PyTorch %v: differ by %.2e", tc.dtype, res.BI, tc.want, d)
				}
				t.Logf("%s %s on %s: BI differs by %.2e, NLL %.6f (PyTorch fp32 %.6f), notes %q",
					family, res.DType, res.Device, d, res.NLL, f.expected.NLL, res.Notes)
			}
		})
	}
}

// BenchmarkBIGPU scores a model folder named by $LAYERSCOPE_BENCH_MODEL on the GPU in fp16 over
// 64×512 random tokens ($LAYERSCOPE_BENCH_SAMPLES and _SEQ change that) and reports tokens/s. The
// first run includes compiling the block and head executables; later runs reuse nothing (each Run
// opens its backend), so -benchtime 3x shows the spread.
func BenchmarkBIGPU(b *testing.B) {
	dir := os.Getenv("LAYERSCOPE_BENCH_MODEL")
	if dir == "" {
		b.Skip("LAYERSCOPE_BENCH_MODEL is not set")
	}
	gpuOrSkip(b)
	m, err := modelio.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	samples, seq := envInt("LAYERSCOPE_BENCH_SAMPLES", 64), envInt("LAYERSCOPE_BENCH_SEQ", 512)
	tokens := randomTokens(samples, seq, m.Spec.Hyper.Vocab)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		res, err := Run(context.Background(), m, tokens, Options{Backend: BackendGPU, Metrics: []Metric{MetricBI}})
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("%s, %s: %.0f tokens/s (%s), notes %q", res.Device, res.DType,
			float64(samples*seq)/time.Since(start).Seconds(), time.Since(start).Round(time.Millisecond), res.Notes)
	}
	b.ReportMetric(float64(samples*seq*b.N)/b.Elapsed().Seconds(), "tokens/s")
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil && v > 0 {
		return v
	}
	return def
}
