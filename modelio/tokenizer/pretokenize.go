package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// word is a piece of a section on its way to the BPE model. atStart marks a
// piece that begins at offset 0 of the input, for Metaspace's "first".
type word struct {
	text    string
	atStart bool
}

// preTokenizer splits (and may rewrite) the words of one section.
type preTokenizer interface {
	preTokenize(ws []word) []word
}

type sequencePre []preTokenizer

func (q sequencePre) preTokenize(ws []word) []word {
	for _, p := range q {
		ws = p.preTokenize(ws)
	}
	return ws
}

// splitBehavior is what happens to the delimiters a Split finds.
type splitBehavior int

const (
	splitRemoved splitBehavior = iota
	splitIsolated
	splitMergedWithPrevious
	splitMergedWithNext
	splitContiguous
)

var splitBehaviors = map[string]splitBehavior{
	"Removed":            splitRemoved,
	"Isolated":           splitIsolated,
	"MergedWithPrevious": splitMergedWithPrevious,
	"MergedWithNext":     splitMergedWithNext,
	"Contiguous":         splitContiguous,
}

// span is a run of a word, either a delimiter (match) or the text between.
type span struct {
	start, end int
	match      bool
}

// splitSpans applies a delimiter behavior to spans that cover a word, with
// the same rules as the Rust tokenizers' NormalizedString::split.
func splitSpans(spans []span, b splitBehavior) [][2]int {
	var out [][2]int
	switch b {
	case splitRemoved:
		for _, s := range spans {
			if !s.match {
				out = append(out, [2]int{s.start, s.end})
			}
		}
	case splitIsolated:
		for _, s := range spans {
			out = append(out, [2]int{s.start, s.end})
		}
	case splitMergedWithPrevious:
		prevMatch := false
		for _, s := range spans {
			if s.match && !prevMatch && len(out) > 0 {
				out[len(out)-1][1] = s.end
			} else {
				out = append(out, [2]int{s.start, s.end})
			}
			prevMatch = s.match
		}
	case splitMergedWithNext:
		prevMatch := false
		for i := len(spans) - 1; i >= 0; i-- {
			s := spans[i]
			if s.match && !prevMatch && len(out) > 0 {
				out[len(out)-1][0] = s.start
			} else {
				out = append(out, [2]int{s.start, s.end})
			}
			prevMatch = s.match
		}
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	case splitContiguous:
		prevMatch := false
		for i, s := range spans {
			if i > 0 && s.match == prevMatch {
				out[len(out)-1][1] = s.end
			} else {
				out = append(out, [2]int{s.start, s.end})
			}
			prevMatch = s.match
		}
	}
	return out
}

// cut splits each word at the delimiters that find reports, with behavior b.
func cut(ws []word, b splitBehavior, invert bool, find func(string) [][2]int) []word {
	var out []word
	for _, w := range ws {
		var spans []span
		last := 0
		for _, m := range find(w.text) {
			if m[0] > last {
				spans = append(spans, span{last, m[0], invert})
			}
			spans = append(spans, span{m[0], m[1], !invert})
			last = m[1]
		}
		if last < len(w.text) {
			spans = append(spans, span{last, len(w.text), invert})
		}
		for _, p := range splitSpans(spans, b) {
			if p[1] > p[0] {
				out = append(out, word{text: w.text[p[0]:p[1]], atStart: w.atStart && p[0] == 0})
			}
		}
	}
	return out
}

// splitPre is "Split": the pattern marks delimiters (or, inverted, the
// pieces to keep), and the behavior says where the delimiters go.
type splitPre struct {
	pat      pattern
	behavior splitBehavior
	invert   bool
}

func (p splitPre) preTokenize(ws []word) []word {
	return cut(ws, p.behavior, p.invert, p.pat.matches)
}

// byteLevelPre is "ByteLevel": optionally the GPT-2 split, then each byte
// written as its printable stand-in ("Ġ" for a space), so the BPE never sees
// a space or a control character.
type byteLevelPre struct {
	addPrefixSpace bool
	split          *splitPre // the GPT-2 regex when use_regex is true
}

func (p byteLevelPre) preTokenize(ws []word) []word {
	if p.addPrefixSpace {
		for i, w := range ws {
			if !strings.HasPrefix(w.text, " ") {
				ws[i].text = " " + w.text
			}
		}
	}
	if p.split != nil {
		ws = p.split.preTokenize(ws)
	}
	for i, w := range ws {
		ws[i].text = byteLevelEncode(w.text)
	}
	return ws
}

// metaspacePre is "Metaspace": spaces become "▁", a "▁" is put in front
// (always, or only at the start of the input for prepend_scheme "first"),
// and with split the text is cut before each "▁".
type metaspacePre struct {
	replacement string
	prepend     string // "always", "first" or "never"
	split       bool
}

func (p metaspacePre) preTokenize(ws []word) []word {
	for i, w := range ws {
		s := strings.ReplaceAll(w.text, " ", p.replacement)
		if !strings.HasPrefix(s, p.replacement) && (p.prepend == "always" || p.prepend == "first" && w.atStart) {
			s = p.replacement + s
		}
		ws[i].text = s
	}
	if !p.split {
		return ws
	}
	lit := pattern{literal: p.replacement}
	return cut(ws, splitMergedWithNext, false, lit.matches)
}

// digitsPre is "Digits": ASCII digits apart from the rest, each alone when
// individual_digits is set.
type digitsPre struct{ individual bool }

func (p digitsPre) preTokenize(ws []word) []word {
	b := splitContiguous
	if p.individual {
		b = splitIsolated
	}
	return cut(ws, b, false, func(s string) [][2]int {
		return charMatches(s, func(r rune) bool { return r >= '0' && r <= '9' })
	})
}

// punctuationPre is "Punctuation": each punctuation character is a
// delimiter, placed according to behavior (Isolated by default).
type punctuationPre struct{ behavior splitBehavior }

func (p punctuationPre) preTokenize(ws []word) []word {
	return cut(ws, p.behavior, false, func(s string) [][2]int { return charMatches(s, isBertPunct) })
}

// whitespaceSplitPre is "WhitespaceSplit": words are the runs of non-space.
type whitespaceSplitPre struct{}

func (whitespaceSplitPre) preTokenize(ws []word) []word {
	return cut(ws, splitRemoved, false, func(s string) [][2]int { return charMatches(s, unicode.IsSpace) })
}

// whitespacePre is "Whitespace": the regex \w+|[^\w\s]+, keeping matches.
type whitespacePre struct{}

func (whitespacePre) preTokenize(ws []word) []word {
	return cut(ws, splitRemoved, true, func(s string) [][2]int {
		var out [][2]int
		start, class := 0, 0 // class 1: word chars, 2: other non-space
		for i, r := range s + " " {
			c := 0
			switch {
			case i == len(s) || unicode.IsSpace(r):
			case r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.M, r) || unicode.Is(unicode.Pc, r):
				c = 1
			default:
				c = 2
			}
			if c != class {
				if class != 0 {
					out = append(out, [2]int{start, i})
				}
				start, class = i, c
			}
		}
		return out
	})
}

// charMatches returns one span per character of s for which is holds.
func charMatches(s string, is func(rune) bool) [][2]int {
	var out [][2]int
	for i, r := range s {
		if is(r) {
			_, n := utf8.DecodeRuneInString(s[i:])
			out = append(out, [2]int{i, i + n})
		}
	}
	return out
}

// isBertPunct is the Rust tokenizers' is_punc: ASCII punctuation or a
// Unicode punctuation character.
func isBertPunct(r rune) bool {
	if r >= 33 && r <= 47 || r >= 58 && r <= 64 || r >= 91 && r <= 96 || r >= 123 && r <= 126 {
		return true
	}
	return unicode.IsPunct(r)
}
