// Package calibration provides the text that importance runs feed through a model, and cuts it into
// samples of token ids. The built-in text is the Declaration of Independence (1776, public domain):
// ordinary English prose of about 1,700 tokens, enough for the default 8 samples of 128 tokens.
package calibration

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/layerscope/layerscope/modelio/tokenizer"
)

//go:embed declaration.txt
var declaration string

// Default returns the built-in calibration text.
func Default() string { return declaration }

// Defaults for a run: what ShortGPT-style BI needs to rank blocks stably on small models.
const (
	DefaultSamples = 8
	DefaultSeqLen  = 128
)

// Limits on a run's shape, checked before anything is sized from them (--samples or --seq-len near
// 2^62 once made "internal error: makeslice"). Published importance studies use 8-1,024 samples of at
// most 2,048-8,192 tokens; the limits leave room for long-context models.
const (
	MaxSamples = 1 << 16
	MaxSeqLen  = 1 << 17
)

// Cut encodes text and cuts it into samples of exactly seqLen ids, each starting with the special
// tokens the tokenizer puts before a text (BOS), as the model sees a document's start.
func Cut(tok *tokenizer.Tokenizer, text string, samples, seqLen int) ([][]int, error) {
	if strings.TrimSpace(text) == "" {
		return nil, fmt.Errorf("the calibration text is empty")
	}
	if samples < 1 || seqLen < 2 {
		return nil, fmt.Errorf("need at least 1 sample of at least 2 tokens, got %d of %d", samples, seqLen)
	}
	if samples > MaxSamples || seqLen > MaxSeqLen {
		return nil, fmt.Errorf("%d samples of %d tokens: at most %d samples of %d tokens", samples, seqLen, MaxSamples, MaxSeqLen)
	}
	prefix := tok.SpecialPrefix()
	body := seqLen - len(prefix)
	if body < 1 {
		return nil, fmt.Errorf("--seq-len %d leaves no room after the %d special tokens", seqLen, len(prefix))
	}
	ids, err := tok.Encode(text, false)
	if err != nil {
		return nil, err
	}
	if need := samples * body; len(ids) < need {
		return nil, fmt.Errorf("the calibration text gives %d tokens, and %d samples of %d need %d: give a longer text or fewer samples",
			len(ids), samples, seqLen, need+samples*len(prefix))
	}
	out := make([][]int, samples)
	for i := range out {
		s := make([]int, 0, seqLen)
		s = append(s, prefix...)
		out[i] = append(s, ids[i*body:(i+1)*body]...)
	}
	return out, nil
}
