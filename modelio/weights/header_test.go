package weights

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nlpodyssey/safetensors"

	"github.com/layerscope/layerscope/modelio/weights/weightstest"
)

type spec = weightstest.Spec

// T is weightstest.T, short for the tables.
var T = weightstest.T

// headerPrefixLen is the length of what precedes the data in a file weightstest writes for specs.
func headerPrefixLen(t testing.TB, specs []spec) int64 {
	prefix, _ := weightstest.Header(t, specs)
	return int64(len(prefix))
}

func TestDTypeBits(t *testing.T) {
	for _, d := range DTypes() {
		got, _ := DTypeBits(d)
		want, ok := weightstest.Bits(d)
		if !ok || int64(got) != want {
			t.Errorf("DTypeBits(%s) = %d; weightstest says %d (known %v)", d, got, want, ok)
		}
	}
	for _, d := range []string{"BOOL", "U8", "I8", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64"} {
		lib, err := safetensors.ParseDType(d)
		if err != nil {
			t.Fatalf("nlpodyssey lacks %s: %v", d, err)
		}
		if got, _ := DTypeBits(d); uint64(got) != 8*lib.Size() {
			t.Errorf("DTypeBits(%s) = %d; nlpodyssey says %d bytes", d, got, lib.Size())
		}
	}
	for _, d := range []string{"F8_E4M3", "F8_E5M2", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "F4", "F6_E2M3", "F6_E3M2", "C64"} {
		if _, ok := DTypeBits(d); !ok {
			t.Errorf("DTypeBits(%s) unknown", d)
		}
	}
	for _, d := range []string{"", "bf16", "Q4_K", "F8"} {
		if b, ok := DTypeBits(d); ok {
			t.Errorf("DTypeBits(%q) = %d, true; want unknown", d, b)
		}
	}
}

func TestReadHeader(t *testing.T) {
	tests := []struct {
		name  string
		specs []spec
	}{
		{"one BF16 matrix", []spec{T("model.embed_tokens.weight", "BF16", 32, 16)}},
		{"standard dtypes (nlpodyssey reads it)", []spec{
			T("b.weight", "F32", 3, 5),
			T("a.weight", "BF16", 7),
			T("c.scalar", "I64"),
			T("d.empty", "F16", 0, 4),
			T("e.mask", "BOOL", 3),
		}},
		{"FP8 with scales (our reader)", []spec{
			T("model.layers.0.mlp.down_proj.weight", "F8_E4M3", 64, 32),
			T("model.layers.0.mlp.down_proj.weight_scale_inv", "F32", 1, 1),
			T("model.layers.0.input_layernorm.weight", "BF16", 64),
		}},
		{"MXFP4 with E8M0 scales (our reader)", []spec{
			T("experts.gate_up_proj_blocks", "F4", 4, 3, 2),
			T("experts.gate_up_proj_scales", "F8_E8M0", 4, 3),
		}},
		{"sub-byte odd count made whole", []spec{T("x", "F6_E2M3", 4), T("y", "F4", 2)}},
		{"no tensors", nil},
	}
	// One tensor of every dtype, shaped so sub-byte dtypes fill whole bytes.
	var all []spec
	for _, d := range DTypes() {
		all = append(all, spec{Name: "t." + d, DType: d, Shape: []int64{4, 6}})
	}
	tests = append(tests, struct {
		name  string
		specs []spec
	}{"every dtype", all})

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "model.safetensors")
			weightstest.WriteFile(t, path, tc.specs)
			got, err := ReadHeader(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.specs) {
				t.Fatalf("got %d tensors, want %d", len(got), len(tc.specs))
			}
			abs, _ := filepath.Abs(path)
			off := headerPrefixLen(t, tc.specs)
			for i, s := range tc.specs { // weightstest lays them out in spec order
				g := got[i]
				bitsPer, _ := weightstest.Bits(s.DType)
				n := int64(1)
				for _, d := range s.Shape {
					n *= d
				}
				want := Tensor{Name: s.Name, DType: s.DType, Shape: s.Shape, File: abs, Offset: off, Size: n * bitsPer / 8}
				if want.Shape == nil {
					want.Shape = []int64{}
				}
				if !reflect.DeepEqual(g, want) {
					t.Errorf("tensor %d:\n got %+v\nwant %+v", i, g, want)
				}
				if g.Elements() != n {
					t.Errorf("%s: Elements() = %d, want %d", s.Name, g.Elements(), n)
				}
				off += want.Size
			}
			if info, _ := os.Stat(path); len(got) > 0 && off != info.Size() {
				t.Errorf("tensors end at %d; file is %d bytes", off, info.Size())
			}
		})
	}
}

// TestReadHeaderOffsetOrder checks that tensors come in offset order whatever order the header lists
// them in, zero-size tensors sharing an offset ordered by name.
func TestReadHeaderOffsetOrder(t *testing.T) {
	for _, c := range []struct {
		dtype string
		size  int
	}{{"F32", 4}, {"F8_E4M3", 1}} { // the library's path and ours
		path := filepath.Join(t.TempDir(), "x.safetensors")
		weightstest.WriteRaw(t, path, fmt.Sprintf(`{"a":{"dtype":"%[1]s","shape":[2],"data_offsets":[%[2]d,%[3]d]},`+
			`"z1":{"dtype":"%[1]s","shape":[0],"data_offsets":[0,0]},`+
			`"b":{"dtype":"%[1]s","shape":[1],"data_offsets":[0,%[2]d]},`+
			`"z0":{"dtype":"%[1]s","shape":[0],"data_offsets":[0,0]}}`, c.dtype, c.size, 3*c.size), int64(3*c.size))
		got, err := ReadHeader(path)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, g := range got {
			names = append(names, g.Name)
		}
		if want := []string{"z0", "z1", "b", "a"}; !reflect.DeepEqual(names, want) {
			t.Errorf("%s: order %v, want %v", c.dtype, names, want)
		}
	}
}

// badHeaders are files every reader must refuse, each with the words its error must hold. The fuzz
// test seeds its corpus from them.
var badHeaders = []struct {
	name  string
	write func(t testing.TB, path string)
	want  string
}{
	{"empty file", rawBytes(nil), "is empty (0 bytes)"},
	{"shorter than 8 bytes", rawBytes([]byte{1, 2, 3, 4, 5}), "is 5 bytes long, too short"},
	{"header length past end", rawBytes(append(le64(1000), "{}"...)),
		"header length 1000 runs past the end of the file (10 bytes)"},
	{"header over 100 MB", rawBytes(le64(100_000_001)), "header length 100000001 is over safetensors' limit of 100000000 bytes"},
	{"header length 2^64-1", rawBytes(le64(^uint64(0))), "is over safetensors' limit"},
	{"empty header", rawBytes(le64(0)), "header is empty"},
	{"Git LFS pointer", rawBytes([]byte("version https://git-lfs.github.com/spec/v1\noid sha256:4d6ad6b4\nsize 4965799096\n")),
		"is a Git LFS pointer, not the weights: fetch them with git lfs pull"},
	{"header not JSON", raw(`{"a": nope}`, 0), "header is not valid JSON: invalid character 'o' in literal null (expecting 'u') (at byte 8 of it)"},
	{"header not an object", raw(`[1, 2]`, 0), "header is not a JSON object"},
	{"header null", raw(`null`, 0), "header is not a JSON object"},
	{"header not UTF-8", raw("{\"a\xff\": 1}", 0), "header is not valid UTF-8"},
	{"trailing garbage", raw(`{} x`, 0), "header is not valid JSON"},
	{"entry a number", raw(`{"a": 5}`, 0), "tensor a: header entry is a number, not an object"},
	{"entry null", raw(`{"a": null}`, 0), "tensor a: header entry is null"},
	{"missing data_offsets", raw(`{"a":{"dtype":"F32","shape":[1]}}`, 4), "tensor a: header entry has no data_offsets"},
	{"extra key", raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}`, 4), `tensor a: header entry has the unexpected key "x"`},
	{"dtype not a string", raw(`{"a":{"dtype":32,"shape":[1],"data_offsets":[0,4]}}`, 4), "tensor a: dtype is a number, not a string"},
	{"unknown dtype", raw(`{"a":{"dtype":"Q4_K","shape":[1],"data_offsets":[0,4]}}`, 4), `tensor a: unknown dtype "Q4_K", which safetensors does not define`},
	{"lowercase dtype", raw(`{"a":{"dtype":"bf16","shape":[2],"data_offsets":[0,4]}}`, 4), `tensor a: unknown dtype "bf16" (safetensors writes "BF16")`},
	{"shape not an array", raw(`{"a":{"dtype":"F32","shape":4,"data_offsets":[0,4]}}`, 4), "tensor a: shape is a number, not an array"},
	{"negative dimension", raw(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 4), `tensor a: shape holds "-1", which is not a whole number`},
	{"fractional dimension", raw(`{"a":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}`, 4), `shape holds "1.0"`},
	{"quoted dimension", raw(`{"a":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}}`, 4), `shape holds "\"1\""`},
	{"three offsets", raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, 4), "tensor a: data_offsets has 3 numbers, not 2"},
	{"reversed offsets", raw(`{"model.layers.0.mlp.up_proj.weight":{"dtype":"F32","shape":[2],"data_offsets":[100,50]}}`, 100),
		"tensor model.layers.0.mlp.up_proj.weight: data_offsets [100, 50] are reversed"},
	{"offsets out of range", raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 4),
		"tensor a: data_offsets [0, 8] run past the end of the file, whose data holds 4 bytes: the file is truncated, or its header is wrong"},
	{"offsets far out of range", raw(`{"a":{"dtype":"U8","shape":[1000000],"data_offsets":[0,1000000]}}`, 4),
		"tensor a: data_offsets [0, 1000000] run past the end of the file, whose data holds 4 bytes"},
	{"size does not match shape", raw(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, 8),
		"tensor a: shape [3] of F32 needs 12 bytes, but data_offsets [0, 8] hold 8"},
	{"element count overflows", raw(`{"a":{"dtype":"U8","shape":[4294967296,4294967296,2],"data_offsets":[0,0]}}`, 0),
		"tensor a: shape [4294967296, 4294967296, 2] has more elements than 64 bits can count"},
	{"bit count overflows", raw(`{"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}}`, 0),
		"tensor a: shape [4611686018427387904] of F32 has more bits than 64 bits can count"},
	{"dimension over int64 beside a zero", raw(`{"a":{"dtype":"F32","shape":[0,9223372036854775808],"data_offsets":[0,0]}}`, 0),
		"tensor a: shape [0, 9223372036854775808] has dimension 9223372036854775808, which is too large"},
	{"F4 not whole bytes", raw(`{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}}`, 1), "tensor a: shape [3] of F4 is 12 bits, not a whole number of bytes"},
	{"F8 size mismatch", raw(`{"a":{"dtype":"F8_E4M3","shape":[3],"data_offsets":[0,4]}}`, 4), "tensor a: shape [3] of F8_E4M3 needs 3 bytes, but data_offsets [0, 4] hold 4"},
	{"overlapping offsets", raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, 12),
		"tensor b: data_offsets [4, 12] overlap tensor a's [0, 8]"},
	{"identical offsets", raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4),
		"tensor b: data_offsets [0, 4] overlap tensor a's [0, 4]"},
	{"gap between tensors", raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}}`, 20),
		"tensor b: data_offsets [12, 20] leave a gap of 4 bytes after tensor a's [0, 8]"},
	{"data not starting at 0", raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, 12),
		"tensor a: data_offsets [4, 12] start at byte 4 of the data, not at 0"},
	{"bytes after the last tensor", raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 16),
		"the tensors' data ends at byte 8 of the data, but the file holds 8 more bytes after it"},
	{"no tensors but data", raw(`{}`, 3), "the tensors' data ends at byte 0 of the data, but the file holds 3 more bytes"},
	{"metadata value not a string", raw(`{"__metadata__":{"format":1}}`, 0), `__metadata__ value for "format" is a number, not a string`},
	{"metadata an array", raw(`{"__metadata__":[]}`, 0), "__metadata__ is an array, not an object of strings"},
	{"name with a newline", raw("{\"a\\nb\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4), `tensor "a\nb": data_offsets [0, 8] run past`},
	{"truncated file", func(t testing.TB, path string) {
		data := weightstest.Bytes(t, []spec{T("a", "BF16", 8, 8), T("b", "F32", 16)})
		writeBytes(t, path, data[:len(data)-10])
	}, "tensor b: data_offsets [128, 192] run past the end of the file, whose data holds 182 bytes: the file is truncated"},
}

func le64(n uint64) []byte { return binary.LittleEndian.AppendUint64(nil, n) }

func rawBytes(data []byte) func(testing.TB, string) {
	return func(t testing.TB, path string) { writeBytes(t, path, data) }
}

func raw(header string, dataLen int64) func(testing.TB, string) {
	return func(t testing.TB, path string) { weightstest.WriteRaw(t, path, header, dataLen) }
}

func writeBytes(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadHeaderErrors(t *testing.T) {
	for _, tc := range badHeaders {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "model.safetensors")
			tc.write(t, path)
			ts, err := ReadHeader(path)
			checkError(t, ts, err, path, tc.want)
		})
	}
}

// checkError checks the shape of every error of the package: one line, the path first, the words wanted.
func checkError(t *testing.T, got any, err error, path, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; got %v", got)
	}
	if v := reflect.ValueOf(got); v.IsValid() && !v.IsNil() {
		t.Errorf("got %v beside the error", got)
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\n\r") {
		t.Errorf("error spans lines: %q", msg)
	}
	if !strings.HasPrefix(msg, path) {
		t.Errorf("error does not start with %s: %s", path, msg)
	}
	if !strings.Contains(msg, want) {
		t.Errorf("error %q\nlacks %q", msg, want)
	}
	if strings.Count(msg, path) > 1 && !strings.Contains(want, path) {
		t.Errorf("error repeats the path: %s", msg)
	}
}

func TestReadHeaderFileErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
		want  string
	}{
		{"missing", func(t *testing.T, path string) {}, "no such file or directory"},
		{"a folder", func(t *testing.T, path string) { mkdir(t, path) }, "is a folder, not a .safetensors file"},
		{"symlink loop", func(t *testing.T, path string) { symlink(t, filepath.Base(path), path) }, "too many levels of symbolic links"},
		{"broken symlink", func(t *testing.T, path string) { symlink(t, "blobs/0123abcd", path) }, "is a broken symbolic link"},
		{"a FIFO", func(t *testing.T, path string) {
			if err := mkfifo(path); err != nil {
				t.Skip("no FIFOs here:", err)
			}
		}, "is not a regular file"},
		{"unreadable", func(t *testing.T, path string) {
			weightstest.WriteFile(t, path, nil)
			if err := os.Chmod(path, 0); err != nil {
				t.Fatal(err)
			}
			if f, err := os.Open(path); err == nil { // root reads anything
				f.Close()
				t.Skip("running as root: permissions are not enforced")
			}
		}, "permission denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "model.safetensors")
			tc.setup(t, path)
			ts, err := ReadHeader(path)
			checkError(t, ts, err, path, tc.want)
		})
	}
}

func mkdir(t *testing.T, path string) {
	t.Helper()
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, path string) {
	t.Helper()
	if err := os.Symlink(target, path); err != nil {
		t.Skip("no symbolic links here:", err)
	}
}
