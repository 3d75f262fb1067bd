package tokenizer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to Load as tokenizer.json, and encodes and decodes a short text with
// whatever loads. Nothing may panic; an error is one line starting with the file's path; what loads
// must encode to ids the tokenizer knows. The regex time limit keeps a pathological pattern from
// stalling the fuzzer.
//
// make test runs it with: go test -run='^$' -fuzz=FuzzLoad -fuzztime=10s ./modelio/tokenizer
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"llama3", "gemma3", "gpt4o", "llama2"} {
		if data, err := os.ReadFile(filepath.Join("testdata", name, "tokenizer.json")); err == nil && len(data) < 64<<10 {
			f.Add(data)
		}
	}
	f.Add([]byte(splitTokenizer(`(a+)+$`)))
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]},
		"normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
		"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": true},
		"added_tokens": [{"id": 3, "content": "<s>", "special": true}],
		"post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>"}}, {"Sequence": {"id": "A"}}],
			"special_tokens": {"<s>": {"ids": [3]}}},
		"decoder": {"type": "ByteLevel"}}`))
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {"a": 4194303}, "merges": []}}`))
	dir := f.TempDir()
	path := filepath.Join(dir, "tokenizer.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		tok, err := Load(dir)
		if err != nil {
			if msg := err.Error(); strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, path) {
				t.Errorf("error not one line starting with the path: %q", msg)
			}
			return
		}
		ids, err := tok.Encode("Hello, world! aaab <s> 123", true)
		if err != nil {
			return // a regex past its time limit: reported, not hung
		}
		for _, id := range ids {
			if _, ok := tok.Token(id); !ok && id >= tok.VocabSize() {
				t.Errorf("Encode gave id %d, outside the vocabulary of %d", id, tok.VocabSize())
			}
		}
		if _, err := tok.Decode(ids); err != nil && !strings.Contains(err.Error(), "time limit") {
			t.Errorf("Decode: %v", err)
		}
	})
}
