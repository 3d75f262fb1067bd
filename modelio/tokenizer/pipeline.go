package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/dlclark/regexp2"
	"golang.org/x/text/unicode/norm"
)

// This file turns the components of tokenizer.json into the normalizer,
// pre-tokenizer, decoder and special-token wrapping of a Tokenizer.

func buildNormalizer(c *component, where string) (normalizer, error) {
	if c == nil {
		return nil, nil
	}
	switch c.Type {
	case "NFC":
		return unicodeNorm{norm.NFC}, nil
	case "NFD":
		return unicodeNorm{norm.NFD}, nil
	case "NFKC":
		return unicodeNorm{norm.NFKC}, nil
	case "NFKD":
		return unicodeNorm{norm.NFKD}, nil
	case "Lowercase":
		return lowercaseNorm{}, nil
	case "Strip":
		return stripNorm{left: c.StripLeft, right: c.StripRight}, nil
	case "Prepend":
		return prependNorm{c.Prepend}, nil
	case "Replace":
		p, err := buildPattern(c, where)
		if err != nil {
			return nil, err
		}
		return replaceNorm{p}, nil
	case "Sequence":
		var q sequenceNorm
		for i, sub := range c.Normalizers {
			n, err := buildNormalizer(sub, fmt.Sprintf("%s.normalizers[%d]", where, i))
			if err != nil {
				return nil, err
			}
			if n != nil {
				q = append(q, n)
			}
		}
		return q, nil
	}
	return nil, fmt.Errorf("%s.type %q is not supported", where, c.Type)
}

// jsRegexFixes are the rewrites transformers.js applies to a Split regex
// before compiling it (its PROBLEMATIC_REGEX_MAP): JavaScript has no (?i:)
// group, so the contractions get explicit case classes.
var jsRegexFixes = strings.NewReplacer(
	`(?i:'s|'t|'re|'ve|'m|'ll|'d)`, `(?:'(?:[sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD]))`,
	`\#`, `#`, `\&`, `&`, `\~`, `~`,
)

// buildPattern compiles c.pattern; c.content, when set, is the replacement.
func buildPattern(c *component, where string) (pattern, error) {
	var p pattern
	if c.Content != nil {
		p.with = *c.Content
	}
	switch {
	case c.Pattern == nil:
		return p, fmt.Errorf("%s.pattern is missing", where)
	case c.Pattern.String != nil:
		p.literal = *c.Pattern.String
	case c.Pattern.Regex != nil:
		re, err := compileRegex(*c.Pattern.Regex)
		if err != nil {
			return p, fmt.Errorf("%s.pattern.Regex: %v", where, err)
		}
		p.re, p.where = re, where
	default:
		return p, fmt.Errorf("%s.pattern must have String or Regex", where)
	}
	return p, nil
}

// compileRegex compiles a tokenizer.json regex with JavaScript's meaning of
// \s and \d, as the reference (transformers.js, flags "gu") runs it.
func compileRegex(expr string) (*regexp2.Regexp, error) {
	re, err := regexp2.Compile(jsRegexFixes.Replace(expr), regexp2.ECMAScript|regexp2.Unicode)
	if err != nil {
		return nil, errors.New(strings.ReplaceAll(err.Error(), "\n", " "))
	}
	re.MatchTimeout = matchTimeout
	return re, nil
}

// gpt2Pattern is the split the ByteLevel pre-tokenizer does with use_regex.
const gpt2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

func buildPreTokenizer(c *component, where string, t *Tokenizer) (preTokenizer, error) {
	if c == nil {
		return nil, nil
	}
	switch c.Type {
	case "Sequence":
		var q sequencePre
		for i, sub := range c.PreTokenizers {
			p, err := buildPreTokenizer(sub, fmt.Sprintf("%s.pretokenizers[%d]", where, i), t)
			if err != nil {
				return nil, err
			}
			if p != nil {
				q = append(q, p)
			}
		}
		return q, nil
	case "Split":
		p, err := buildPattern(c, where)
		if err != nil {
			return nil, err
		}
		b, ok := splitBehaviors[c.Behavior]
		if !ok {
			return nil, fmt.Errorf("%s.behavior %q is not one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous", where, c.Behavior)
		}
		return splitPre{pat: p, behavior: b, invert: c.Invert}, nil
	case "ByteLevel":
		t.byteLevel = true
		p := byteLevelPre{addPrefixSpace: c.AddPrefixSpace == nil || *c.AddPrefixSpace}
		if c.UseRegex == nil || *c.UseRegex {
			re, err := compileRegex(gpt2Pattern)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", where, err)
			}
			p.split = &splitPre{pat: pattern{re: re, where: where}, behavior: splitIsolated}
		}
		return p, nil
	case "Metaspace":
		p := metaspacePre{replacement: c.Replacement, prepend: metaspaceScheme(c), split: c.Split == nil || *c.Split}
		if p.replacement == "" {
			p.replacement = "▁"
		}
		t.spaceMark = p.replacement
		return p, nil
	case "Digits":
		return digitsPre{individual: c.IndividualDigits}, nil
	case "Punctuation":
		b := splitIsolated
		if c.Behavior != "" {
			var ok bool
			if b, ok = splitBehaviors[c.Behavior]; !ok {
				return nil, fmt.Errorf("%s.behavior %q is not a split behavior", where, c.Behavior)
			}
		}
		return punctuationPre{behavior: b}, nil
	case "Whitespace":
		return whitespacePre{}, nil
	case "WhitespaceSplit":
		return whitespaceSplitPre{}, nil
	}
	return nil, fmt.Errorf("%s.type %q is not supported", where, c.Type)
}

// metaspaceScheme reads prepend_scheme, or the older add_prefix_space that
// it replaced (true meant "always").
func metaspaceScheme(c *component) string {
	switch c.PrependScheme {
	case "always", "first", "never":
		return c.PrependScheme
	}
	if c.AddPrefixSpace != nil && !*c.AddPrefixSpace {
		return "never"
	}
	return "always"
}

func buildDecoder(c *component, where string, t *Tokenizer) (decoder, error) {
	if c == nil {
		return nil, nil
	}
	switch c.Type {
	case "Sequence":
		var q sequenceDec
		for i, sub := range c.Decoders {
			d, err := buildDecoder(sub, fmt.Sprintf("%s.decoders[%d]", where, i), t)
			if err != nil {
				return nil, err
			}
			if d != nil {
				q = append(q, d)
			}
		}
		return q, nil
	case "ByteLevel":
		t.byteLevel = true
		return byteLevelDec{}, nil
	case "Replace":
		p, err := buildPattern(c, where)
		if err != nil {
			return nil, err
		}
		if p.re == nil && p.with == " " && t.spaceMark == "" {
			t.spaceMark = p.literal
		}
		return replaceDec{p}, nil
	case "ByteFallback":
		return byteFallbackDec{}, nil
	case "Fuse":
		return fuseDec{}, nil
	case "Strip":
		d := stripDec{start: c.Start, stop: c.Stop}
		if c.Content != nil {
			d.content = *c.Content
		}
		return d, nil
	case "Metaspace":
		d := metaspaceDec{replacement: c.Replacement, stripFirst: metaspaceScheme(c) != "never"}
		if d.replacement == "" {
			d.replacement = "▁"
		}
		if t.spaceMark == "" {
			t.spaceMark = d.replacement
		}
		return d, nil
	}
	return nil, fmt.Errorf("%s.type %q is not supported", where, c.Type)
}

// buildPostProcessor returns the ids the post-processor puts before and after
// a single sequence.
func buildPostProcessor(c *component, where string, t *Tokenizer) (prefix, suffix []int, err error) {
	if c == nil {
		return nil, nil, nil
	}
	switch c.Type {
	case "ByteLevel":
		return nil, nil, nil // only trims offsets
	case "Sequence":
		for i, sub := range c.Processors {
			p, s, err := buildPostProcessor(sub, fmt.Sprintf("%s.processors[%d]", where, i), t)
			if err != nil {
				return nil, nil, err
			}
			// Each processor wraps what the previous ones produced.
			prefix = append(p, prefix...)
			suffix = append(suffix, s...)
		}
		return prefix, suffix, nil
	case "TemplateProcessing":
		seen := false
		for i, item := range c.Single {
			switch {
			case item.Sequence != nil:
				seen = true
			case item.SpecialToken != nil:
				sp, ok := c.SpecialTokens[item.SpecialToken.ID]
				if !ok {
					return nil, nil, fmt.Errorf("%s.single[%d]: special token %q is not in special_tokens", where, i, item.SpecialToken.ID)
				}
				if seen {
					suffix = append(suffix, sp.IDs...)
				} else {
					prefix = append(prefix, sp.IDs...)
				}
			}
		}
		return prefix, suffix, nil
	case "BertProcessing", "RobertaProcessing":
		cls, err := tokenPairID(c.Cls, where+".cls")
		if err != nil {
			return nil, nil, err
		}
		sep, err := tokenPairID(c.Sep, where+".sep")
		if err != nil {
			return nil, nil, err
		}
		return []int{cls}, []int{sep}, nil
	}
	return nil, nil, fmt.Errorf("%s.type %q is not supported", where, c.Type)
}

// tokenPairID reads a ["[CLS]", 101] pair.
func tokenPairID(pair []json.RawMessage, where string) (int, error) {
	var id int
	if len(pair) != 2 || json.Unmarshal(pair[1], &id) != nil {
		return 0, fmt.Errorf("%s must be [token, id]", where)
	}
	return id, nil
}

// bosEOSClasses are the tokenizer classes whose fast tokenizer rebuilds the
// post-processor from add_bos_token/add_eos_token when it loads
// (LlamaTokenizerFast.update_post_processor, copied into
// GemmaTokenizerFast), with these defaults.
var bosEOSClasses = map[string]struct{ bos, eos bool }{
	"LlamaTokenizer": {true, false},
	"GemmaTokenizer": {true, false},
}

// applyConfig lets tokenizer_config.json decide BOS/EOS the way transformers
// does for the Llama and Gemma tokenizer classes; for other classes the
// post-processor of tokenizer.json decides alone.
func (t *Tokenizer) applyConfig(cfg *tokenizerConfig) error {
	def, ok := bosEOSClasses[strings.TrimSuffix(cfg.TokenizerClass, "Fast")]
	if !ok {
		return nil
	}
	addBOS, addEOS := def.bos, def.eos
	if cfg.AddBOSToken != nil {
		addBOS = *cfg.AddBOSToken
	}
	if cfg.AddEOSToken != nil {
		addEOS = *cfg.AddEOSToken
	}
	t.prefix, t.suffix = nil, nil
	if addBOS {
		id, ok := t.vocab[string(cfg.BOSToken)]
		if !ok {
			return fmt.Errorf("tokenizer_config.json asks for add_bos_token but bos_token %q is not in the vocabulary", cfg.BOSToken)
		}
		t.prefix = []int{id}
	}
	if addEOS {
		id, ok := t.vocab[string(cfg.EOSToken)]
		if !ok {
			return fmt.Errorf("tokenizer_config.json asks for add_eos_token but eos_token %q is not in the vocabulary", cfg.EOSToken)
		}
		t.suffix = []int{id}
	}
	return nil
}
