// Package weights reads the tensor headers of safetensors files: every tensor's name, dtype, shape and
// where its bytes lie, without reading the bytes themselves. A model folder is read the way Hugging Face
// lays it out: model.safetensors.index.json and its shards, or one model.safetensors, or loose shards.
//
// Headers come from untrusted files, so every failure is a one-line error that starts with the file's
// path and says what is wrong; no input makes it panic. Nothing is ever written into a model folder.
package weights

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Tensor is one tensor's header entry.
type Tensor struct {
	Name  string
	DType string // as in the header: "BF16", "F32", "F8_E4M3", ...
	Shape []int64
	File  string // absolute path of the .safetensors file holding it
	// Offset is the absolute byte offset of its data in File: 8 + header length + data_offsets[0].
	Offset int64
	Size   int64 // bytes
	// Pick is set on a tensor of a width-pruned model that is not yet written (modelio.NarrowMLP):
	// the bytes at Offset are then the source tensor of Pick.SourceShape, and this tensor is its
	// slices Pick.Index along Pick.Axis; Shape and Size are the picked tensor's. Readers of the bytes
	// must honour it: the prune writer and the compute engine gather the slices (PickLayout).
	Pick *Pick
}

// Pick selects slices of a source tensor along one axis: the kept neurons' rows of gate/up, the
// kept columns of down_proj.
type Pick struct {
	Axis        int
	Index       []int // source indices along Axis, in the order written
	SourceShape []int64
}

// PickLayout views the source tensor of t, which picks slices of it, as bytes [outer, n, inner]: n
// slices along the picked axis, each inner bytes long, repeated outer times. The kept slices are
// Pick.Index of the n.
func (t *Tensor) PickLayout() (outer, n, inner int64, err error) {
	p := t.Pick
	if p == nil {
		return 0, 0, 0, fmt.Errorf("tensor %s picks no slices", t.Name)
	}
	if p.Axis < 0 || p.Axis >= len(p.SourceShape) || t.Elements() == 0 {
		return 0, 0, 0, fmt.Errorf("tensor %s: bad pick of axis %d from %v", t.Name, p.Axis, p.SourceShape)
	}
	outer, inner = 1, t.Size/t.Elements()
	for _, d := range p.SourceShape[:p.Axis] {
		outer *= d
	}
	for _, d := range p.SourceShape[p.Axis+1:] {
		inner *= d
	}
	return outer, p.SourceShape[p.Axis], inner, nil
}

// SourceSize is the number of bytes t's data occupies in File: Size, or the source tensor's size
// when t picks slices of it.
func (t *Tensor) SourceSize() int64 {
	if t.Pick == nil || t.Elements() == 0 {
		return t.Size
	}
	n := int64(1)
	for _, d := range t.Pick.SourceShape {
		n *= d
	}
	return t.Size / t.Elements() * n
}

// Elements is the number of elements of t (1 for a scalar).
func (t *Tensor) Elements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		// No overflow: the header check proved the product fits in 62 bits, or it holds a 0, and then a
		// wrapped partial product still ends at 0.
		n *= d
	}
	return n
}

// Set is every tensor of a model, with the files they came from.
type Set struct {
	Tensors map[string]*Tensor
	Names   []string // in file order then header offset order
	Files   []string // the .safetensors files read, in order (absolute paths)
	// Warnings are one-line notes on a folder that is readable but inconsistent, e.g. an index entry
	// naming a tensor its shard lacks.
	Warnings []string
}

// dtypeBits is the element size in bits of every dtype the safetensors format defines (the Rust crate's
// Dtype::bitsize, safetensors 0.6/0.7). Sub-byte dtypes (F4, F6_*) are packed: a tensor of them must
// fill a whole number of bytes.
var dtypeBits = map[string]int{
	"BOOL":        8,
	"F4":          4, // float4_e2m1, two per byte
	"F6_E2M3":     6,
	"F6_E3M2":     6,
	"U8":          8,
	"I8":          8,
	"F8_E5M2":     8,
	"F8_E4M3":     8,
	"F8_E8M0":     8,
	"F8_E4M3FNUZ": 8,
	"F8_E5M2FNUZ": 8,
	"I16":         16,
	"U16":         16,
	"F16":         16,
	"BF16":        16,
	"I32":         32,
	"U32":         32,
	"F32":         32,
	"C64":         64, // complex64: two F32
	"F64":         64,
	"I64":         64,
	"U64":         64,
}

// DTypeBits returns the element size in bits of a safetensors dtype, and false for a name the format
// does not define.
func DTypeBits(dtype string) (int, bool) {
	b, ok := dtypeBits[dtype]
	return b, ok
}

// DTypes returns every dtype name the safetensors format defines, sorted.
func DTypes() []string {
	out := make([]string, 0, len(dtypeBits))
	for d := range dtypeBits {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

// ReadFile reads one .safetensors file as a Set.
func ReadFile(path string) (*Set, error) {
	return readFiles([]string{path})
}

func newSet() *Set { return &Set{Tensors: map[string]*Tensor{}} }

// add appends the tensors of one file; a name already read from another file is an error naming both.
func (s *Set) add(path string, ts []Tensor) error {
	for i := range ts {
		t := &ts[i]
		if prev, ok := s.Tensors[t.Name]; ok {
			return errorf(path, "tensor %s is also in %s: a tensor must be in one file only",
				showName(t.Name), showPath(filepath.Base(prev.File)))
		}
		s.Tensors[t.Name] = t
		s.Names = append(s.Names, t.Name)
	}
	return nil
}

// errorf builds the package's error shape: the path first, then what is wrong, on one line.
func errorf(path, format string, args ...any) error {
	return fmt.Errorf("%s: %s", showPath(path), fmt.Sprintf(format, args...))
}

// showName prints a tensor name as it is when it is plain, and quoted when it is empty or holds spaces
// or control characters, so a hostile header cannot break an error onto two lines or hide in blanks.
func showName(s string) string {
	if s == "" || strings.IndexFunc(s, func(r rune) bool { return !unicode.IsGraphic(r) || unicode.IsSpace(r) }) >= 0 {
		return strconv.Quote(s)
	}
	return s
}

// showPath is showName for paths, which may hold spaces ("My Models/llama") but not line breaks.
func showPath(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) >= 0 {
		return strconv.Quote(s)
	}
	return s
}
