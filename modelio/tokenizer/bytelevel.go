package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// The GPT-2 byte-to-character table (bytes_to_unicode): printable Latin-1
// bytes stand for themselves, the other 68 bytes (controls, space, 0x7F-0xA0,
// 0xAD) are moved to U+0100 upwards, so a space is "Ġ" and "\n" is "Ċ".
var (
	byteChar [256]rune
	charByte = map[rune]byte{}
)

func init() {
	n := 0
	for b := 0; b < 256; b++ {
		if b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE && b <= 0xFF {
			byteChar[b] = rune(b)
		} else {
			byteChar[b] = rune(256 + n)
			n++
		}
		charByte[byteChar[b]] = byte(b)
	}
}

// byteLevelEncode writes each byte of s as its stand-in character.
func byteLevelEncode(s string) string {
	var sb strings.Builder
	sb.Grow(2 * len(s))
	for i := 0; i < len(s); i++ {
		sb.WriteRune(byteChar[s[i]])
	}
	return sb.String()
}

// byteLevelDecode maps stand-in characters back to their bytes; any other
// character (an added token's text) is kept as its own UTF-8 bytes.
func byteLevelDecode(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if b, ok := charByte[r]; ok {
			out = append(out, b)
		} else {
			out = utf8.AppendRune(out, r)
		}
	}
	return out
}
