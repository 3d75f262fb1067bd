package compute

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"unsafe"

	"github.com/edsrzf/mmap-go"
	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
	"github.com/layerscope/layerscope/modelio/printable"
	"github.com/layerscope/layerscope/modelio/weights"
	"github.com/x448/float16"

	"github.com/layerscope/layerscope/modelio/safefile"
)

// store maps a model's safetensors files read-only and hands out tensor data converted to the compute
// dtype. The only host copy is the conversion itself: an F32 tensor read as F32 is a view of the map.
// Nothing is ever written to the files.
type store struct {
	set  *weights.Set
	maps map[string]mmap.MMap
	// tensorName maps a module-tree name to the checkpoint's (modelio.Model.TensorName); nil: as is.
	tensorName func(string) string
}

// openStore maps every file of set. Close releases the maps; views handed out before become invalid.
// tensorName is how the checkpoint names a module-tree parameter (modelio.Model.TensorName).
func openStore(set *weights.Set, tensorName func(string) string) (*store, error) {
	s := &store{set: set, maps: map[string]mmap.MMap{}, tensorName: tensorName}
	for _, path := range set.Files {
		f, info, err := safefile.Open(path) // a file swapped for a FIFO must not hang the run
		if err != nil {
			s.Close()
			return nil, err
		}
		if info.Size() == 0 {
			f.Close()
			continue // an empty file holds no tensor data; a tensor pointing into it fails below
		}
		m, err := mmap.Map(f, mmap.RDONLY, 0)
		f.Close() // the map keeps its own reference to the file
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("%s: cannot map the file: %v", path, err)
		}
		s.maps[path] = m
	}
	return s, nil
}

// Close unmaps every file.
func (s *store) Close() error {
	var first error
	for path, m := range s.maps {
		if err := m.Unmap(); err != nil && first == nil {
			first = fmt.Errorf("%s: %v", path, err)
		}
		delete(s.maps, path)
	}
	return first
}

// raw returns a tensor's header entry and its bytes, a view into the map. A tensor missing from the
// weights is an error that names it.
func (s *store) raw(name string) (*weights.Tensor, []byte, error) {
	t, ok := s.set.Tensors[name]
	if !ok {
		return nil, nil, fmt.Errorf("missing %s", name)
	}
	m := s.maps[t.File]
	if t.Pick != nil { // a width-pruned model evaluated without writing it: pick.go
		return picked(t, m)
	}
	if t.Offset < 0 || t.Size < 0 || t.Offset+t.Size > int64(len(m)) {
		return nil, nil, fmt.Errorf("%s: tensor %s lies past the end of the file (bytes %d to %d of %d)",
			t.File, name, t.Offset, t.Offset+t.Size, len(m))
	}
	return t, m[t.Offset : t.Offset+t.Size : t.Offset+t.Size], nil
}

// guard runs read, which reads the mapped bytes of tensor name, and turns a fault into an error: a
// file truncated by another program after it was mapped makes reads past its new end SIGBUS, which
// would otherwise crash the whole process with a goroutine dump (the header reader guards the same
// way). SetPanicOnFault holds for the calling goroutine only, so every goroutine that touches the map
// goes through here.
func (s *store) guard(name string, read func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(interface{ Addr() uintptr }); !ok {
				panic(r)
			}
			file := "the weights"
			if t, ok := s.set.Tensors[name]; ok {
				file = t.File
			}
			err = fmt.Errorf("%s: the file changed or became unreadable while tensor %s was read (truncated by another program?)",
				printable.String(file), printable.String(name))
		}
	}()
	return read()
}

// touch reads one byte of every page of b under guard, so a zero-copy view handed to the device
// backend's C code has its pages in memory, and a truncated file is an error here rather than a fault
// in C, which no Go code can recover.
func (s *store) touch(name string, b []byte) error {
	return s.guard(name, func() error {
		var sum byte
		for i := 0; i < len(b); i += 4096 { // the smallest page size in use
			sum += b[i]
		}
		if len(b) > 0 {
			sum += b[len(b)-1]
		}
		touched = sum
		return nil
	})
}

// touched keeps touch's reads from being optimised away.
var touched byte

// elemBytes is the size of one element of the float dtypes Layerscope computes with.
var elemBytes = map[string]int{"F32": 4, "F16": 2, "BF16": 2, "F64": 8}

// check returns a tensor's bytes after checking that its dtype is a float Layerscope reads and that
// its shape is want (nil: any shape).
func (s *store) check(name string, want []int) (*weights.Tensor, []byte, error) {
	t, b, err := s.raw(name)
	if err != nil {
		return nil, nil, err
	}
	eb, ok := elemBytes[t.DType]
	if !ok {
		return nil, nil, fmt.Errorf("%s has dtype %s: Layerscope computes with F32, F16 and BF16 weights only", name, t.DType)
	}
	if int64(len(b)) != t.Elements()*int64(eb) {
		return nil, nil, fmt.Errorf("%s: %d bytes for %v of %s", name, len(b), t.Shape, t.DType)
	}
	if want != nil && !sameShape(t.Shape, want) {
		return nil, nil, fmt.Errorf("%s has shape %v, config.json implies %v", name, t.Shape, want)
	}
	return t, b, nil
}

func sameShape(got []int64, want []int) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != int64(want[i]) {
			return false
		}
	}
	return true
}

// littleEndian is true on the machines where a safetensors file's bytes can be viewed in place.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// f32View returns b as []float32 without a copy when it is F32, aligned and the host is little endian.
func f32View(dtype string, b []byte) ([]float32, bool) {
	if dtype != "F32" || !littleEndian || len(b) == 0 || uintptr(unsafe.Pointer(&b[0]))%4 != 0 {
		return nil, false
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4), true
}

// u16View is f32View for 16-bit dtypes.
func u16View(b []byte) ([]uint16, bool) {
	if !littleEndian || len(b) == 0 || uintptr(unsafe.Pointer(&b[0]))%2 != 0 {
		return nil, false
	}
	return unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), len(b)/2), true
}

// flatBytes views a float slice's memory as bytes.
func flatBytes(flat any) []byte {
	switch v := flat.(type) {
	case []float32:
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 4*len(v))
	case []float16.Float16:
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 2*len(v))
	case []bfloat16.BFloat16:
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 2*len(v))
	}
	return nil
}

// castU16 reinterprets 16-bit words as a 16-bit float type, without a copy.
func castU16[T ~uint16](v []uint16) []T {
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(v))), len(v))
}

// F32 returns a tensor as float32: a view of the map for an aligned F32 tensor, else a converted copy.
func (s *store) F32(name string, want []int) ([]float32, error) {
	t, b, err := s.check(name, want)
	if err != nil {
		return nil, err
	}
	if v, ok := f32View(t.DType, b); ok {
		return v, s.touch(name, b)
	}
	out := make([]float32, t.Elements())
	return out, s.guard(name, func() error { decodeF32(out, t.DType, b); return nil })
}

// decodeF32 converts the little-endian elements of b, of dtype, into dst (len(dst) elements).
func decodeF32(dst []float32, dtype string, b []byte) {
	switch dtype {
	case "F32":
		if v, ok := f32View(dtype, b); ok {
			copy(dst, v)
			return
		}
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case "BF16":
		if v, ok := u16View(b); ok {
			for i, u := range v[:len(dst)] {
				dst[i] = math.Float32frombits(uint32(u) << 16)
			}
			return
		}
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
		}
	case "F16":
		if v, ok := u16View(b); ok {
			for i, u := range v[:len(dst)] {
				dst[i] = float16.Frombits(u).Float32()
			}
			return
		}
		for i := range dst {
			dst[i] = float16.Frombits(binary.LittleEndian.Uint16(b[2*i:])).Float32()
		}
	case "F64":
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
	}
}

// fill converts a tensor into dst, a []float32, []float16.Float16 or []bfloat16.BFloat16 of its
// element count: the upload path, which writes straight into a device-shared buffer where the backend
// has one. A 16-bit tensor read as its own dtype is a plain copy.
func (s *store) fill(name string, want []int, dst any) error {
	t, b, err := s.check(name, want)
	if err != nil {
		return err
	}
	return s.guard(name, func() error {
		if err := convertInto(t.DType, b, int(t.Elements()), dst); err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		return nil
	})
}

// convertInto converts the first n elements of b, of dtype, into dst.
func convertInto(dtype string, b []byte, n int, dst any) error {
	switch d := dst.(type) {
	case []float32:
		decodeF32(d[:n], dtype, b)
	case []float16.Float16:
		if dtype == "F16" {
			copyU16(unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(d))), n), b)
			return nil
		}
		convertChunks(dtype, b, n, func(off int, v []float32) {
			for i, x := range v {
				d[off+i] = float16.Fromfloat32(x)
			}
		})
	case []bfloat16.BFloat16:
		if dtype == "BF16" {
			copyU16(unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(d))), n), b)
			return nil
		}
		convertChunks(dtype, b, n, func(off int, v []float32) {
			for i, x := range v {
				d[off+i] = bf16RNE(x)
			}
		})
	default:
		return fmt.Errorf("cannot convert into %T", dst)
	}
	return nil
}

// convertChunks decodes b to float32 a chunk at a time and hands each chunk to put, so a conversion
// between two 16-bit formats needs no tensor-sized float32 buffer.
func convertChunks(dtype string, b []byte, n int, put func(off int, v []float32)) {
	const chunk = 1 << 14
	eb := elemBytes[dtype]
	buf := make([]float32, min(chunk, n))
	for off := 0; off < n; off += chunk {
		m := min(chunk, n-off)
		decodeF32(buf[:m], dtype, b[off*eb:(off+m)*eb])
		put(off, buf[:m])
	}
}

func copyU16(dst []uint16, b []byte) {
	if v, ok := u16View(b); ok {
		copy(dst, v)
		return
	}
	for i := range dst {
		dst[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
}

// bf16RNE rounds a float32 to bfloat16 to nearest even, as torch's .to(torch.bfloat16) does (GoMLX's
// bfloat16.FromFloat32 truncates).
func bf16RNE(x float32) bfloat16.BFloat16 {
	u := math.Float32bits(x)
	if u&0x7f800000 == 0x7f800000 && u&0x7fffff != 0 {
		return bfloat16.BFloat16(u>>16 | 0x40) // keep NaN a NaN
	}
	u += 0x7fff + (u>>16)&1
	return bfloat16.BFloat16(u >> 16)
}

// rows gathers rows of a 2-D tensor ([rows, width]) as float32 into dst, row ids[i] into
// dst[i*width:]. Only the rows asked for are read, so a large embedding table is never converted whole.
func (s *store) rows(name string, width int, ids []int, dst []float32) error {
	t, b, err := s.check(name, nil)
	if err != nil {
		return err
	}
	if len(t.Shape) != 2 || t.Shape[1] != int64(width) {
		return fmt.Errorf("%s has shape %v, config.json implies [%d %d]", name, t.Shape, t.Shape[0], width)
	}
	eb := elemBytes[t.DType]
	return s.guard(name, func() error {
		for i, id := range ids {
			if id < 0 || int64(id) >= t.Shape[0] {
				return fmt.Errorf("token id %d is outside %s's %d rows", id, name, t.Shape[0])
			}
			row := b[id*width*eb : (id+1)*width*eb]
			decodeF32(dst[i*width:(i+1)*width], t.DType, row)
		}
		return nil
	})
}

func plainErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
