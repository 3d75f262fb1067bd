package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/layerscope/layerscope/modelio/safefile"
)

// Load reads dir/tokenizer.json (or tokenizer.json.gz) and, when present,
// dir/tokenizer_config.json (or .gz). Errors are one line and name the file.
func Load(dir string) (*Tokenizer, error) {
	path, data, err := readMaybeGzip(filepath.Join(dir, "tokenizer.json"), safefile.MaxTokenizerBytes)
	if err != nil {
		return nil, err
	}
	cfg, err := readConfig(dir)
	if err != nil {
		return nil, err
	}
	t, err := build(data, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	t.path = path
	return t, nil
}

// readConfig reads dir/tokenizer_config.json (or .gz); a missing file is an
// empty config.
func readConfig(dir string) (*tokenizerConfig, error) {
	var cfg tokenizerConfig
	path, data, err := readMaybeGzip(filepath.Join(dir, "tokenizer_config.json"), safefile.MaxTokenizerConfigBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return &cfg, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("%s: invalid JSON: %v", path, jsonError(err))
	}
	return &cfg, nil
}

// readMaybeGzip reads path, or path+".gz" decompressed when path is missing, as a regular file of at
// most limit bytes (inflated, for the .gz). A missing file is reported as the plain name, wrapping
// fs.ErrNotExist.
func readMaybeGzip(path string, limit int64) (string, []byte, error) {
	data, err := safefile.ReadFile(path, limit)
	if err == nil {
		return path, data, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return path, nil, err
	}
	data, gerr := safefile.ReadGzip(path+".gz", limit)
	if errors.Is(gerr, fs.ErrNotExist) {
		return path, nil, fmt.Errorf("%s: no such file: %w", path, fs.ErrNotExist)
	}
	if gerr != nil {
		return path + ".gz", nil, gerr
	}
	return path + ".gz", data, nil
}

// plainError drops the "open <path>:" that os errors repeat.
func plainError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// jsonError keeps encoding/json's message on one line and says where.
func jsonError(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v (at byte %d)", se, se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s must be %s, got %s", te.Field, te.Type, te.Value)
	}
	return strings.ReplaceAll(err.Error(), "\n", " ")
}

// tokenizerFile is the part of tokenizer.json that encoding reads.
type tokenizerFile struct {
	AddedTokens   []addedToken    `json:"added_tokens"`
	Normalizer    *component      `json:"normalizer"`
	PreTokenizer  *component      `json:"pre_tokenizer"`
	Model         json.RawMessage `json:"model"`
	PostProcessor *component      `json:"post_processor"`
	Decoder       *component      `json:"decoder"`
}

// component is any normalizer, pre-tokenizer, post-processor or decoder;
// each type reads the fields it needs.
type component struct {
	Type string `json:"type"`

	Normalizers   []*component `json:"normalizers"`
	PreTokenizers []*component `json:"pretokenizers"`
	Processors    []*component `json:"processors"`
	Decoders      []*component `json:"decoders"`

	Pattern  *struct{ String, Regex *string } `json:"pattern"`
	Content  *string                          `json:"content"`
	Behavior string                           `json:"behavior"`
	Invert   bool                             `json:"invert"`
	Prepend  string                           `json:"prepend"`

	StripLeft  bool `json:"strip_left"`
	StripRight bool `json:"strip_right"`
	Start      int  `json:"start"`
	Stop       int  `json:"stop"`

	AddPrefixSpace   *bool  `json:"add_prefix_space"`
	UseRegex         *bool  `json:"use_regex"`
	Replacement      string `json:"replacement"`
	PrependScheme    string `json:"prepend_scheme"`
	Split            *bool  `json:"split"`
	IndividualDigits bool   `json:"individual_digits"`

	Single        []templatePiece            `json:"single"`
	SpecialTokens map[string]templateSpecial `json:"special_tokens"`
	Cls           []json.RawMessage          `json:"cls"`
	Sep           []json.RawMessage          `json:"sep"`
}

type templatePiece struct {
	SpecialToken *struct {
		ID string `json:"id"`
	} `json:"SpecialToken"`
	Sequence *struct {
		ID string `json:"id"`
	} `json:"Sequence"`
}

type templateSpecial struct {
	IDs []int `json:"ids"`
}

type bpeFile struct {
	Type                    string          `json:"type"`
	Vocab                   map[string]int  `json:"vocab"`
	Merges                  json.RawMessage `json:"merges"`
	UnkToken                *string         `json:"unk_token"`
	ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
	FuseUnk                 bool            `json:"fuse_unk"`
	ByteFallback            bool            `json:"byte_fallback"`
	IgnoreMerges            bool            `json:"ignore_merges"`
}

// tokenizerConfig is the part of tokenizer_config.json that decides BOS/EOS.
type tokenizerConfig struct {
	TokenizerClass string    `json:"tokenizer_class"`
	AddBOSToken    *bool     `json:"add_bos_token"`
	AddEOSToken    *bool     `json:"add_eos_token"`
	BOSToken       tokenName `json:"bos_token"`
	EOSToken       tokenName `json:"eos_token"`
}

// tokenName is a special token given as a string or as an AddedToken object
// {"content": "<s>", ...}.
type tokenName string

func (n *tokenName) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err == nil {
		if s != nil {
			*n = tokenName(*s)
		}
		return nil
	}
	var o struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return errors.New("must be a string or an object with content")
	}
	*n = tokenName(o.Content)
	return nil
}

// maxVocab bounds token ids, so that a corrupt id cannot make Load allocate
// gigabytes; the largest real vocabularies are around 262,144 (Gemma 3), and
// config.json's vocab_size has the same limit (hfconfig.MaxVocab).
const maxVocab = 1 << 22

// build makes a Tokenizer from the bytes of tokenizer.json; errors do not
// name the file, the caller does.
func build(data []byte, cfg *tokenizerConfig) (*Tokenizer, error) {
	var f tokenizerFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", jsonError(err))
	}
	if f.Model == nil {
		return nil, errors.New("model is missing")
	}
	m, err := buildModel(f.Model)
	if err != nil {
		return nil, err
	}
	t := &Tokenizer{model: m, vocab: m.vocab, addedText: map[string]bool{}}

	// Added tokens join the vocabulary (overriding a model entry of the same
	// text, as transformers.js does) and are matched before anything else.
	for _, a := range f.AddedTokens {
		if a.ID < 0 {
			return nil, fmt.Errorf("added_tokens: id %d of %q is negative", a.ID, a.Content)
		}
		m.vocab[a.Content] = a.ID
		t.addedText[a.Content] = true
	}
	t.added = newAddedMatcher(f.AddedTokens)
	size := 0
	for _, id := range m.vocab {
		size = max(size, id+1)
	}
	if size > maxVocab {
		return nil, fmt.Errorf("token id %d is beyond any real vocabulary (at most %d)", size-1, maxVocab-1)
	}
	t.tokens = make([]string, size)
	t.special = make([]bool, size)
	for s, id := range m.vocab {
		t.tokens[id] = s
	}
	for _, a := range f.AddedTokens {
		t.tokens[a.ID] = a.Content
		t.special[a.ID] = a.Special
	}
	for _, a := range f.AddedTokens {
		// The model looks pieces up in the joined vocabulary, as
		// transformers.js does, so a one-character added token is a symbol.
		if r, n := utf8.DecodeRuneInString(a.Content); n == len(a.Content) && n > 0 && !(r == utf8.RuneError && n == 1) {
			m.single[r] = int32(a.ID)
		}
	}

	if t.normalizer, err = buildNormalizer(f.Normalizer, "normalizer"); err != nil {
		return nil, err
	}
	if t.pre, err = buildPreTokenizer(f.PreTokenizer, "pre_tokenizer", t); err != nil {
		return nil, err
	}
	if t.decoder, err = buildDecoder(f.Decoder, "decoder", t); err != nil {
		return nil, err
	}
	if t.prefix, t.suffix, err = buildPostProcessor(f.PostProcessor, "post_processor", t); err != nil {
		return nil, err
	}
	if err := t.applyConfig(cfg); err != nil {
		return nil, err
	}
	return t, nil
}

// buildModel reads the "model" object; only BPE is supported.
func buildModel(raw json.RawMessage) (*bpeModel, error) {
	var f bpeFile
	if err := json.Unmarshal(raw, &f); err != nil {
		var probe struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(raw, &probe) == nil && probe.Type != "" && probe.Type != "BPE" {
			return nil, fmt.Errorf("model.type %q is not supported (only BPE)", probe.Type)
		}
		return nil, fmt.Errorf("model: %v", jsonError(err))
	}
	if f.Type != "BPE" && !(f.Type == "" && f.Merges != nil) {
		return nil, fmt.Errorf("model.type %q is not supported (only BPE)", f.Type)
	}
	if f.Vocab == nil {
		return nil, errors.New("model.vocab is missing")
	}
	m := &bpeModel{
		vocab:        f.Vocab,
		single:       make(map[rune]int32),
		merges:       make(map[uint64]merge),
		unk:          -1,
		fuseUnk:      f.FuseUnk,
		byteFallback: f.ByteFallback,
		ignoreMerges: f.IgnoreMerges,
	}
	if f.ContinuingSubwordPrefix != nil {
		m.prefix = *f.ContinuingSubwordPrefix
	}
	if f.EndOfWordSuffix != nil {
		m.suffix = *f.EndOfWordSuffix
	}
	for s, id := range f.Vocab {
		if id < 0 {
			return nil, fmt.Errorf("model.vocab: id %d of %q is negative", id, s)
		}
		if r, n := utf8.DecodeRuneInString(s); n == len(s) && n > 0 && !(r == utf8.RuneError && n == 1) {
			m.single[r] = int32(id)
		}
	}
	for i := range m.byteIDs {
		m.byteIDs[i] = -1
		if id, ok := f.Vocab[byteToken(byte(i))]; ok {
			m.byteIDs[i] = int32(id)
		}
	}
	if f.UnkToken != nil {
		if id, ok := f.Vocab[*f.UnkToken]; ok {
			m.unk = id
		}
	}
	pairs, err := parseMerges(f.Merges)
	if err != nil {
		return nil, err
	}
	for rank, p := range pairs {
		a, okA := f.Vocab[p[0]]
		b, okB := f.Vocab[p[1]]
		c, okC := f.Vocab[p[0]+p[1]]
		if !okA || !okB || !okC {
			continue // a rule the vocabulary cannot produce never fires
		}
		// A repeated pair keeps its last rank, as both references do.
		m.merges[pairKey(int32(a), int32(b))] = merge{rank: int32(rank), id: int32(c)}
	}
	return m, nil
}

// parseMerges reads model.merges in either format: ["a b", ...] (before
// tokenizers 0.20) or [["a", "b"], ...].
func parseMerges(raw json.RawMessage) ([][2]string, error) {
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return nil, nil
	}
	if bytes.HasPrefix(trimmed, []byte("[")) && bytes.HasPrefix(bytes.TrimLeft(trimmed[1:], " \t\r\n"), []byte("[")) {
		var pairs [][2]string
		if err := json.Unmarshal(raw, &pairs); err != nil {
			return nil, fmt.Errorf("model.merges: %v", jsonError(err))
		}
		return pairs, nil
	}
	var lines []string
	if err := json.Unmarshal(raw, &lines); err != nil {
		return nil, fmt.Errorf("model.merges: %v", jsonError(err))
	}
	pairs := make([][2]string, len(lines))
	for i, l := range lines {
		a, b, ok := strings.Cut(l, " ")
		if !ok {
			return nil, fmt.Errorf("model.merges[%d]: %q is not two tokens separated by a space", i, l)
		}
		// transformers.js splits with a limit of 2, dropping a third part.
		if j := strings.IndexByte(b, ' '); j >= 0 {
			b = b[:j]
		}
		pairs[i] = [2]string{a, b}
	}
	return pairs, nil
}
