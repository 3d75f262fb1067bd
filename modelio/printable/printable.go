// Package printable makes strings read from a model folder (tensor names, file names, config.json
// values, tokens) safe to print on a terminal or a label: a name holding ESC[2J and a newline would
// otherwise clear the screen and forge a second "layerscope:" line.
package printable

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// String returns s with every character that is not printable escaped as Go writes it in a string
// literal (\n, \x1b, \u202e, and \x.. for each byte of invalid UTF-8); printable text, spaces
// included, is returned unchanged, and the result holds no line break or control character.
func String(s string) string {
	if isPrintable(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(s[i])>>4, 16))
			b.WriteString(strconv.FormatUint(uint64(s[i])&15, 16))
		case r == ' ' || unicode.IsPrint(r):
			b.WriteString(s[i : i+n])
		default:
			q := strconv.QuoteRune(r) // '\x1b'
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

// isPrintable reports whether s needs no escaping.
func isPrintable(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || (r != ' ' && !unicode.IsPrint(r)) {
			return false
		}
	}
	return true
}

// Lines is String for text of several lines (a module tree, a facts table): each line is escaped and
// the line breaks between them kept.
func Lines(s string) string {
	if isPrintable(strings.ReplaceAll(s, "\n", "")) {
		return s
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = String(l)
	}
	return strings.Join(lines, "\n")
}
