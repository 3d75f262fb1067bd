// Package prune writes a depth-pruned copy of a model folder: the model without some decoder blocks,
// as a new folder that transformers and Layerscope load like any other. The source folder is only
// read; the copy is assembled in a temporary folder beside the destination and renamed into place at
// the end, so a failure leaves nothing half-written.
package prune

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/config"
	"github.com/layerscope/layerscope/modelio/safefile"
	"github.com/layerscope/layerscope/modelio/weights"
)

// copyChunk is how many bytes of tensor data are copied between two progress reports.
const copyChunk = 64 << 20

// weightSuffixes are the files of weights in other formats (and their indexes): a copy would hold the
// removed blocks, so they are left out.
var weightSuffixes = []string{
	".safetensors", ".index.json", ".bin", ".pt", ".pth", ".ckpt", ".gguf", ".ggml", ".h5", ".msgpack",
	".onnx", ".onnx_data", ".ot", ".npz", ".npy", ".pkl", ".pickle", ".tflite", ".pb", ".mlmodel",
}

// Write writes into dst a copy of m without the decoder blocks remove, numbered as m numbers them
// (pass the opened model and the blocks to remove, or a RemoveBlocks or modelio.NarrowMLP result and
// nil; a narrowed model's MLP tensors are written with only their kept neurons, see pick.go):
//
//   - config.json: the source's with the pruning's edits (modelio.ConfigEdit: num_hidden_layers or
//     n_layer, layer_types, ...). The file is decoded into its ordered list of top-level keys; every
//     key keeps its place and every value not edited keeps its exact bytes, and the keys are written
//     back with the two-space indent transformers writes.
//   - the weights: each kept block's tensors under its new index (model.layers.7.… → model.layers.5.…),
//     the removed blocks' tensors dropped, all others unchanged, the data streamed from the source
//     files. One model.safetensors when the source had one file; else one shard per source shard (so
//     shard sizes stay near the source's) and model.safetensors.index.json.
//   - every other top-level file of the source folder (tokenizer.json, tokenizer_config.json,
//     generation_config.json, special_tokens_map.json, ...) unchanged, except hidden files, weights in
//     other formats (they would still hold the removed blocks), files over 256 MiB, anything that is
//     not a regular file, and links that lead out of the model folder (see Companions, which lists
//     what is left out and why).
//
// The copy is written in a hidden ".<dst>.partial-…" folder beside dst, which Ctrl-C or SIGTERM
// removes before the process ends; partials left by a killed prune to the same dst are removed first.
//
// Before the copy is renamed into place it is opened again and its module tree compared with what
// RemoveBlocks describes. progress, when not nil, is called with the bytes of tensor data copied so far
// and in all, from (0, total) to (total, total).
//
// Write refuses, in one line, a model without weights (a gallery model), a dst that is the source
// folder or lies inside it (by any spelling or symbolic link), and a dst that exists and is not an
// empty folder. The source folder is never modified.
func Write(m *modelio.Model, remove []int, dst string, progress func(done, total int)) (err error) {
	if m == nil || m.Spec == nil {
		return errors.New("prune: no model")
	}
	if m.GGUF || m.Quant != nil {
		return fmt.Errorf("%s: Layerscope writes pruned copies of full-precision safetensors only, not of GGUF or quantized weights", m.Name)
	}
	if !m.HasWeights() {
		return fmt.Errorf("%s has no weights (a gallery model or a config.json alone): there is nothing to copy; open a model folder with .safetensors files", m.Name)
	}
	p, err := modelio.RemoveBlocks(m, remove)
	if err != nil {
		return err
	}
	srcDir := sourceDir(m)
	sources := []string{srcDir}
	for _, f := range m.Weights.Files {
		sources = append(sources, filepath.Dir(f))
	}
	abs, exists, err := checkDestination(dst, sources)
	if err != nil {
		return err
	}

	removeStalePartials(abs)
	tmp, err := makePartial(abs)
	if err != nil {
		return fmt.Errorf("%s: cannot create a folder beside it: %v", dst, plain(err))
	}
	guard := guardPartial(tmp)
	defer guard.done()
	defer func() {
		if err != nil {
			guard.settle(func() { os.RemoveAll(tmp) })
		}
	}()
	if m.Config != nil && m.Config.Path != "" {
		if err := writeConfig(m.Config.Path, p.ConfigEdits, filepath.Join(tmp, "config.json")); err != nil {
			return err
		}
	}
	_, hasIndex := statFile(filepath.Join(srcDir, weights.IndexName))
	if err := writeWeights(p.Weights, hasIndex || len(m.Weights.Files) > 1, tmp, progress); err != nil {
		return err
	}
	if err := copyCompanions(srcDir, tmp); err != nil {
		return err
	}
	if err := check(p, tmp); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(tmp, partialMarker)); err != nil {
		return fmt.Errorf("%s: %v", tmp, plain(err))
	}
	if exists {
		// An empty destination folder is replaced, keeping its permissions; rename cannot replace a
		// folder everywhere.
		if info, err := os.Stat(abs); err == nil {
			os.Chmod(tmp, info.Mode().Perm())
		}
		if err := os.Remove(abs); err != nil {
			return fmt.Errorf("%s: %v", dst, plain(err))
		}
	}
	var renameErr error
	if !guard.settle(func() { renameErr = os.Rename(tmp, abs) }) {
		return fmt.Errorf("%s: interrupted: nothing written", dst)
	}
	if renameErr != nil {
		os.RemoveAll(tmp)
		if exists {
			os.Mkdir(abs, 0o755) // put the empty folder back
		}
		return fmt.Errorf("%s: cannot move the pruned copy into place: %v", dst, plain(renameErr))
	}
	return nil
}

// sourceDir is the folder a model with weights was opened from: its config.json's, else its first
// weight file's.
func sourceDir(m *modelio.Model) string {
	if m.Config != nil && m.Config.Path != "" {
		return filepath.Dir(m.Config.Path)
	}
	return filepath.Dir(m.Weights.Files[0])
}

// checkDestination returns dst as an absolute path, and whether it exists (as an empty folder).
func checkDestination(dst string, sources []string) (abs string, exists bool, err error) {
	if dst == "" {
		return "", false, errors.New("no folder given to write the pruned copy to")
	}
	if abs, err = filepath.Abs(dst); err != nil {
		return "", false, fmt.Errorf("%s: %v", dst, err)
	}
	var srcInfos []os.FileInfo
	for _, s := range sources {
		info, err := os.Stat(s)
		if err != nil {
			return "", false, fmt.Errorf("%s: %v", s, plain(err))
		}
		srcInfos = append(srcInfos, info)
	}
	isSource := func(info os.FileInfo) bool {
		return slices.ContainsFunc(srcInfos, func(s os.FileInfo) bool { return os.SameFile(s, info) })
	}
	if info, err := os.Stat(abs); err == nil && isSource(info) {
		return "", false, fmt.Errorf("%s is the model's own folder: write the pruned copy to a new folder", dst)
	}
	li, err := os.Lstat(abs)
	switch {
	case err == nil:
		if li.Mode()&fs.ModeSymlink != 0 {
			return "", false, fmt.Errorf("%s is a symbolic link: give a new folder", dst)
		}
		if !li.IsDir() {
			return "", false, fmt.Errorf("%s is a file, not a folder: give a new folder", dst)
		}
		entries, err := os.ReadDir(abs)
		if err != nil {
			return "", false, fmt.Errorf("%s: %v", dst, plain(err))
		}
		if len(entries) > 0 {
			return "", false, fmt.Errorf("%s is not empty: give a new or empty folder", dst)
		}
		exists = true
	case !errors.Is(err, fs.ErrNotExist):
		return "", false, fmt.Errorf("%s: %v", dst, plain(err))
	}
	parent := filepath.Dir(abs)
	info, err := os.Stat(parent)
	if err != nil {
		return "", false, fmt.Errorf("%s: its folder %s does not exist or cannot be read (%v)", dst, parent, plain(err))
	}
	if !info.IsDir() {
		return "", false, fmt.Errorf("%s: %s is not a folder", dst, parent)
	}
	real, err := filepath.EvalSymlinks(parent)
	if err != nil {
		return "", false, fmt.Errorf("%s: %v", parent, plain(err))
	}
	// Compare every folder above dst with the source by identity, not by name: "../m", a symbolic
	// link or another case on a case-insensitive disk all name the same folder.
	for d := real; ; d = filepath.Dir(d) {
		if info, err := os.Stat(d); err == nil && isSource(info) {
			return "", false, fmt.Errorf("%s is inside the model's folder %s: the source folder is never written to", dst, d)
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	return abs, exists, nil
}

// writeConfig writes the source config.json with the edits applied.
func writeConfig(srcPath string, edits []modelio.ConfigEdit, dst string) error {
	data, err := safefile.ReadFile(srcPath, safefile.MaxConfigBytes)
	if err != nil {
		return err
	}
	out, err := EditConfig(data, edits)
	if err != nil {
		return fmt.Errorf("%s: %v", srcPath, err)
	}
	if _, err := config.Parse(dst, out); err != nil {
		return err
	}
	return writeFile(dst, out)
}

type member struct {
	key string
	raw []byte
}

// EditConfig returns config.json bytes with each edit's key set to its value. The top level is
// decoded into its ordered keys and written back with a two-space indent, as transformers writes
// config.json; values that are not edited keep their bytes. A key not yet present goes where sorted
// order puts it when the keys are sorted (transformers sorts them), else at the end.
func EditConfig(data []byte, edits []modelio.ConfigEdit) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var members []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("invalid JSON: %v", err)
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("invalid JSON: %v", err)
		}
		members = append(members, member{key, raw})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	sorted := slices.IsSortedFunc(members, func(a, b member) int { return strings.Compare(a.key, b.key) })
	indented := bytes.Contains(data, []byte("\n"))
	for _, e := range edits {
		found := false
		for i := range members {
			if members[i].key == e.Key {
				v, err := formatValue(e.Value, bytes.Contains(members[i].raw, []byte("\n")))
				if err != nil {
					return nil, err
				}
				members[i].raw, found = v, true
			}
		}
		if found {
			continue
		}
		v, err := formatValue(e.Value, indented)
		if err != nil {
			return nil, err
		}
		at := len(members)
		if sorted {
			at, _ = slices.BinarySearchFunc(members, e.Key, func(m member, k string) int { return strings.Compare(m.key, k) })
		}
		members = slices.Insert(members, at, member{e.Key, v})
	}
	var b bytes.Buffer
	b.WriteString("{\n")
	for i, mb := range members {
		key, err := marshal(mb.key)
		if err != nil {
			return nil, err
		}
		b.WriteString("  ")
		b.Write(key)
		b.WriteString(": ")
		b.Write(mb.raw)
		if i < len(members)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("}")
	if bytes.HasSuffix(data, []byte("\n")) {
		b.WriteString("\n")
	}
	return b.Bytes(), nil
}

// formatValue writes an edited value as Python's json.dumps(indent=2) writes it one level deep, or on
// one line when the value it replaces was on one line.
func formatValue(v any, multiline bool) ([]byte, error) {
	list, ok := v.([]any)
	if !ok {
		return marshal(v)
	}
	if len(list) == 0 {
		return []byte("[]"), nil
	}
	items := make([]string, len(list))
	for i, it := range list {
		b, err := marshal(it)
		if err != nil {
			return nil, err
		}
		items[i] = string(b)
	}
	if !multiline {
		return []byte("[" + strings.Join(items, ", ") + "]"), nil
	}
	return []byte("[\n    " + strings.Join(items, ",\n    ") + "\n  ]"), nil
}

// marshal is json.Marshal without HTML escaping, which transformers does not do.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// writeWeights writes the tensors of ws into dir, grouped by the source file they lie in.
func writeWeights(ws *weights.Set, sharded bool, dir string, progress func(done, total int)) error {
	var files []string
	groups := map[string][]*weights.Tensor{}
	total := 0
	for _, name := range ws.Names {
		t := ws.Tensors[name]
		if groups[t.File] == nil {
			files = append(files, t.File)
		}
		groups[t.File] = append(groups[t.File], t)
		total += int(t.Size)
	}
	c := &counter{total: total, fn: progress}
	c.report()
	weightMap := map[string]string{}
	var totalSize int64
	for i, f := range files {
		name := weights.SingleName
		if sharded {
			name = fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(files))
		}
		ts := groups[f]
		slices.SortStableFunc(ts, func(a, b *weights.Tensor) int { return cmpInt64(a.Offset, b.Offset) })
		if err := writeSafetensors(filepath.Join(dir, name), f, ts, c); err != nil {
			return err
		}
		for _, t := range ts {
			weightMap[t.Name] = name
			totalSize += t.Size
		}
	}
	if !sharded {
		return nil
	}
	index, err := json.MarshalIndent(map[string]any{
		"metadata":   map[string]any{"total_size": totalSize},
		"weight_map": weightMap,
	}, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, weights.IndexName), append(index, '\n'))
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// counter reports the bytes copied.
type counter struct {
	done, total int
	fn          func(done, total int)
}

func (c *counter) add(n int64) {
	c.done += int(n)
	c.report()
}

func (c *counter) report() {
	if c.fn != nil {
		c.fn(c.done, c.total)
	}
}

// writeSafetensors writes one safetensors file holding ts, whose data lies in the source file src:
// the 8-byte little-endian header length, the JSON header padded with spaces to a multiple of 8 (as
// the safetensors writers do), then the data of each tensor in header order.
func writeSafetensors(path, src string, ts []*weights.Tensor, c *counter) error {
	meta, err := readMetadata(src)
	if err != nil {
		return err
	}
	var h bytes.Buffer
	mb, err := marshal(meta)
	if err != nil {
		return err
	}
	h.WriteString(`{"__metadata__":`)
	h.Write(mb)
	var off int64
	for _, t := range ts {
		name, err := marshal(t.Name)
		if err != nil {
			return err
		}
		shape := make([]string, len(t.Shape))
		for i, d := range t.Shape {
			shape[i] = strconv.FormatInt(d, 10)
		}
		fmt.Fprintf(&h, `,%s:{"dtype":%q,"shape":[%s],"data_offsets":[%d,%d]}`, name, t.DType, strings.Join(shape, ","), off, off+t.Size)
		off += t.Size
	}
	h.WriteString("}")
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}

	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("%s: %v", path, plain(err))
	}
	defer out.Close()
	in, _, err := safefile.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if _, err := out.Write(binary.LittleEndian.AppendUint64(nil, uint64(h.Len()))); err != nil {
		return fmt.Errorf("%s: %v", path, plain(err))
	}
	if _, err := out.Write(h.Bytes()); err != nil {
		return fmt.Errorf("%s: %v", path, plain(err))
	}
	// Tensors that lie back to back in the source are copied as one run.
	for i := 0; i < len(ts); {
		if ts[i].Pick != nil { // a width-pruned tensor: only its kept slices (pick.go)
			if err := copyPicked(out, in, ts[i], c); err != nil {
				return fmt.Errorf("%s: %v", src, err)
			}
			i++
			continue
		}
		start, end := ts[i].Offset, ts[i].Offset+ts[i].Size
		j := i + 1
		for j < len(ts) && ts[j].Offset == end && ts[j].Pick == nil {
			end += ts[j].Size
			j++
		}
		if err := copyRange(out, in, start, end-start, c); err != nil {
			return copyError(src, path, err)
		}
		i = j
	}
	if err := out.Sync(); err != nil {
		return fmt.Errorf("%s: %v", path, plain(err))
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("%s: %v", path, plain(err))
	}
	return nil
}

// copyError names the file at fault when a copy from src to dst fails: dst when its disk is full (or
// its quota or size limit reached), since that is what the person must make room on; src otherwise.
func copyError(src, dst string, err error) error {
	if diskFull(err) {
		return fmt.Errorf("%s: %v: make room on its disk, or write the copy elsewhere", dst, plain(err))
	}
	return fmt.Errorf("%s: %v", src, plain(err))
}

// copyRange copies n bytes at off of in to out. Copying from a plain *os.File lets the kernel move the
// bytes file to file (copy_file_range) where it can.
func copyRange(out, in *os.File, off, n int64, c *counter) error {
	if _, err := in.Seek(off, io.SeekStart); err != nil {
		return err
	}
	for n > 0 {
		chunk := min(n, copyChunk)
		k, err := io.CopyN(out, in, chunk)
		c.add(k)
		if errors.Is(err, io.EOF) {
			return errors.New("the file is shorter than its header says: was it changed after it was opened?")
		}
		if err != nil {
			return err
		}
		n -= chunk
	}
	return nil
}

// readMetadata returns the __metadata__ of a safetensors file, with format "pt" added where it lacks
// one: transformers refuses to load a safetensors file whose metadata has no format.
func readMetadata(path string) (map[string]string, error) {
	f, _, err := safefile.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var n uint64
	if err := binary.Read(f, binary.LittleEndian, &n); err != nil {
		return nil, fmt.Errorf("%s: cannot read the header length: %v", path, err)
	}
	const maxHeader = 100 << 20 // the format's own limit
	if n > maxHeader {
		return nil, fmt.Errorf("%s: header of %d bytes is over the format's limit", path, n)
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(f, hdr); err != nil {
		return nil, fmt.Errorf("%s: cannot read the header: %v", path, err)
	}
	var h struct {
		Metadata map[string]string `json:"__metadata__"`
	}
	if err := json.Unmarshal(hdr, &h); err != nil {
		return nil, fmt.Errorf("%s: header: %v", path, err)
	}
	if h.Metadata == nil {
		h.Metadata = map[string]string{}
	}
	if h.Metadata["format"] == "" {
		h.Metadata["format"] = "pt"
	}
	return h.Metadata, nil
}

func isWeights(name string) bool {
	lower := strings.ToLower(name)
	return slices.ContainsFunc(weightSuffixes, func(s string) bool { return strings.HasSuffix(lower, s) })
}

// statFile returns the file's info, and false when it is missing or not a regular file.
func statFile(path string) (os.FileInfo, bool) {
	info, err := os.Stat(path)
	return info, err == nil && info.Mode().IsRegular()
}

func writeFile(path string, data []byte) error {
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("%s: %v", path, plain(err))
	}
	defer out.Close()
	if _, err := out.Write(data); err != nil {
		return fmt.Errorf("%s: %v", path, plain(err))
	}
	if err := out.Sync(); err != nil {
		return fmt.Errorf("%s: %v", path, plain(err))
	}
	return out.Close()
}

// check opens the written copy as Layerscope opens any folder and compares its tree with the
// pruned description: a copy that would not load as the model shown is not moved into place.
func check(p *modelio.Model, dir string) error {
	got, err := modelio.Open(dir)
	if err != nil {
		return fmt.Errorf("the pruned copy does not open: %v", err)
	}
	if a, b := arch.Repr(got.Spec.Root), arch.Repr(p.Spec.Root); a != b {
		return fmt.Errorf("the pruned copy opens with %d blocks and a different tree than %s; nothing written", len(got.Arch.Blocks), p.Name)
	}
	return nil
}

// plain strips Go's "op path:" wrapping where the message already names the path.
func plain(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
