package calibration_test

import (
	"strings"
	"testing"

	"github.com/layerscope/layerscope/compute/calibration"
	"github.com/layerscope/layerscope/modelio/tokenizer"
)

func TestCut(t *testing.T) {
	tok, err := tokenizer.Load("../../modelio/tokenizer/testdata/gemma3") // adds BOS <bos>
	if err != nil {
		t.Fatal(err)
	}
	samples, err := calibration.Cut(tok, calibration.Default(), calibration.DefaultSamples, calibration.DefaultSeqLen)
	if err != nil {
		t.Fatal(err)
	}
	bos := tok.SpecialPrefix()
	if len(samples) != 8 || len(bos) != 1 {
		t.Fatalf("%d samples, prefix %v", len(samples), bos)
	}
	for i, s := range samples {
		if len(s) != 128 || s[0] != bos[0] {
			t.Errorf("sample %d: %d ids, first %d", i, len(s), s[0])
		}
	}
	if samples[0][1] == samples[1][1] && samples[0][2] == samples[1][2] {
		t.Error("samples repeat the same text")
	}
	for _, c := range []struct {
		text            string
		samples, seqLen int
		want            string
	}{
		{"  \n", 8, 128, "the calibration text is empty"},
		{"A short text.", 8, 128, "give a longer text or fewer samples"},
		{"text", 0, 128, "need at least 1 sample"},
		{"text", 1, 1, "need at least 1 sample of at least 2 tokens"},
	} {
		if _, err := calibration.Cut(tok, c.text, c.samples, c.seqLen); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Cut(%q, %d, %d) = %v, want %q", c.text, c.samples, c.seqLen, err, c.want)
		}
	}
}
