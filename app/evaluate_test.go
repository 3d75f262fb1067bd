package app

import (
	"context"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/compute"
)

// fixedEval answers every evaluation at once with perplexity 12.5 on the job's samples × tokens, and
// 20 for a pruning.
type fixedEval struct{ fakeEngine }

func (*fixedEval) Evaluate(ctx context.Context, j job, prune *compute.Pruning, progress func(done, total int, msg string)) (*compute.Evaluation, error) {
	ppl := 12.5
	if prune != nil {
		ppl = 20
	}
	return &compute.Evaluation{Tokens: j.samples * j.seqLen, Perplexity: ppl, Device: "CPU", DType: "fp32"}, nil
}

// A perplexity shown stays true to the settings: once the samples change it says it is of the
// settings before, and set back, it is plain again.
func TestEvaluateFollowsSettings(t *testing.T) {
	w := newTestWindow(t)
	openAndWait(w, modelWithTokenizer(t, "tiny", 2))
	ip := w.importance
	ip.eng = &fixedEval{}
	ip.samples.SetText("2")
	ip.seqLen.SetText("8")
	e := ip.eval
	e.start()
	e.runs.Wait()
	const stale = "settings changed since"
	if r := e.result.Text; !strings.Contains(r, "Perplexity on 16 tokens (CPU, fp32): tiny 12.5") || strings.Contains(r, stale) {
		t.Fatalf("after Evaluate: %q", r)
	}
	ip.samples.SetText("3")
	if r := e.result.Text; !strings.Contains(r, "tiny 12.5") || !strings.Contains(r, stale) {
		t.Errorf("after the samples changed: %q", r)
	}
	ip.samples.SetText("2")
	if r := e.result.Text; strings.Contains(r, stale) {
		t.Errorf("with the settings set back: %q", r)
	}
	ip.samples.SetText("3")
	e.start()
	e.runs.Wait()
	if r := e.result.Text; !strings.Contains(r, "Perplexity on 24 tokens") || strings.Contains(r, stale) {
		t.Errorf("evaluated again: %q", r)
	}
}
