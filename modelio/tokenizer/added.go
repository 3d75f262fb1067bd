package tokenizer

import "strings"

// addedToken is one entry of tokenizer.json's added_tokens.
type addedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// addedMatcher cuts added tokens out of raw text before normalization, so
// that "<|im_start|>" is one token and never reaches the BPE.
type addedMatcher struct {
	root  trieNode
	first [256]bool // bytes an added token can start with
	ids   map[int]addedToken
}

type trieNode struct {
	next map[byte]*trieNode
	tok  int // index into toks, -1 when no token ends here
}

// section is a piece of the input: an added token (id >= 0) or text to
// tokenize (id < 0). start is its byte offset in the input.
type section struct {
	text  string
	id    int
	start int
}

func newAddedMatcher(toks []addedToken) *addedMatcher {
	m := &addedMatcher{root: trieNode{tok: -1}, ids: make(map[int]addedToken, len(toks))}
	for _, tk := range toks {
		m.ids[tk.ID] = tk
		if tk.Content == "" {
			continue
		}
		n := &m.root
		for i := 0; i < len(tk.Content); i++ {
			c := tk.Content[i]
			if n.next == nil {
				n.next = map[byte]*trieNode{}
			}
			child := n.next[c]
			if child == nil {
				child = &trieNode{tok: -1}
				n.next[c] = child
			}
			n = child
		}
		n.tok = tk.ID
		m.first[tk.Content[0]] = true
	}
	return m
}

// split cuts text at added tokens, leftmost-longest as transformers.js's
// DictionarySplitter and the Rust aho-corasick matcher do, then applies the
// tokens' lstrip/rstrip to the neighbouring text.
func (m *addedMatcher) split(text string) []section {
	var out []section
	last := 0
	for i := 0; i < len(text); {
		if !m.first[text[i]] {
			i++
			continue
		}
		id, end := -1, 0
		n := &m.root
		for j := i; j < len(text) && n.next != nil; j++ {
			n = n.next[text[j]]
			if n == nil {
				break
			}
			if n.tok >= 0 {
				id, end = n.tok, j+1
			}
		}
		if id < 0 {
			i++
			continue
		}
		if i > last {
			out = append(out, section{text: text[last:i], id: -1, start: last})
		}
		out = append(out, section{text: text[i:end], id: id, start: i})
		i, last = end, end
	}
	if last < len(text) || len(out) == 0 {
		out = append(out, section{text: text[last:], id: -1, start: last})
	}
	for i, s := range out {
		if s.id < 0 {
			continue
		}
		tk := m.ids[s.id]
		if tk.LStrip && i > 0 && out[i-1].id < 0 {
			out[i-1].text = strings.TrimRightFunc(out[i-1].text, isJSSpace)
		}
		if tk.RStrip && i+1 < len(out) && out[i+1].id < 0 {
			t := strings.TrimLeftFunc(out[i+1].text, isJSSpace)
			out[i+1].start += len(out[i+1].text) - len(t)
			out[i+1].text = t
		}
	}
	return out
}

// isJSSpace is JavaScript's whitespace (String.prototype.trim and regex \s):
// the Unicode space separators, the ASCII controls \t\n\v\f\r, the line and
// paragraph separators and U+FEFF, but not U+0085.
func isJSSpace(r rune) bool {
	switch {
	case r >= '\t' && r <= '\r', r == ' ', r == 0xa0, r == 0x1680,
		r >= 0x2000 && r <= 0x200a, r == 0x2028, r == 0x2029,
		r == 0x202f, r == 0x205f, r == 0x3000, r == 0xfeff:
		return true
	}
	return false
}

// byteToken writes b as a SentencePiece byte-fallback token, "<0x0A>".
func byteToken(b byte) string {
	const hex = "0123456789ABCDEF"
	return "<0x" + string(hex[b>>4]) + string(hex[b&15]) + ">"
}

// isByteToken reports whether s is a byte-fallback token like "<0x0A>".
func isByteToken(s string) bool {
	if len(s) != 6 || !strings.HasPrefix(s, "<0x") || s[5] != '>' {
		return false
	}
	return isHex(s[3]) && isHex(s[4])
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' || c >= 'a' && c <= 'f'
}
