package tokenizer

import "unicode/utf8"

// bpeModel is tokenizer.json's "BPE" model: a vocabulary and a ranked list of
// merges, applied to each pre-tokenized word.
type bpeModel struct {
	vocab  map[string]int
	single map[rune]int32   // one-character tokens, the starting symbols
	merges map[uint64]merge // (left id, right id) → rank and merged id

	unk          int // id of unk_token, -1 when there is none
	fuseUnk      bool
	byteFallback bool
	byteIDs      [256]int32 // id of "<0xNN>", -1 when missing
	ignoreMerges bool       // a word that is itself in the vocab is one token
	prefix       string     // continuing_subword_prefix, put on every symbol but the first
	suffix       string     // end_of_word_suffix, put on the last symbol
}

type merge struct {
	rank int32 // position in the merges list: lower merges first
	id   int32 // id of the merged token
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// symbol is one token of a word while merging: a doubly linked list in a
// slice, where a merge keeps the left symbol and unlinks the right one.
type symbol struct {
	id         int32
	prev, next int32 // -1 at the ends
	fixed      bool  // a byte-fallback or unknown piece: never merged
	dead       bool
}

// candidate is a pair that a merge rule applies to; pos is the index of its
// left symbol, which is also the tie-break (leftmost first), as in the Rust
// tokenizers and transformers.js.
type candidate struct {
	rank, pos   int32
	left, right int32
}

// bpeBuffer holds the scratch slices of one Encode call.
type bpeBuffer struct {
	syms []symbol
	heap []candidate
}

// encodeWord appends the ids of one pre-tokenized word to out.
func (m *bpeModel) encodeWord(w string, out []int, buf *bpeBuffer) []int {
	if w == "" {
		return out
	}
	if m.ignoreMerges {
		if id, ok := m.vocab[w]; ok {
			return append(out, id)
		}
	}
	syms := m.symbols(w, buf.syms[:0])
	buf.syms = syms
	h := buf.heap[:0]
	for i := 0; i+1 < len(syms); i++ {
		h = m.pushPair(h, syms, int32(i))
	}
	for len(h) > 0 {
		c := h[0]
		h = popCandidate(h)
		l := &syms[c.pos]
		if l.dead || l.next < 0 || l.id != c.left || syms[l.next].id != c.right {
			continue // stale: one side has merged since this pair was queued
		}
		r := &syms[l.next]
		l.id = m.merges[pairKey(c.left, c.right)].id
		r.dead = true
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = c.pos
		}
		if l.prev >= 0 {
			h = m.pushPair(h, syms, l.prev)
		}
		if l.next >= 0 {
			h = m.pushPair(h, syms, c.pos)
		}
	}
	buf.heap = h
	for i := int32(0); i >= 0 && int(i) < len(syms); i = syms[i].next {
		if syms[i].id >= 0 {
			out = append(out, int(syms[i].id))
		}
	}
	return out
}

// pushPair queues the pair starting at symbol i when a merge rule covers it.
func (m *bpeModel) pushPair(h []candidate, syms []symbol, i int32) []candidate {
	l := syms[i]
	if l.fixed || l.next < 0 || syms[l.next].fixed {
		return h
	}
	r := syms[l.next]
	mg, ok := m.merges[pairKey(l.id, r.id)]
	if !ok {
		return h
	}
	return pushCandidate(h, candidate{rank: mg.rank, pos: i, left: l.id, right: r.id})
}

// symbols splits a word into its starting symbols: one per character, with
// the subword prefix and word suffix attached; a character missing from the
// vocabulary becomes its <0xNN> byte tokens (byte_fallback) or the unknown
// token, and takes no part in merges, as in transformers.js, which looks such
// pieces up only after merging.
func (m *bpeModel) symbols(w string, syms []symbol) []symbol {
	add := func(id int32, fixed bool) {
		n := int32(len(syms))
		if n > 0 {
			syms[n-1].next = n
		}
		syms = append(syms, symbol{id: id, prev: n - 1, next: -1, fixed: fixed})
	}
	for i, r := range w {
		size := utf8.RuneLen(r)
		invalid := false
		if r == utf8.RuneError {
			_, size = utf8.DecodeRuneInString(w[i:])
			invalid = size == 1 // a stray byte, not the character U+FFFD
		}
		id, ok := int32(0), false
		switch {
		case invalid:
		case m.prefix == "" && m.suffix == "":
			id, ok = m.single[r]
		default:
			s := w[i : i+size]
			if i > 0 {
				s = m.prefix + s
			}
			if i+size == len(w) {
				s += m.suffix
			}
			var v int
			v, ok = m.vocab[s]
			id = int32(v)
		}
		if ok {
			add(id, false)
			continue
		}
		if m.byteFallback && m.hasBytes(w[i:i+size]) {
			for j := i; j < i+size; j++ {
				add(m.byteIDs[w[j]], true)
			}
			continue
		}
		// Unknown, and dropped when the vocabulary has no unk token (a
		// byte-level vocabulary covers every byte, so this does not happen).
		add(int32(m.unk), true)
	}
	return syms
}

// hasBytes reports whether every byte of s has a <0xNN> token; the reference
// falls back to the unknown token otherwise.
func (m *bpeModel) hasBytes(s string) bool {
	for i := 0; i < len(s); i++ {
		if m.byteIDs[s[i]] < 0 {
			return false
		}
	}
	return true
}

func lessCandidate(a, b candidate) bool {
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.pos < b.pos
}

// pushCandidate and popCandidate keep h a binary min-heap; written out
// because container/heap's interface calls dominate short words.
func pushCandidate(h []candidate, c candidate) []candidate {
	h = append(h, c)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !lessCandidate(h[i], h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	return h
}

func popCandidate(h []candidate) []candidate {
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		s := l
		if r := l + 1; r < n && lessCandidate(h[r], h[l]) {
			s = r
		}
		if !lessCandidate(h[s], h[i]) {
			break
		}
		h[i], h[s] = h[s], h[i]
		i = s
	}
	return h
}
