package tokenizer

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dlclark/regexp2"
	"github.com/layerscope/layerscope/modelio/printable"
	"golang.org/x/text/unicode/norm"
)

// normalizer rewrites a section of text before pre-tokenization.
type normalizer interface {
	normalize(s string) string
}

// unicodeNorm is NFC, NFD, NFKC or NFKD (Qwen2/3 ask for NFC).
type unicodeNorm struct{ form norm.Form }

func (n unicodeNorm) normalize(s string) string { return n.form.String(s) }

// replaceNorm is "Replace": Gemma and Llama 2 turn every " " into "▁".
type replaceNorm struct{ pat pattern }

func (n replaceNorm) normalize(s string) string { return n.pat.replaceAll(s) }

// prependNorm is "Prepend": Llama 2 puts "▁" before each section.
type prependNorm struct{ prefix string }

func (n prependNorm) normalize(s string) string {
	if s == "" {
		return s
	}
	return n.prefix + s
}

// stripNorm is "Strip": whitespace off the left and/or right.
type stripNorm struct{ left, right bool }

func (n stripNorm) normalize(s string) string {
	if n.left {
		s = strings.TrimLeftFunc(s, isJSSpace)
	}
	if n.right {
		s = strings.TrimRightFunc(s, isJSSpace)
	}
	return s
}

type lowercaseNorm struct{}

func (lowercaseNorm) normalize(s string) string { return strings.ToLower(s) }

type sequenceNorm []normalizer

func (q sequenceNorm) normalize(s string) string {
	for _, n := range q {
		s = n.normalize(s)
	}
	return s
}

// pattern is a tokenizer.json pattern: {"String": "..."} or {"Regex": "..."}.
type pattern struct {
	literal string          // when re is nil
	re      *regexp2.Regexp // a Regex pattern, with matchTimeout set
	where   string          // where the file declares it ("pre_tokenizer.pretokenizers[0]"), for errors
	with    string          // replacement, for Replace
}

// matchTimeout bounds one match of a tokenizer.json regex. Real patterns match a word in
// microseconds; a pattern such as (a+)+$ backtracks for days on 40 characters, and a tokenizer file
// from a stranger must not hang Layerscope (Hugging Face's Oniguruma engine stops a runaway match the
// same way, with a retry limit).
const matchTimeout = time.Second

// timeoutError is what a pattern's match panics with when it runs past matchTimeout; Encode and
// Decode recover it and return it, so the pipeline's stages need no error path of their own.
type timeoutError struct {
	where, expr string
}

func (e timeoutError) Error() string {
	return fmt.Sprintf("%s: the regex %s ran past the time limit of %v on one match (catastrophic backtracking?)",
		e.where, strconv.Quote(e.expr), matchTimeout)
}

// fail panics with the pattern's timeoutError when err is one (regexp2's only match error).
func (p pattern) fail(err error) {
	if err != nil {
		panic(timeoutError{where: p.where, expr: p.re.String()})
	}
}

// recoverTimeout turns a pattern's timeout panic into *err, naming the file the tokenizer was
// loaded from; any other panic goes on.
func (t *Tokenizer) recoverTimeout(err *error) {
	if r := recover(); r != nil {
		te, ok := r.(timeoutError)
		if !ok {
			panic(r)
		}
		*err = fmt.Errorf("%s: %w", printable.String(t.path), te)
	}
}

// replaceAll replaces every match with p.with taken literally (the Rust
// tokenizers do not expand $1 in the content).
func (p pattern) replaceAll(s string) string {
	if p.re == nil {
		if p.literal == "" {
			return s
		}
		return strings.ReplaceAll(s, p.literal, p.with)
	}
	out, err := p.re.ReplaceFunc(s, func(regexp2.Match) string { return p.with }, -1, -1)
	p.fail(err)
	return out
}

// matches returns the byte spans [start, end) of the non-empty matches of p
// in s, left to right.
func (p pattern) matches(s string) [][2]int {
	var out [][2]int
	if p.re == nil {
		if p.literal == "" {
			return nil
		}
		for i := 0; ; {
			j := strings.Index(s[i:], p.literal)
			if j < 0 {
				return out
			}
			out = append(out, [2]int{i + j, i + j + len(p.literal)})
			i += j + len(p.literal)
		}
	}
	// regexp2 works on runes and reports rune indexes; map them to bytes.
	runeStarts := runeOffsets(s)
	m, err := p.re.FindStringMatch(s)
	p.fail(err)
	for m != nil {
		if m.Length > 0 {
			out = append(out, [2]int{runeStarts[m.Index], runeStarts[m.Index+m.Length]})
		}
		m, err = p.re.FindNextMatch(m)
		p.fail(err)
	}
	return out
}

// runeOffsets returns the byte offset of each rune of s, plus len(s).
func runeOffsets(s string) []int {
	offs := make([]int, 0, len(s)+1)
	for i := range s {
		offs = append(offs, i)
	}
	return append(offs, len(s))
}
