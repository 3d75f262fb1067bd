package weights

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/edsrzf/mmap-go"
	"github.com/nlpodyssey/safetensors"

	"github.com/layerscope/layerscope/modelio/safefile"
)

// maxHeaderBytes is the largest header length safetensors accepts (MAX_HEADER_SIZE in the Rust crate,
// maxHeaderSize in nlpodyssey's). A larger length means a corrupt file or one that is not safetensors at
// all, and refusing it before decoding bounds what a header can cost in memory.
const maxHeaderBytes = 100_000_000

// lfsPointer opens a Git LFS pointer file (https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md).
const lfsPointer = "version https://git-lfs.github.com/spec/"

// lengthBytes is the little-endian uint64 header length that opens every safetensors file.
const lengthBytes = 8

// ReadHeader reads the header of one .safetensors file. The file is mapped read-only and only the
// header's pages are touched: the tensor data is never read. Tensors come in header offset order.
func ReadHeader(path string) ([]Tensor, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fileError(path, err)
	}
	switch {
	case info.IsDir():
		return nil, errorf(path, "is a folder, not a .safetensors file")
	case !info.Mode().IsRegular():
		// A FIFO or device would block or stream forever instead of holding a header.
		return nil, errorf(path, "is not a regular file (%s)", info.Mode().Type())
	case info.Size() == 0:
		return nil, errorf(path, "is empty (0 bytes): an unfinished download or copy?")
	case info.Size() < lengthBytes:
		return nil, errorf(path, "is %d bytes long, too short for a safetensors file (its header length alone takes 8 bytes)", info.Size())
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, errorf(path, "%v", err)
	}
	// Opened non-blocking and checked again: a FIFO swapped in since the stat must not hang the read.
	f, _, err := safefile.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := mmap.Map(f, mmap.RDONLY, 0)
	if err != nil {
		return nil, errorf(path, "cannot map the file into memory: %v", plainError(err))
	}
	defer m.Unmap()
	return parseMapped(path, abs, m)
}

// parseMapped parses the mapped file buf. The decoded names and shapes are copies, so the mapping can
// go as soon as it returns.
func parseMapped(path, abs string, buf []byte) (ts []Tensor, err error) {
	// A file truncated by another process after it was mapped turns reads past its new end into
	// SIGBUS; ask the runtime for a panic instead of a crash, and report it.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(interface{ Addr() uintptr }); ok {
				ts, err = nil, errorf(path, "the file changed or became unreadable while its header was read")
				return
			}
			panic(r)
		}
	}()
	ts, err = parseBuffer(buf)
	if err != nil {
		return nil, errorf(path, "%v", err)
	}
	for i := range ts {
		ts[i].File = abs
	}
	return ts, nil
}

// parseBuffer parses a whole safetensors file held in buf. Errors do not name the file.
func parseBuffer(buf []byte) ([]Tensor, error) {
	n, err := checkFraming(buf)
	if err != nil {
		return nil, err
	}
	ts, libErr := parseWithLibrary(buf)
	if libErr == nil {
		return ts, nil
	}
	// nlpodyssey's errors do not say what is wrong in a person's words ("metadata incomplete buffer",
	// "invalid metadata offset for tensor"), and it knows only the dtypes of 2023: not F8_E4M3, F8_E5M2,
	// F8_E8M0, F8_E4M3FNUZ, F8_E5M2FNUZ, F4, F6_E2M3, F6_E3M2 or C64, which FP8 and MXFP4 checkpoints
	// (DeepSeek-V3, gpt-oss) use. So when it refuses a file, our own reader, which applies the same
	// checks, runs to either accept the file (the refusal was only a newer dtype) or explain the refusal.
	ts, ownErr := parseOwn(buf[lengthBytes:lengthBytes+n], uint64(len(buf))-lengthBytes-n)
	if ownErr != nil {
		return nil, ownErr
	}
	for i := range ts {
		if _, err := safetensors.ParseDType(ts[i].DType); err != nil {
			return ts, nil
		}
	}
	// Our reader accepted what the library refused for a reason other than a dtype: the two disagree,
	// which FuzzReadHeader is there to rule out. The library's word stands.
	return nil, fmt.Errorf("invalid header: %s", oneLine(libErr.Error()))
}

// checkFraming checks the 8-byte length and what surrounds the header, and returns the header length.
func checkFraming(buf []byte) (uint64, error) {
	return checkFramingSize(buf, uint64(len(buf)))
}

// checkFramingSize is checkFraming for a file of size bytes of which buf holds at least the length and
// the header: a file on the Hub, whose data is never fetched.
func checkFramingSize(buf []byte, size uint64) (uint64, error) {
	n, err := headerLength(buf, size)
	if err != nil {
		return 0, err
	}
	if n > uint64(len(buf))-lengthBytes {
		return 0, fmt.Errorf("holds %d of the header's %d bytes", uint64(len(buf))-lengthBytes, n)
	}
	hdr := buf[lengthBytes : lengthBytes+n]
	// encoding/json would quietly turn invalid UTF-8 in tensor names into U+FFFD; the Rust crate refuses it.
	if !utf8.Valid(hdr) {
		return 0, errors.New("header is not valid UTF-8")
	}
	trimmed := bytes.TrimLeft(hdr, " \t\r\n")
	if len(trimmed) == 0 {
		return 0, errors.New("header is empty: it should be a JSON object")
	}
	// nlpodyssey would accept the header "null" as an empty file; the Rust crate would not.
	if trimmed[0] != '{' {
		return 0, errors.New("header is not a JSON object")
	}
	return n, nil
}

// headerLength reads the header length from the first 8 bytes of buf and checks it against the format's
// limit and a file of size bytes.
func headerLength(buf []byte, size uint64) (uint64, error) {
	if size < lengthBytes || len(buf) < lengthBytes {
		return 0, fmt.Errorf("is %d bytes long, too short for a safetensors file (its header length alone takes 8 bytes)", size)
	}
	// A clone made without git-lfs holds, in place of each weight file, a small text pointer.
	if bytes.HasPrefix(buf, []byte(lfsPointer)) || (len(buf) < len(lfsPointer) && bytes.HasPrefix([]byte(lfsPointer), buf)) {
		return 0, errors.New("is a Git LFS pointer, not the weights: fetch them with git lfs pull")
	}
	n := binary.LittleEndian.Uint64(buf)
	if n > maxHeaderBytes {
		return 0, fmt.Errorf("header length %d is over safetensors' limit of %d bytes: a corrupt file, or not a safetensors file", n, maxHeaderBytes)
	}
	if n > size-lengthBytes {
		return 0, fmt.Errorf("header length %d runs past the end of the file (%d bytes): a truncated file, or not a safetensors file", n, size)
	}
	return n, nil
}

// parseWithLibrary reads the header with nlpodyssey's safetensors.ReadMetadata, which copies names and
// shapes out of buf and checks offsets, sizes and the file length.
func parseWithLibrary(buf []byte) ([]Tensor, error) {
	n, md, err := safetensors.ReadMetadata(buf)
	if err != nil {
		return nil, err
	}
	infos := md.Tensors()
	ts := make([]Tensor, 0, len(infos))
	for name, info := range infos {
		shape, err := int64Shape(info.Shape)
		if err != nil {
			return nil, fmt.Errorf("tensor %s: %v", showName(name), err)
		}
		s, e := info.DataOffsets[0], info.DataOffsets[1]
		ts = append(ts, Tensor{
			Name:   name,
			DType:  info.DType.String(),
			Shape:  shape,
			Offset: int64(lengthBytes + n + s), // ≤ the file size, checked by ReadMetadata
			Size:   int64(e - s),
		})
	}
	sortByOffset(ts)
	return ts, nil
}

// sortByOffset puts tensors in data order; zero-size tensors share an offset, and their names break the
// tie so the order never depends on map iteration.
func sortByOffset(ts []Tensor) {
	slices.SortFunc(ts, func(a, b Tensor) int {
		return cmp.Or(cmp.Compare(a.Offset, b.Offset), cmp.Compare(a.Size, b.Size), strings.Compare(a.Name, b.Name))
	})
}

// int64Shape converts a shape to int64. safetensors allows any usize dimension, but a dimension over
// 2^63-1 can only appear beside a 0 (the byte count must fit the file) and has no use but to overflow
// whoever multiplies the shape later.
func int64Shape(shape []uint64) ([]int64, error) {
	out := make([]int64, len(shape))
	for i, d := range shape {
		if d > math.MaxInt64 {
			return nil, fmt.Errorf("shape %s has dimension %d, which is too large", formatShape(shape), d)
		}
		out[i] = int64(d)
	}
	return out, nil
}

// entry is one tensor's header entry as our own reader decodes it.
type entry struct {
	name       string
	dtype      string
	shape      []uint64
	begin, end uint64
}

// parseOwn reads a header the way safetensors' Rust crate and nlpodyssey's package do, with every
// dtype of the format and an error that says which tensor is wrong and how. dataLen is the number of
// bytes after the header. Tensors come in offset order.
func parseOwn(hdr []byte, dataLen uint64) ([]Tensor, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return nil, jsonError("header", err)
	}
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	// Per-entry problems are reported in name order, so the same file always gives the same error.
	slices.Sort(names)
	entries := make([]entry, 0, len(names))
	for _, name := range names {
		if name == "__metadata__" {
			if err := checkMetadata(raw[name]); err != nil {
				return nil, err
			}
			continue
		}
		e, err := decodeEntry(name, raw[name], dataLen)
		if err != nil {
			return nil, fmt.Errorf("tensor %s: %v", showName(name), err)
		}
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.begin, b.begin), cmp.Compare(a.end, b.end), strings.Compare(a.name, b.name))
	})
	// The data must be the tensors' bytes back to back from 0, in offset order, and nothing else.
	var end uint64
	for i, e := range entries {
		switch {
		case e.begin > end && i == 0:
			return nil, fmt.Errorf("tensor %s: data_offsets [%d, %d] start at byte %d of the data, not at 0: %d bytes belong to no tensor",
				showName(e.name), e.begin, e.end, e.begin, e.begin)
		case e.begin > end:
			p := entries[i-1]
			return nil, fmt.Errorf("tensor %s: data_offsets [%d, %d] leave a gap of %d bytes after tensor %s's [%d, %d]",
				showName(e.name), e.begin, e.end, e.begin-end, showName(p.name), p.begin, p.end)
		case e.begin < end:
			p := entries[i-1]
			return nil, fmt.Errorf("tensor %s: data_offsets [%d, %d] overlap tensor %s's [%d, %d]",
				showName(e.name), e.begin, e.end, showName(p.name), p.begin, p.end)
		}
		if e.end > dataLen {
			return nil, fmt.Errorf("tensor %s: data_offsets [%d, %d] run past the end of the file, whose data holds %d bytes: the file is truncated, or its header is wrong",
				showName(e.name), e.begin, e.end, dataLen)
		}
		end = e.end
	}
	if end != dataLen {
		return nil, fmt.Errorf("the tensors' data ends at byte %d of the data, but the file holds %d more bytes after it", end, dataLen-end)
	}
	ts := make([]Tensor, len(entries))
	base := lengthBytes + uint64(len(hdr))
	for i, e := range entries {
		shape, err := int64Shape(e.shape)
		if err != nil {
			return nil, fmt.Errorf("tensor %s: %v", showName(e.name), err)
		}
		ts[i] = Tensor{Name: e.name, DType: e.dtype, Shape: shape, Offset: int64(base + e.begin), Size: int64(e.end - e.begin)}
	}
	return ts, nil
}

// decodeEntry decodes and checks one tensor's {"dtype", "shape", "data_offsets"} on its own; where it
// lies among the others is parseOwn's business.
func decodeEntry(name string, raw json.RawMessage, dataLen uint64) (entry, error) {
	e := entry{name: name}
	if kind := jsonKind(raw); kind != "an object" {
		return e, fmt.Errorf("header entry is %s, not an object with dtype, shape and data_offsets", kind)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return e, jsonError("header entry", err)
	}
	for _, k := range []string{"dtype", "shape", "data_offsets"} {
		if _, ok := fields[k]; !ok {
			return e, fmt.Errorf("header entry has no %s", k)
		}
	}
	// nlpodyssey refuses any other key (the Rust crate ignores them); refusing keeps the two readers
	// in agreement, and no writer puts other keys there.
	if len(fields) != 3 {
		keys := make([]string, 0, len(fields))
		for k := range fields {
			if k != "dtype" && k != "shape" && k != "data_offsets" {
				keys = append(keys, strconv.Quote(k))
			}
		}
		slices.Sort(keys)
		return e, fmt.Errorf("header entry has the unexpected key %s (only dtype, shape and data_offsets belong there)", keys[0])
	}
	if kind := jsonKind(fields["dtype"]); kind != "a string" {
		return e, fmt.Errorf("dtype is %s, not a string", kind)
	}
	if err := json.Unmarshal(fields["dtype"], &e.dtype); err != nil {
		return e, jsonError("dtype", err)
	}
	bitsPer, ok := DTypeBits(e.dtype)
	if !ok {
		if _, ok := DTypeBits(strings.ToUpper(e.dtype)); ok {
			return e, fmt.Errorf("unknown dtype %s (safetensors writes %s)", strconv.Quote(e.dtype), strconv.Quote(strings.ToUpper(e.dtype)))
		}
		return e, fmt.Errorf("unknown dtype %s, which safetensors does not define", clip(e.dtype))
	}
	var err error
	if e.shape, err = naturals("shape", fields["shape"], -1); err != nil {
		return e, err
	}
	offsets, err := naturals("data_offsets", fields["data_offsets"], 2)
	if err != nil {
		return e, err
	}
	e.begin, e.end = offsets[0], offsets[1]
	if e.end < e.begin {
		return e, fmt.Errorf("data_offsets [%d, %d] are reversed", e.begin, e.end)
	}
	// Elements left to right with an overflow check, then bits, as the Rust crate's validate() does.
	elements := uint64(1)
	for _, d := range e.shape {
		hi, lo := bits.Mul64(elements, d)
		if hi != 0 {
			return e, fmt.Errorf("shape %s has more elements than 64 bits can count", formatShape(e.shape))
		}
		elements = lo
	}
	hi, nbits := bits.Mul64(elements, uint64(bitsPer))
	if hi != 0 {
		return e, fmt.Errorf("shape %s of %s has more bits than 64 bits can count", formatShape(e.shape), e.dtype)
	}
	if nbits%8 != 0 {
		return e, fmt.Errorf("shape %s of %s is %d bits, not a whole number of bytes", formatShape(e.shape), e.dtype, nbits)
	}
	if size := e.end - e.begin; size != nbits/8 {
		return e, fmt.Errorf("shape %s of %s needs %d bytes, but data_offsets [%d, %d] hold %d",
			formatShape(e.shape), e.dtype, nbits/8, e.begin, e.end, size)
	}
	return e, nil
}

// naturals decodes a JSON array of whole numbers ≥ 0 that fit in 64 bits; want < 0 takes any length.
func naturals(key string, raw json.RawMessage, want int) ([]uint64, error) {
	if kind := jsonKind(raw); kind != "an array" {
		return nil, fmt.Errorf("%s is %s, not an array of whole numbers", key, kind)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, jsonError(key, err)
	}
	if want >= 0 && len(items) != want {
		return nil, fmt.Errorf("%s has %d numbers, not %d", key, len(items), want)
	}
	out := make([]uint64, len(items))
	for i, it := range items {
		v, err := strconv.ParseUint(string(bytes.TrimSpace(it)), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s holds %s, which is not a whole number from 0 to 2^64-1", key, clip(string(bytes.TrimSpace(it))))
		}
		out[i] = v
	}
	return out, nil
}

// checkMetadata checks __metadata__, which safetensors defines as a string-to-string map (or null).
func checkMetadata(raw json.RawMessage) error {
	switch jsonKind(raw) {
	case "null":
		return nil
	case "an object":
	default:
		return fmt.Errorf("__metadata__ is %s, not an object of strings", jsonKind(raw))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return jsonError("__metadata__", err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if kind := jsonKind(m[k]); kind != "a string" {
			return fmt.Errorf("__metadata__ value for %s is %s, not a string", strconv.Quote(k), kind)
		}
	}
	return nil
}

// jsonKind names the kind of a JSON value from its first byte, for errors.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "missing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// jsonError words a decoding error of encoding/json on one line, with the byte where it happened.
func jsonError(what string, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%s is not valid JSON: %s (at byte %d of it)", what, oneLine(se.Error()), se.Offset)
	}
	return fmt.Errorf("%s is not valid JSON: %s", what, oneLine(err.Error()))
}

// formatShape prints a shape as the header writes it: [4096, 14336].
func formatShape(shape []uint64) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range shape {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatUint(d, 10))
	}
	b.WriteByte(']')
	return b.String()
}

// clip shortens a quoted piece of a hostile header to keep an error readable.
func clip(s string) string {
	const max = 40
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strconv.Quote(s)
}

// oneLine folds a library's message onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// fileError words an error of the file system after the path, which os already put in the error:
// "x.safetensors: permission denied" rather than "x.safetensors: open x.safetensors: permission denied".
func fileError(path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s: is a broken symbolic link (its target is missing: an unfinished download?): %w", showPath(path), fs.ErrNotExist)
		}
	}
	return fmt.Errorf("%s: %w", showPath(path), plainError(err))
}

// plainError strips the "op path:" that package os wraps around a system error.
func plainError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
