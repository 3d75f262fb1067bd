package compute

import (
	"context"
	"math"
	"testing"
)

// TestQueryChunksChangeNothing runs the same model and tokens with the attention taken at once and
// in query chunks of several sizes (one that divides the sequence, one that does not): BI, the NLL and
// the angular distances agree to float32 rounding, as the masked keys a chunk leaves out weigh 0.
func TestQueryChunksChangeNothing(t *testing.T) {
	m := openRandom(t, tinyLlamaConfig(), "F32", nil, nil)
	tokens := randomTokens(3, 24, 64)
	tokens[1] = tokens[1][:17] // padding in a chunk
	run := func(chunk int) *Result {
		defer func(old int) { queryChunkForTest = old }(queryChunkForTest)
		queryChunkForTest = chunk
		r, err := Run(context.Background(), m, tokens, Options{Backend: BackendCPU, Metrics: []Metric{MetricBI, MetricAngular}})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	want := run(0)
	close := func(what string, chunk int, got, want []float64) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("chunk %d: %d %s scores, at once %d", chunk, len(got), what, len(want))
		}
		for j := range want {
			if d := math.Abs(got[j] - want[j]); d > 1e-6 {
				t.Errorf("chunk %d: %s[%d] = %v, at once %v", chunk, what, j, got[j], want[j])
			}
		}
	}
	for _, chunk := range []int{8, 5, 1} {
		got := run(chunk)
		close("nll", chunk, []float64{got.NLL}, []float64{want.NLL})
		close("bi", chunk, got.BI, want.BI)
		close("angular n=1", chunk, got.Angular[1], want.Angular[1])
	}
}

// TestHostHeadReductionMatchesGraph compares the NLL the host's reduction of the head's logits gives
// with the head executable's own reduction, over several vocabulary slices (the last one padded): the
// same float32 operations in the same order, so the same NLL to the bit.
func TestHostHeadReductionMatchesGraph(t *testing.T) {
	defer func(old int) { vocabSliceForTest = old }(vocabSliceForTest)
	vocabSliceForTest = 24 // 64 = 24 + 24 + 16
	m := openRandom(t, tinyLlamaConfig(), "F32", nil, nil)
	tokens := randomTokens(3, 20, 64)
	tokens[2] = tokens[2][:9]
	run := func(inGraph bool) float64 {
		defer func(old bool) { graphHeadForTest = old }(graphHeadForTest)
		graphHeadForTest = inGraph
		r, err := Run(context.Background(), m, tokens, Options{Backend: BackendCPU, Metrics: []Metric{MetricBI}})
		if err != nil {
			t.Fatal(err)
		}
		return r.NLL
	}
	if host, graph := run(false), run(true); host != graph || math.IsNaN(host) {
		t.Errorf("NLL reduced on the host %v, in the head executable %v", host, graph)
	}
}
