package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strings"

	parser "github.com/gpustack/gguf-parser-go"
)

// The parser (gguf-parser-go v0.28.2) bounds every string and array by the bytes left in the file, but
// it still holds each array item as a boxed Go value (about 24 bytes for a 1-byte item), reads the
// per-layer arrays it keeps even when told to skip large metadata, and panics on an array of arrays it
// is told to skip. scan walks the header first, with limits of its own, so a hostile file fails here
// in one line and memory stays bounded by these constants, not by the file's size.
const (
	maxTensors  = 1 << 20 // DeepSeek-V3 has under 100k tensors; a million leaves room
	maxKVs      = 1 << 16 // real files have a few dozen keys
	maxKeyLen   = 1 << 16 // the spec's limit on key length (65535)
	maxPerLayer = 1 << 16 // items of a per-layer array (head_count per block) the parser keeps
)

// perLayerSuffixes are the keys whose arrays the parser reads in full even with SkipLargeMetadata.
var perLayerSuffixes = []string{".feed_forward_length", ".attention.head_count", ".attention.head_count_kv", ".attention.sliding_window_pattern"}

// header is what scan learned of one file.
type header struct {
	version uint32
	tensors uint64
	end     uint64 // bytes of metadata and tensor infos, from the start of the file
}

const (
	magicLE = 0x46554747 // "GGUF" read little-endian
	magicBE = 0x47475546
)

// value types of the GGUF spec
const (
	tU8 = iota
	tI8
	tU16
	tI16
	tU32
	tI32
	tF32
	tBool
	tString
	tArray
	tU64
	tI64
	tF64
	tCount
)

var fixedSize = map[uint32]uint64{tU8: 1, tI8: 1, tBool: 1, tU16: 2, tI16: 2, tU32: 4, tI32: 4, tF32: 4, tU64: 8, tI64: 8, tF64: 8}

type scanner struct {
	r    *bufio.Reader
	bo   binary.ByteOrder
	v1   bool
	pos  uint64
	size uint64
}

var errTruncated = errors.New("truncated")

func (s *scanner) read(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.r, b); err != nil {
		return nil, errTruncated
	}
	s.pos += uint64(n)
	return b, nil
}

func (s *scanner) u32() (uint32, error) {
	b, err := s.read(4)
	if err != nil {
		return 0, err
	}
	return s.bo.Uint32(b), nil
}

func (s *scanner) u64() (uint64, error) {
	b, err := s.read(8)
	if err != nil {
		return 0, err
	}
	return s.bo.Uint64(b), nil
}

// count reads a length or count: 32 bits in version 1, 64 after.
func (s *scanner) count() (uint64, error) {
	if s.v1 {
		v, err := s.u32()
		return uint64(v), err
	}
	return s.u64()
}

func (s *scanner) skip(n uint64) error {
	if n > s.size-s.pos {
		return errTruncated
	}
	for n > 0 {
		step := min(n, 1<<30)
		d, err := s.r.Discard(int(step))
		s.pos += uint64(d)
		if err != nil {
			return errTruncated
		}
		n -= step
	}
	return nil
}

// str reads a string; keep says whether its bytes are wanted (keys) or only skipped.
func (s *scanner) str(limit uint64, keep bool) (string, error) {
	n, err := s.count()
	if err != nil {
		return "", err
	}
	if n > limit {
		return "", fmt.Errorf("a string of %d bytes", n)
	}
	if !keep {
		return "", s.skip(n)
	}
	if n > s.size-s.pos {
		return "", errTruncated
	}
	b, err := s.read(int(n))
	return string(b), err
}

// scan checks a GGUF header from r (size bytes long) within the limits above.
func scan(r io.Reader, size int64) (header, error) {
	s := &scanner{r: bufio.NewReaderSize(r, 64<<10), size: uint64(max(size, 0))}
	var h header
	mb, err := s.read(4)
	if err != nil {
		return h, errors.New("too short to be a GGUF file")
	}
	switch binary.LittleEndian.Uint32(mb) {
	case magicLE:
		s.bo = binary.LittleEndian
	case magicBE:
		s.bo = binary.BigEndian
	default:
		return h, fmt.Errorf("not a GGUF file (bad magic %q)", printable(mb))
	}
	if h.version, err = s.u32(); err != nil {
		return h, errors.New("truncated header")
	}
	if h.version < 1 || h.version > 3 {
		return h, fmt.Errorf("GGUF version %d is not one Layerscope reads (1 to 3)", h.version)
	}
	s.v1 = h.version == 1
	if h.tensors, err = s.count(); err != nil {
		return h, errors.New("truncated header")
	}
	if h.tensors > maxTensors {
		return h, fmt.Errorf("the header claims %d tensors, more than the %d Layerscope reads", h.tensors, maxTensors)
	}
	kvs, err := s.count()
	if err != nil {
		return h, errors.New("truncated header")
	}
	if kvs > maxKVs {
		return h, fmt.Errorf("the header claims %d metadata keys, more than the %d Layerscope reads", kvs, maxKVs)
	}
	for i := uint64(0); i < kvs; i++ {
		key, err := s.str(maxKeyLen, true)
		if err != nil {
			return h, kvError(i, "", err)
		}
		typ, err := s.u32()
		if err != nil {
			return h, kvError(i, key, err)
		}
		if err := s.value(key, typ); err != nil {
			return h, kvError(i, key, err)
		}
	}
	for i := uint64(0); i < h.tensors; i++ {
		if err := s.tensorInfo(); err != nil {
			if errors.Is(err, errTruncated) {
				err = errors.New("the file ends inside the tensor infos (truncated)")
			}
			return h, fmt.Errorf("tensor %d: %v", i, err)
		}
	}
	h.end = s.pos
	return h, nil
}

// maxDims is ggml's GGML_MAX_DIMS.
const maxDims = 4

// tensorInfo checks one tensor info: its name, at most four dimensions whose product fits, and a type
// whose block layout ggml defines (the parser divides by the block size, so a type removed from ggml
// such as Q4_2 would otherwise crash it).
func (s *scanner) tensorInfo() error {
	name, err := s.str(maxKeyLen, true)
	if err != nil {
		return err
	}
	nd, err := s.u32()
	if err != nil {
		return err
	}
	if nd == 0 || nd > maxDims {
		return fmt.Errorf("%s has %d dimensions (ggml allows 1 to %d)", printable([]byte(name)), nd, maxDims)
	}
	elems := uint64(1)
	for d := uint32(0); d < nd; d++ {
		n, err := s.count()
		if err != nil {
			return err
		}
		hi, lo := bits.Mul64(elems, n)
		if hi != 0 || lo > 1<<62 {
			return fmt.Errorf("%s has more elements than any tensor can", printable([]byte(name)))
		}
		elems = lo
	}
	typ, err := s.u32()
	if err != nil {
		return err
	}
	if tt, ok := parser.GGMLType(typ).Trait(); !ok || tt.BlockSize == 0 || tt.TypeSize == 0 {
		return fmt.Errorf("%s has GGML type %d, which has no known layout (unknown, or removed from ggml)", printable([]byte(name)), typ)
	}
	_, err = s.u64() // offset
	return err
}

func kvError(i uint64, key string, err error) error {
	if errors.Is(err, errTruncated) {
		err = errors.New("the file ends inside the metadata (truncated)")
	}
	if key == "" {
		return fmt.Errorf("metadata entry %d: %v", i, err)
	}
	return fmt.Errorf("metadata key %s: %v", printable([]byte(key)), err)
}

func (s *scanner) value(key string, typ uint32) error {
	if n, ok := fixedSize[typ]; ok {
		return s.skip(n)
	}
	switch typ {
	case tString:
		_, err := s.str(s.size, false)
		return err
	case tArray:
		et, err := s.u32()
		if err != nil {
			return err
		}
		n, err := s.count()
		if err != nil {
			return err
		}
		if et == tArray {
			return errors.New("an array of arrays, which no GGUF writer produces")
		}
		if et >= tCount {
			return fmt.Errorf("an array of unknown value type %d", et)
		}
		left := s.size - s.pos
		if sz, ok := fixedSize[et]; ok {
			if n > left/sz {
				return fmt.Errorf("an array of %d items, more than the file holds (truncated or corrupt)", n)
			}
		} else if n > left/8 { // a string is at least its 8-byte length
			return fmt.Errorf("an array of %d strings, more than the file holds (truncated or corrupt)", n)
		}
		for _, suf := range perLayerSuffixes {
			if strings.HasSuffix(key, suf) && n > maxPerLayer {
				return fmt.Errorf("a per-layer array of %d items, more than the %d Layerscope reads", n, maxPerLayer)
			}
		}
		if sz, ok := fixedSize[et]; ok {
			return s.skip(n * sz)
		}
		for j := uint64(0); j < n; j++ {
			if _, err := s.str(s.size, false); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown value type %d", typ)
}

// printable shows bytes from a file safely in a one-line message.
func printable(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			sb.WriteByte(c)
		} else {
			fmt.Fprintf(&sb, `\x%02x`, c)
		}
		if sb.Len() > 80 {
			sb.WriteString("…")
			break
		}
	}
	return sb.String()
}
