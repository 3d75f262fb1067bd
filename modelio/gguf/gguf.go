// Package gguf reads GGUF files (llama.cpp, Ollama) as Layerscope reads a Hugging Face folder: the
// architecture metadata becomes the config.json the family would have, and every tensor is listed
// under its Hugging Face name and shape, with its GGUF type (Q4_K, Q8_0, F16, ...) as its dtype. Only
// headers are read; Layerscope never computes with GGUF weights.
//
// Parsing is github.com/gpustack/gguf-parser-go (MIT; chosen in DESIGN.md): it reads local files,
// split files and remote ones, and bounds strings and arrays by the file's size. scan (guard.go) walks
// the header first with tighter limits of its own, for what the parser does not bound.
package gguf

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	parser "github.com/gpustack/gguf-parser-go"

	"github.com/layerscope/layerscope/modelio/config"
	"github.com/layerscope/layerscope/modelio/ggufarch"
	"github.com/layerscope/layerscope/modelio/weights"
)

// File is a GGUF model read for description.
type File struct {
	Arch   string         // general.architecture: "llama"
	Config *config.Config // the config.json the metadata stands for
	// Weights lists the tensors under Hugging Face names (GGUF names where none maps), with GGUF types.
	Weights *weights.Set
	// FileType is general.file_type as llama.cpp names it ("Q4_K_M"), "" when absent.
	FileType string
	// Name is general.name when the file has one.
	Name string
	// Notes are remarks worth showing (tensors with no Hugging Face counterpart that were left out).
	Notes []string
}

// ReadFile reads the GGUF file at path; a shard named NAME-00001-of-00003.gguf brings its siblings.
// Errors are one line naming the file and what is wrong.
func ReadFile(path string) (*File, error) {
	paths := parser.CompleteShardGGUFFilename(path)
	if paths == nil {
		paths = []string{path}
	} else {
		dir := filepath.Dir(path)
		for i := range paths {
			paths[i] = filepath.Join(dir, filepath.Base(paths[i]))
		}
	}
	counts := make([]uint64, len(paths))
	for i, p := range paths {
		h, err := scanFile(p)
		if err != nil {
			return nil, err
		}
		counts[i] = h.tensors
	}
	gf, err := parse(paths[0], func() (*parser.GGUFFile, error) {
		return parser.ParseGGUFFile(paths[0], parser.SkipLargeMetadata())
	})
	if err != nil {
		return nil, err
	}
	return FromParsed(paths[0], gf, paths, counts)
}

// ReadAt reads the GGUF file held by r, size bytes long, reading only its header from r: for a file
// that is not local (the Hub's, read by range requests). display names it in errors and in
// Weights.Files. Reads stay within the header and at most 64 KiB past it. The header passes the same bounded scan as a local file; the parser then reads it
// from a temporary sparse copy of the header (the parser takes only paths and URLs), removed before
// ReadAt returns. Split files are read one by one this way; ReadAt does not join them.
func ReadAt(r io.ReaderAt, size int64, display string) (*File, error) {
	h, err := scan(io.NewSectionReader(r, 0, size), size)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", display, err)
	}
	tmp, err := os.CreateTemp("", "layerscope-header-*.gguf")
	if err != nil {
		return nil, fmt.Errorf("%s: a temporary copy of its header: %v", display, err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if _, err := io.Copy(tmp, io.NewSectionReader(r, 0, int64(h.end))); err != nil {
		return nil, fmt.Errorf("%s: reading its header: %v", display, err)
	}
	if err := tmp.Truncate(size); err != nil {
		return nil, fmt.Errorf("%s: a temporary copy of its header: %v", display, err)
	}
	gf, err := parse(display, func() (*parser.GGUFFile, error) {
		return parser.ParseGGUFFile(tmp.Name(), parser.SkipLargeMetadata())
	})
	if err != nil {
		return nil, err
	}
	return FromParsed(display, gf, []string{display}, []uint64{h.tensors})
}

// scanFile checks one file's header: a regular file, read through scan's bounds.
func scanFile(path string) (header, error) {
	// Stat before opening: opening a FIFO would block until a writer came.
	if info, err := os.Stat(path); err == nil && !info.Mode().IsRegular() {
		return header{}, fmt.Errorf("%s: not a regular file (%s)", path, info.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return header{}, fmt.Errorf("%s: no such file (a shard of this split GGUF is missing)", path)
		}
		return header{}, fmt.Errorf("%s: %v", path, unwrap(err))
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return header{}, fmt.Errorf("%s: %v", path, unwrap(err))
	}
	if !info.Mode().IsRegular() {
		return header{}, fmt.Errorf("%s: not a regular file", path)
	}
	h, err := scan(f, info.Size())
	if err != nil {
		return h, fmt.Errorf("%s: %v", path, err)
	}
	return h, nil
}

func unwrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// parse runs the parser, turning its errors and any panic into one line naming the file.
func parse(path string, run func() (*parser.GGUFFile, error)) (gf *parser.GGUFFile, err error) {
	defer func() {
		if r := recover(); r != nil {
			gf, err = nil, fmt.Errorf("%s: corrupt GGUF header (%v)", path, oneLine(fmt.Sprint(r)))
		}
	}()
	gf, err = run()
	if err != nil {
		return nil, fmt.Errorf("%s: %s", path, oneLine(err.Error()))
	}
	return gf, nil
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// FromParsed describes a GGUF header the caller parsed (a remote file read by range requests, say):
// display names the source in errors; files are its split files in order and counts their tensor
// counts, used to say which file holds a tensor (both may be nil: every tensor is then in display).
func FromParsed(display string, gf *parser.GGUFFile, files []string, counts []uint64) (f *File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("%s: corrupt GGUF tensor info (%v)", display, oneLine(fmt.Sprint(r)))
		}
	}()
	md := metadata(gf.Header.MetadataKV)
	archName, _ := md.String("general.architecture")
	if archName == "" {
		return nil, fmt.Errorf("%s: the GGUF metadata has no general.architecture", display)
	}
	mp, ok := ggufarch.Lookup(archName)
	if !ok {
		return nil, fmt.Errorf("%s: GGUF architecture %q is not one Layerscope maps (%s)", display, printable([]byte(archName)), strings.Join(ggufarch.Archs(), ", "))
	}
	// Mixtral converts to the llama architecture with 3-D expert tensors that no mapping places yet.
	if n, ok := md.Int(archName + ".expert_count"); ok && n > 0 {
		return nil, fmt.Errorf("%s: a mixture-of-experts %s GGUF (%d experts): Layerscope maps dense GGUF models only", display, archName, n)
	}
	f = &File{Arch: archName}
	f.Name, _ = md.String("general.name")
	if ft, ok := md.Int("general.file_type"); ok && ft >= 0 && ft < math.MaxInt32 {
		f.FileType = strings.TrimPrefix(parser.GGUFFileType(ft).String(), "MOSTLY_")
	}

	if len(files) == 0 {
		files, counts = []string{display}, []uint64{uint64(len(gf.TensorInfos))}
	}
	set := &weights.Set{Tensors: map[string]*weights.Tensor{}, Files: files}
	ggufNames := map[string]bool{}
	var vocab int64
	var ignored []string
	fileIdx, left := 0, uint64(0)
	if len(counts) > 0 {
		left = counts[0]
	}
	for i, ti := range gf.TensorInfos {
		for left == 0 && fileIdx+1 < len(counts) {
			fileIdx++
			left = counts[fileIdx]
		}
		if left > 0 {
			left--
		}
		ggufNames[ti.Name] = true
		if _, known := ti.Type.Trait(); !known {
			return nil, fmt.Errorf("%s: tensor %s has GGML type %d, which has no known layout", display, printable([]byte(ti.Name)), uint32(ti.Type))
		}
		hf, shape, ignore, ok := mp.Names.Map(ti.Name, ti.Dimensions)
		if ignore {
			ignored = append(ignored, ti.Name)
			continue
		}
		if !ok {
			hf = ti.Name
			shape = reversed(ti.Dimensions)
		}
		if ti.Name == "token_embd.weight" && len(shape) == 2 {
			vocab = shape[0]
		}
		if _, dup := set.Tensors[hf]; dup {
			return nil, fmt.Errorf("%s: tensor %s appears twice", display, printable([]byte(ti.Name)))
		}
		off := int64(0)
		if fileIdx < len(gf.SplitTensorDataStartOffsets) {
			off = gf.SplitTensorDataStartOffsets[fileIdx]
		}
		bytes := ti.Bytes()
		if bytes > math.MaxInt64/2 || ti.Offset > math.MaxInt64/2 {
			return nil, fmt.Errorf("%s: tensor %s is too large (%d bytes at offset %d)", display, printable([]byte(ti.Name)), bytes, ti.Offset)
		}
		set.Tensors[hf] = &weights.Tensor{Name: hf, DType: ti.Type.String(), Shape: shape,
			File: files[min(fileIdx, len(files)-1)], Offset: off + int64(ti.Offset), Size: int64(bytes)}
		set.Names = append(set.Names, hf)
		_ = i
	}
	if vocab == 0 {
		if a, ok := md["tokenizer.ggml.tokens"].(ggufarch.Array); ok {
			vocab = int64(a.Len)
		}
	}
	if len(ignored) > 0 {
		f.Notes = append(f.Notes, fmt.Sprintf("%d GGUF tensors with no Hugging Face counterpart (%s) are not shown", len(ignored), summarize(ignored)))
	}
	raw := mp.Config(md, ggufarch.Info{Vocab: vocab, Has: func(n string) bool { return ggufNames[n] }})
	raw["model_type"] = mp.ModelType
	raw["architectures"] = []any{mp.Class}
	cfg := config.FromMap(display+" (GGUF metadata)", jsonNumbers(raw))
	if err := cfg.Err(); err != nil {
		return nil, err
	}
	f.Config = cfg
	f.Weights = set
	return f, nil
}

func reversed(dims []uint64) []int64 {
	out := make([]int64, len(dims))
	for i, d := range dims {
		out[len(dims)-1-i] = int64(min(d, 1<<62))
	}
	return out
}

// summarize names tensors with layer numbers hidden: "rope_factors_long.weight, blk.N.x".
func summarize(names []string) string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		g := n
		if rest, ok := strings.CutPrefix(n, "blk."); ok {
			if _, part, found := strings.Cut(rest, "."); found {
				g = "blk.N." + part
			}
		}
		if !seen[g] {
			seen[g] = true
			out = append(out, printable([]byte(g)))
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// metadata converts the parser's key-values into plain values.
func metadata(kvs parser.GGUFMetadataKVs) ggufarch.Metadata {
	md := ggufarch.Metadata{}
	for _, kv := range kvs {
		if v, ok := plain(kv.ValueType, kv.Value); ok {
			md[kv.Key] = v
		}
	}
	return md
}

func plain(t parser.GGUFMetadataValueType, v any) (any, bool) {
	switch x := v.(type) {
	case uint8:
		return int64(x), true
	case int8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case int16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case int32:
		return int64(x), true
	case uint64:
		if x > math.MaxInt64 {
			return nil, false
		}
		return int64(x), true
	case int64:
		return x, true
	case float32:
		// The shortest decimal that round-trips the float32: 1e-05, not 9.999999747378752e-06.
		f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(x), 'g', -1, 32), 64)
		return f, true
	case float64:
		return x, true
	case bool:
		return x, true
	case string:
		return x, true
	case parser.GGUFMetadataKVArrayValue:
		a := ggufarch.Array{Len: x.Len}
		for _, it := range x.Array {
			if p, ok := plain(x.Type, it); ok {
				a.Items = append(a.Items, p)
			}
		}
		return a, true
	}
	return nil, false
}

// jsonNumbers turns a mapping's config values into what config.Parse would have produced from JSON.
func jsonNumbers(raw map[string]any) map[string]any {
	out := make(map[string]any, len(raw))
	for k, v := range raw {
		out[k] = jsonValue(v)
	}
	return out
}

func jsonValue(v any) any {
	switch x := v.(type) {
	case int64:
		return json.Number(strconv.FormatInt(x, 10))
	case int:
		return json.Number(strconv.Itoa(x))
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil
		}
		return json.Number(strconv.FormatFloat(x, 'g', -1, 64))
	case map[string]any:
		return jsonNumbers(x)
	case ggufarch.Array:
		var out []any
		for _, it := range x.Items {
			out = append(out, jsonValue(it))
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, it := range x {
			out[i] = jsonValue(it)
		}
		return out
	}
	return v
}

// IsGGUFName reports whether a file name is a GGUF file's.
func IsGGUFName(name string) bool { return strings.HasSuffix(strings.ToLower(name), ".gguf") }

// FindInFolder returns the GGUF model in dir: its only .gguf file, or the first shard of its only
// split set. found is false when dir holds no .gguf file; more than one model is an error naming them.
func FindInFolder(dir string) (path string, found bool, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", false, fmt.Errorf("%s: %v", dir, unwrap(err))
	}
	models := map[string]string{} // model key → first file
	var keys []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !IsGGUFName(name) || e.IsDir() {
			continue
		}
		key := name
		if shards := parser.CompleteShardGGUFFilename(name); shards != nil {
			key = shards[0]
		}
		if _, dup := models[key]; !dup {
			models[key] = filepath.Join(dir, key)
			keys = append(keys, key)
		}
	}
	switch len(keys) {
	case 0:
		return "", false, nil
	case 1:
		return models[keys[0]], true, nil
	}
	sort.Strings(keys)
	shown := keys
	if len(shown) > 5 {
		shown = append(shown[:5:5], "…")
	}
	return "", true, fmt.Errorf("%s: holds %d GGUF models (%s): open one of the files", dir, len(keys), strings.Join(shown, ", "))
}
