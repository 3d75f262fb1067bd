// Package weightstest writes real safetensors files and model folders for tests, so that tests of any
// package read the bytes a Python writer would produce instead of mocking the reader.
//
// It is for tests only. It does not import package weights, so that package's own tests can use it;
// its dtype table is a second, independent copy that those tests compare against.
package weightstest

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Spec is one tensor to write. Build it with T, or with keyed fields: go vet refuses unkeyed literals
// of a struct from another package.
type Spec struct {
	Name  string
	DType string // a safetensors dtype: "BF16", "F8_E4M3", "F4", ...
	Shape []int64
}

// T is a Spec: T("model.norm.weight", "BF16", 4096).
func T(name, dtype string, shape ...int64) Spec {
	if shape == nil {
		shape = []int64{} // a scalar
	}
	return Spec{Name: name, DType: dtype, Shape: shape}
}

// IndexName is the index file of a sharded Hugging Face model.
const IndexName = "model.safetensors.index.json"

// bits is the element size of each safetensors dtype (the Rust crate's Dtype::bitsize).
var bits = map[string]int64{
	"BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8,
	"F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8,
	"I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32,
	"C64": 64, "F64": 64, "I64": 64, "U64": 64,
}

// Bits returns the element size in bits of a dtype, and false for a name safetensors does not define.
func Bits(dtype string) (int64, bool) {
	b, ok := bits[dtype]
	return b, ok
}

// Header returns what precedes the data in a safetensors file holding specs, back to back in the given
// order: the 8-byte little-endian header length and the JSON header, padded with spaces to a multiple of
// 8 bytes as the safetensors writers do. It also returns the length of the data that follows.
// The header opens with {"__metadata__":{"format":"pt"}}, as torch's save_file writes it.
func Header(tb testing.TB, specs []Spec) (prefix []byte, dataLen int64) {
	tb.Helper()
	var b strings.Builder
	b.WriteString(`{"__metadata__":{"format":"pt"}`)
	for _, s := range specs {
		nbits, ok := Bits(s.DType)
		if !ok {
			tb.Fatalf("weightstest: tensor %s: unknown dtype %q (write it with WriteRaw)", s.Name, s.DType)
		}
		elements := int64(1)
		for _, d := range s.Shape {
			if d < 0 {
				tb.Fatalf("weightstest: tensor %s: negative dimension in %v", s.Name, s.Shape)
			}
			elements *= d
		}
		if elements*nbits%8 != 0 {
			tb.Fatalf("weightstest: tensor %s: %v of %s is not a whole number of bytes", s.Name, s.Shape, s.DType)
		}
		size := elements * nbits / 8
		name, _ := json.Marshal(s.Name)
		shape := make([]string, len(s.Shape))
		for i, d := range s.Shape {
			shape[i] = strconv.FormatInt(d, 10)
		}
		fmt.Fprintf(&b, `,%s:{"dtype":%q,"shape":[%s],"data_offsets":[%d,%d]}`,
			name, s.DType, strings.Join(shape, ","), dataLen, dataLen+size)
		dataLen += size
	}
	b.WriteString("}")
	return frame(b.String()), dataLen
}

// frame puts the length in front of a header, padding it to 8 bytes.
func frame(header string) []byte {
	if pad := (8 - len(header)%8) % 8; pad > 0 {
		header += strings.Repeat(" ", pad)
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(out, header...)
}

// Bytes returns a whole safetensors file holding specs, with zeros as data.
func Bytes(tb testing.TB, specs []Spec) []byte {
	tb.Helper()
	prefix, dataLen := Header(tb, specs)
	return append(prefix, make([]byte, dataLen)...)
}

// WriteFile writes a safetensors file holding specs, with zeros as data.
func WriteFile(tb testing.TB, path string, specs []Spec) {
	tb.Helper()
	if err := os.WriteFile(path, Bytes(tb, specs), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// WriteSparse writes a safetensors file holding specs whose data is a hole: the header is written and
// the file extended to its full length, so an 8B model's shards take a few kilobytes of disk and read
// back as zeros.
func WriteSparse(tb testing.TB, path string, specs []Spec) {
	tb.Helper()
	prefix, dataLen := Header(tb, specs)
	writeExtended(tb, path, prefix, int64(len(prefix))+dataLen)
}

// WriteRaw writes a file with any header text, framed by its true length, followed by dataLen zero
// bytes (a hole): for headers no valid writer would produce.
func WriteRaw(tb testing.TB, path, header string, dataLen int64) {
	tb.Helper()
	prefix := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	prefix = append(prefix, header...)
	writeExtended(tb, path, prefix, int64(len(prefix))+dataLen)
}

func writeExtended(tb testing.TB, path string, prefix []byte, size int64) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := f.Write(prefix); err != nil {
		f.Close()
		tb.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// ShardName is the Hugging Face name of shard i (from 1) of n: model-00001-of-00004.safetensors.
func ShardName(i, n int) string {
	return fmt.Sprintf("model-%05d-of-%05d.safetensors", i, n)
}

// WriteIndex writes dir/model.safetensors.index.json with the given weight_map (tensor → file name).
func WriteIndex(tb testing.TB, dir string, weightMap map[string]string) {
	tb.Helper()
	data, err := json.MarshalIndent(map[string]any{
		"metadata":   map[string]any{"total_size": 0},
		"weight_map": weightMap,
	}, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, IndexName), data, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// WriteSharded writes a sharded model into dir: shard i holds shards[i], as a sparse file named
// ShardName(i+1, len(shards)), and the index maps every tensor to its shard. It returns the shard names.
func WriteSharded(tb testing.TB, dir string, shards [][]Spec) []string {
	tb.Helper()
	names := make([]string, len(shards))
	weightMap := map[string]string{}
	for i, specs := range shards {
		names[i] = ShardName(i+1, len(shards))
		WriteSparse(tb, filepath.Join(dir, names[i]), specs)
		for _, s := range specs {
			weightMap[s.Name] = names[i]
		}
	}
	WriteIndex(tb, dir, weightMap)
	return names
}
