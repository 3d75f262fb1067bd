package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/layerscope/layerscope/modelio/safefile"
	"golang.org/x/text/unicode/norm"
)

// refTokenizers are the real tokenizer files in testdata/<name>/, with the
// ids transformers.js gives for tools/tokref/strings.json in
// testdata/<name>.ref.json (made by tools/tokref/make_ref.mjs).
var refTokenizers = []struct {
	name string
	bos  []int // what Encode(s, true) puts first
	// lossless reports whether Decode(Encode(s)) must give s back.
	lossless func(s string) bool
}{
	{"llama3", nil, always},
	{"qwen3", nil, func(s string) bool { return norm.NFC.IsNormalString(s) }},
	{"gpt4o", nil, always},
	// SentencePiece-style: a literal "▁" decodes as a space.
	{"gemma3", []int{2}, func(s string) bool { return !strings.Contains(s, "▁") }},
	// Llama 2 also puts "▁" in front of the text after an added token.
	{"llama2", []int{1}, func(s string) bool {
		return !strings.Contains(s, "▁") && !strings.Contains(s, "<s>") && !strings.Contains(s, "</s>") && !strings.Contains(s, "<unk>")
	}},
}

func always(string) bool { return true }

type reference struct {
	Source       string   `json:"source"`
	Strings      []string `json:"strings"`
	IDs          [][]int  `json:"ids"`
	IDsNoSpecial [][]int  `json:"ids_no_special"`

	// A variant runs the vocabulary of testdata/<Base> through a pipeline
	// none of the real files uses: Patch replaces top-level keys of its
	// tokenizer.json.
	Base  string                     `json:"base"`
	Patch map[string]json.RawMessage `json:"patch"`
}

// variants are the patched pipelines of tools/tokref/make_ref.mjs.
var variants = []string{"llama3-gpt2split", "llama2-metaspace"}

// loadVariant builds the tokenizer that a variant reference describes.
func loadVariant(t *testing.T, ref reference) *Tokenizer {
	t.Helper()
	dir := filepath.Join("testdata", ref.Base)
	_, data, err := readMaybeGzip(filepath.Join(dir, "tokenizer.json"), safefile.MaxTokenizerBytes)
	if err != nil {
		t.Fatal(err)
	}
	var file map[string]json.RawMessage
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	for k, v := range ref.Patch {
		file[k] = v
	}
	if data, err = json.Marshal(file); err != nil {
		t.Fatal(err)
	}
	cfg, err := readConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := build(data, cfg)
	if err != nil {
		t.Fatalf("%s patched: %v", ref.Base, err)
	}
	return tok
}

var (
	loadMu sync.Mutex
	loaded = map[string]*Tokenizer{}
)

// loadTestdata loads testdata/<name> once for all tests and benchmarks.
func loadTestdata(tb testing.TB, name string) *Tokenizer {
	tb.Helper()
	loadMu.Lock()
	defer loadMu.Unlock()
	if t, ok := loaded[name]; ok {
		return t
	}
	t, err := Load(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	loaded[name] = t
	return t
}

func readReference(t *testing.T, name string) reference {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name+".ref.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref reference
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatalf("%s.ref.json: %v", name, err)
	}
	if len(ref.IDs) != len(ref.Strings) || len(ref.IDsNoSpecial) != len(ref.Strings) {
		t.Fatalf("%s.ref.json: %d strings but %d/%d id lists", name, len(ref.Strings), len(ref.IDs), len(ref.IDsNoSpecial))
	}
	return ref
}

// TestEncodeMatchesReference checks every string of every tokenizer against
// the ids transformers.js produced, with and without special tokens.
func TestEncodeMatchesReference(t *testing.T) {
	for _, rt := range refTokenizers {
		t.Run(rt.name, func(t *testing.T) {
			checkReference(t, rt.name, loadTestdata(t, rt.name), readReference(t, rt.name))
		})
	}
	for _, name := range variants {
		t.Run(name, func(t *testing.T) {
			ref := readReference(t, name)
			checkReference(t, name, loadVariant(t, ref), ref)
		})
	}
}

func checkReference(t *testing.T, name string, tok *Tokenizer, ref reference) {
	t.Helper()
	pass := 0
	for i, s := range ref.Strings {
		got := mustEncode(t, tok, s, true)
		gotPlain := mustEncode(t, tok, s, false)
		ok := true
		if !slices.Equal(got, ref.IDs[i]) {
			ok = false
			t.Errorf("Encode(%q, true)\n got %v %q\nwant %v %q", s, got, tok.Pieces(got), ref.IDs[i], tok.Pieces(ref.IDs[i]))
		}
		if !slices.Equal(gotPlain, ref.IDsNoSpecial[i]) {
			ok = false
			t.Errorf("Encode(%q, false)\n got %v\nwant %v", s, gotPlain, ref.IDsNoSpecial[i])
		}
		if ok {
			pass++
		}
	}
	t.Logf("%s: %d/%d strings give the reference ids (%s)", name, pass, len(ref.Strings), ref.Source)
}

// TestSpecialPrefix checks the BOS that Encode adds, which comes from the
// post-processor or, for Llama and Gemma classes, tokenizer_config.json.
func TestSpecialPrefix(t *testing.T) {
	for _, rt := range refTokenizers {
		tok := loadTestdata(t, rt.name)
		if got := tok.SpecialPrefix(); !slices.Equal(got, rt.bos) {
			t.Errorf("%s: SpecialPrefix() = %v, want %v", rt.name, got, rt.bos)
		}
		if got := tok.SpecialSuffix(); len(got) != 0 {
			t.Errorf("%s: SpecialSuffix() = %v, want none", rt.name, got)
		}
	}
}

// TestRoundTrip checks Decode(Encode(s)) == s wherever the tokenizer keeps
// all the text.
func TestRoundTrip(t *testing.T) {
	for _, rt := range refTokenizers {
		t.Run(rt.name, func(t *testing.T) {
			tok := loadTestdata(t, rt.name)
			ref := readReference(t, rt.name)
			checked := 0
			for _, s := range ref.Strings {
				if !rt.lossless(s) {
					continue
				}
				checked++
				if got := mustDecode(t, tok, mustEncode(t, tok, s, false)); got != s {
					t.Errorf("Decode(Encode(%q)) = %q", s, got)
				}
			}
			t.Logf("%s: %d strings round-trip", rt.name, checked)
		})
	}
}

func TestPieces(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"llama3", "Hello world\n", []string{"Hello", " world", "\n"}},
		{"llama3", "<|begin_of_text|>Hi", []string{"<|begin_of_text|>", "Hi"}},
		{"gpt4o", " the cat", []string{" the", " cat"}},
		{"qwen3", "<|im_start|>user", []string{"<|im_start|>", "user"}},
		{"gemma3", "Hello world", []string{"<bos>", "Hello", " world"}},
		{"llama2", "Hello world", []string{"<s>", " Hello", " world"}},
		// A character not in the vocabulary falls back to its bytes.
		{"llama2", "𓀀", []string{"<s>", " ", "<0xF0>", "<0x93>", "<0x80>", "<0x80>"}},
	}
	for _, tt := range tests {
		tok := loadTestdata(t, tt.name)
		ids := mustEncode(t, tok, tt.text, true)
		if got := tok.Pieces(ids); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Pieces(Encode(%q)) = %q, want %q", tt.name, tt.text, got, tt.want)
		}
	}
	// A character split over byte-level tokens shows its bytes.
	tok := loadTestdata(t, "llama3")
	id, ok := tok.ID("ð")
	if !ok {
		t.Fatal(`llama3: no token "ð"`)
	}
	if got := tok.Pieces([]int{id}); !slices.Equal(got, []string{"<0xF0>"}) {
		t.Errorf(`llama3: Pieces(["ð"]) = %q, want ["<0xF0>"]`, got)
	}
}

func TestAccessors(t *testing.T) {
	tok := loadTestdata(t, "qwen3")
	if got, want := tok.VocabSize(), 151669; got != want {
		t.Errorf("qwen3: VocabSize() = %d, want %d", got, want)
	}
	id, ok := tok.ID("<|im_end|>")
	if !ok || id != 151645 || !tok.IsSpecial(id) {
		t.Errorf("qwen3: ID(<|im_end|>) = %d, %v, special %v; want 151645, true, true", id, ok, tok.IsSpecial(id))
	}
	if s, ok := tok.Token(9707); !ok || s != "Hello" {
		t.Errorf("qwen3: Token(9707) = %q, %v; want Hello", s, ok)
	}
	if _, ok := tok.Token(-1); ok {
		t.Error("qwen3: Token(-1) reports a token")
	}
	if tok.IsSpecial(9707) {
		t.Error("qwen3: IsSpecial(9707) = true")
	}
}

// TestLoadErrors checks that a bad folder gives one line naming the file.
func TestLoadErrors(t *testing.T) {
	const minimal = `{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}}`
	tests := []struct {
		name  string
		files map[string]string
		want  string // substring of the error, after the file name
	}{
		{"missing", nil, "tokenizer.json: no such file"},
		{"not json", map[string]string{"tokenizer.json": "{nope"}, "tokenizer.json: invalid JSON"},
		{"no model", map[string]string{"tokenizer.json": `{}`}, "tokenizer.json: model is missing"},
		{"unigram", map[string]string{"tokenizer.json": `{"model": {"type": "Unigram", "vocab": [["a", 0.0]]}}`},
			`tokenizer.json: model.type "Unigram" is not supported (only BPE)`},
		{"bad merges", map[string]string{"tokenizer.json": `{"model": {"type": "BPE", "vocab": {}, "merges": ["ab"]}}`},
			`tokenizer.json: model.merges[0]: "ab" is not two tokens`},
		{"bad pre", map[string]string{"tokenizer.json": strings.Replace(minimal, `{"model"`, `{"pre_tokenizer": {"type": "Bogus"}, "model"`, 1)},
			`tokenizer.json: pre_tokenizer.type "Bogus" is not supported`},
		{"bad regex", map[string]string{"tokenizer.json": strings.Replace(minimal, `{"model"`,
			`{"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "(a"}, "behavior": "Isolated"}]}, "model"`, 1)},
			"tokenizer.json: pre_tokenizer.pretokenizers[0].pattern.Regex:"},
		{"bad config", map[string]string{"tokenizer.json": minimal, "tokenizer_config.json": `{"add_bos_token": "yes"}`},
			"tokenizer_config.json: invalid JSON: add_bos_token must be bool, got string"},
		{"bos missing", map[string]string{"tokenizer.json": minimal, "tokenizer_config.json": `{"tokenizer_class": "LlamaTokenizerFast", "bos_token": "<s>"}`},
			`tokenizer.json: tokenizer_config.json asks for add_bos_token but bos_token "<s>" is not in the vocabulary`},
		{"bad gzip", map[string]string{"tokenizer.json.gz": "not gzip"}, "tokenizer.json.gz: not a valid gzip file"},
		{"huge id", map[string]string{"tokenizer.json": `{"added_tokens": [{"id": 4000000000, "content": "x"}], "model": {"type": "BPE", "vocab": {}, "merges": []}}`},
			"tokenizer.json: token id 4000000000 is beyond any real vocabulary"},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		for name, body := range tt.files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		_, err := Load(dir)
		if err == nil {
			t.Errorf("%s: Load succeeded, want an error", tt.name)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, dir+string(filepath.Separator)) || !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
			t.Errorf("%s: error %q, want one line starting with the file and containing %q", tt.name, msg, tt.want)
		}
	}
}

// TestSynthetic checks components that the reference files do not use,
// on a small hand-written tokenizer.json.
func TestSynthetic(t *testing.T) {
	vocab := map[string]int{"<unk>": 0, "<s>": 1, "</s>": 2, "▁": 3, "a": 4, "b": 5, "▁a": 6, "ab": 7, "▁ab": 8, "1": 9, "2": 10, "12": 11}
	file := map[string]any{
		"added_tokens": []map[string]any{
			{"id": 1, "content": "<s>", "special": true},
			{"id": 2, "content": "</s>", "special": true, "lstrip": true, "rstrip": true},
		},
		"normalizer": map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "Strip", "strip_left": false, "strip_right": true},
			map[string]any{"type": "Lowercase"},
		}},
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Digits", "individual_digits": true},
			map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": true},
		}},
		"model": map[string]any{"type": "BPE", "vocab": vocab, "merges": [][2]string{{"a", "b"}, {"▁", "a"}, {"▁", "ab"}, {"1", "2"}},
			"unk_token": "<unk>", "fuse_unk": true},
		"post_processor": map[string]any{"type": "Sequence", "processors": []any{
			map[string]any{"type": "TemplateProcessing",
				"single":         []any{map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}, map[string]any{"SpecialToken": map[string]any{"id": "</s>", "type_id": 0}}},
				"special_tokens": map[string]any{"</s>": map[string]any{"id": "</s>", "ids": []int{2}, "tokens": []string{"</s>"}}}},
			map[string]any{"type": "BertProcessing", "cls": []any{"<s>", 1}, "sep": []any{"</s>", 2}},
		}},
		"decoder": map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": true},
	}
	data, err := json.Marshal(file)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		text       string
		addSpecial bool
		want       []int
	}{
		// Metaspace "first" puts ▁ only at the very start; split cuts before each ▁.
		{"ab ab", false, []int{8, 8}},
		{"AB  a", false, []int{8, 3, 6}},
		// Digits each alone: no 12 even though the merge exists.
		{"12", false, []int{3, 9, 10}},
		// Unknown characters fuse into one <unk>; trailing space stripped.
		{"xyz ab  ", false, []int{3, 0, 8}},
		// After an added token the section is not at the start: no ▁.
		{"<s>ab", false, []int{1, 7}},
		// </s> strips the spaces on both sides.
		{"ab </s> ab", false, []int{8, 2, 7}},
		// Sequence of post-processors: Bert wraps the template's output.
		{"ab", true, []int{1, 8, 2, 2}},
	}
	for _, tt := range tests {
		if got := mustEncode(t, tok, tt.text, tt.addSpecial); !slices.Equal(got, tt.want) {
			t.Errorf("Encode(%q, %v) = %v, want %v", tt.text, tt.addSpecial, got, tt.want)
		}
	}
	if got, want := mustDecode(t, tok, []int{8, 3, 6}), "ab  a"; got != want {
		t.Errorf("Decode = %q, want %q", got, want)
	}
}

// TestConcurrentEncode checks that one Tokenizer serves several goroutines
// (run with -race).
func TestConcurrentEncode(t *testing.T) {
	tok := loadTestdata(t, "llama3")
	want := mustEncode(t, tok, benchText, true)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if got, err := tok.Encode(benchText, true); err != nil || !slices.Equal(got, want) {
				t.Error("concurrent Encode gave different ids")
			}
		})
	}
	wg.Wait()
}

// TestConfigBOS checks that tokenizer_config.json decides BOS/EOS for the
// Llama and Gemma classes and is ignored for the others.
func TestConfigBOS(t *testing.T) {
	const file = `{
		"added_tokens": [{"id": 0, "content": "<s>", "special": true}, {"id": 1, "content": "</s>", "special": true}],
		"post_processor": {"type": "TemplateProcessing",
			"single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
			"special_tokens": {"<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]}}},
		"model": {"type": "BPE", "vocab": {"<s>": 0, "</s>": 1, "a": 2}, "merges": []}}`
	tests := []struct {
		config string // "" for no tokenizer_config.json
		want   []int
	}{
		{"", []int{0, 2}},
		{`{"tokenizer_class": "PreTrainedTokenizerFast", "add_bos_token": false}`, []int{0, 2}},
		{`{"tokenizer_class": "LlamaTokenizerFast", "bos_token": "<s>", "add_bos_token": false}`, []int{2}},
		{`{"tokenizer_class": "LlamaTokenizer", "bos_token": "<s>", "eos_token": "</s>", "add_eos_token": true}`, []int{0, 2, 1}},
		{`{"tokenizer_class": "GemmaTokenizer", "bos_token": {"content": "<s>", "__type": "AddedToken"}}`, []int{0, 2}},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte(file), 0o644); err != nil {
			t.Fatal(err)
		}
		if tt.config != "" {
			if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(tt.config), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		tok, err := Load(dir)
		if err != nil {
			t.Errorf("config %s: %v", tt.config, err)
			continue
		}
		if got := mustEncode(t, tok, "a", true); !slices.Equal(got, tt.want) {
			t.Errorf("config %s: Encode(a, true) = %v, want %v", tt.config, got, tt.want)
		}
	}
}

// TestSplitBehaviors checks each delimiter behavior on "a-b--c".
func TestSplitBehaviors(t *testing.T) {
	tests := []struct {
		behavior splitBehavior
		invert   bool
		want     []string
	}{
		{splitRemoved, false, []string{"a", "b", "c"}},
		{splitIsolated, false, []string{"a", "-", "b", "-", "-", "c"}},
		{splitMergedWithPrevious, false, []string{"a-", "b-", "-", "c"}},
		{splitMergedWithNext, false, []string{"a", "-b", "-", "-c"}},
		{splitContiguous, false, []string{"a", "-", "b", "--", "c"}},
		{splitRemoved, true, []string{"-", "-", "-"}},
	}
	for _, tt := range tests {
		p := splitPre{pat: pattern{literal: "-"}, behavior: tt.behavior, invert: tt.invert}
		var got []string
		for _, w := range p.preTokenize([]word{{text: "a-b--c"}}) {
			got = append(got, w.text)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("behavior %d invert %v: %q, want %q", tt.behavior, tt.invert, got, tt.want)
		}
	}
}

// benchText is a few KB of mixed prose, code and numbers.
var benchText = strings.Repeat("The quick brown fox jumps over the lazy dog; it's 2024 and 3.14159 is π. "+
	"def f(x):\n    return x ** 2  # square\n\n日本語のテキストも少し。Привет! 😀 https://example.com/a?b=c\n", 20)

// BenchmarkEncode reports tokens per second for each reference tokenizer.
func BenchmarkEncode(b *testing.B) {
	for _, rt := range refTokenizers {
		b.Run(rt.name, func(b *testing.B) {
			tok := loadTestdata(b, rt.name)
			n := len(mustEncode(b, tok, benchText, false))
			b.SetBytes(int64(len(benchText)))
			b.ResetTimer()
			for range b.N {
				mustEncode(b, tok, benchText, false)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// BenchmarkLoad reports how long reading a tokenizer folder takes.
func BenchmarkLoad(b *testing.B) {
	for _, name := range []string{"llama2", "gemma3"} {
		b.Run(name, func(b *testing.B) {
			for range b.N {
				if _, err := Load(filepath.Join("testdata", name)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func ExampleTokenizer_Pieces() {
	tok, err := Load(filepath.Join("testdata", "llama3"))
	if err != nil {
		fmt.Println(err)
		return
	}
	ids, err := tok.Encode("Hello, world!\n", false)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ids)
	fmt.Printf("%q\n", tok.Pieces(ids))
	// Output:
	// [9906 11 1917 4999]
	// ["Hello" "," " world" "!\n"]
}

// mustEncode is Encode for tests, where a tokenizer.json regex never times out.
func mustEncode(tb testing.TB, tok *Tokenizer, text string, addSpecial bool) []int {
	tb.Helper()
	ids, err := tok.Encode(text, addSpecial)
	if err != nil {
		tb.Fatal(err)
	}
	return ids
}

// mustDecode is Decode for tests.
func mustDecode(tb testing.TB, tok *Tokenizer, ids []int) string {
	tb.Helper()
	text, err := tok.Decode(ids)
	if err != nil {
		tb.Fatal(err)
	}
	return text
}
