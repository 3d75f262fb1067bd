package tokenizer

import (
	"strconv"
	"strings"
)

// decoder turns token strings back into text, one step of tokenizer.json's
// "decoder" chain: each step maps a list of strings to a new list, and the
// last list is joined.
type decoder interface {
	decode(toks []string, t *Tokenizer) []string
}

type sequenceDec []decoder

func (q sequenceDec) decode(toks []string, t *Tokenizer) []string {
	for _, d := range q {
		toks = d.decode(toks, t)
	}
	return toks
}

// byteLevelDec is "ByteLevel": stand-in characters back to bytes, then
// UTF-8. Added tokens are passed through as written and not mixed into the
// byte runs, as transformers does (huggingface/transformers#1133).
type byteLevelDec struct{}

func (byteLevelDec) decode(toks []string, t *Tokenizer) []string {
	var out []string
	var run []byte
	flush := func() {
		if len(run) > 0 {
			out = append(out, strings.ToValidUTF8(string(run), "\uFFFD"))
			run = run[:0]
		}
	}
	for _, s := range toks {
		if t.addedText[s] {
			flush()
			out = append(out, s)
			continue
		}
		run = append(run, byteLevelDecode(s)...)
	}
	flush()
	return out
}

// replaceDec is "Replace": Gemma and Llama 2 turn "▁" back into " ".
type replaceDec struct{ pat pattern }

func (d replaceDec) decode(toks []string, _ *Tokenizer) []string {
	for i, s := range toks {
		toks[i] = d.pat.replaceAll(s)
	}
	return toks
}

// byteFallbackDec is "ByteFallback": runs of <0xNN> tokens become the UTF-8
// text their bytes spell.
type byteFallbackDec struct{}

func (byteFallbackDec) decode(toks []string, _ *Tokenizer) []string {
	var out []string
	var run []byte
	flush := func() {
		if len(run) > 0 {
			out = append(out, strings.ToValidUTF8(string(run), "\uFFFD"))
			run = run[:0]
		}
	}
	for _, s := range toks {
		if isByteToken(s) {
			b, _ := strconv.ParseUint(s[3:5], 16, 8)
			run = append(run, byte(b))
			continue
		}
		flush()
		out = append(out, s)
	}
	flush()
	return out
}

// fuseDec is "Fuse": everything into one string.
type fuseDec struct{}

func (fuseDec) decode(toks []string, _ *Tokenizer) []string {
	return []string{strings.Join(toks, "")}
}

// stripDec is "Strip": up to start copies of content off the front of each
// token and up to stop off the end (Llama 2 drops the "▁" it prepended).
type stripDec struct {
	content     string
	start, stop int
}

func (d stripDec) decode(toks []string, _ *Tokenizer) []string {
	if d.content == "" {
		return toks
	}
	for i, s := range toks {
		for n := 0; n < d.start && strings.HasPrefix(s, d.content); n++ {
			s = s[len(d.content):]
		}
		for n := 0; n < d.stop && strings.HasSuffix(s, d.content); n++ {
			s = s[:len(s)-len(d.content)]
		}
		toks[i] = s
	}
	return toks
}

// metaspaceDec is "Metaspace": "▁" back to " ", and the space that the
// pre-tokenizer put in front of the first token dropped again.
type metaspaceDec struct {
	replacement string
	stripFirst  bool
}

func (d metaspaceDec) decode(toks []string, _ *Tokenizer) []string {
	for i, s := range toks {
		s = strings.ReplaceAll(s, d.replacement, " ")
		if i == 0 && d.stripFirst {
			s = strings.TrimPrefix(s, " ")
		}
		toks[i] = s
	}
	return toks
}
