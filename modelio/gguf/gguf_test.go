package gguf_test

import (
	"encoding/binary"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/layerscope/layerscope/modelio/family/llama"
	"github.com/layerscope/layerscope/modelio/gguf"
	"github.com/layerscope/layerscope/modelio/gguf/gguftest"
)

func tinyLlama() ([]gguftest.KV, []gguftest.Tensor) { return gguftest.TinyLlama() }

func TestReadFile(t *testing.T) {
	kvs, ts := tinyLlama()
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	gguftest.Write(t, path, kvs, ts)
	f, err := gguf.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Arch != "llama" || f.FileType != "Q8_0" {
		t.Errorf("arch %q file type %q", f.Arch, f.FileType)
	}
	q := f.Weights.Tensors["model.layers.1.self_attn.k_proj.weight"]
	if q == nil || q.DType != "Q8_0" || len(q.Shape) != 2 || q.Shape[0] != 32 || q.Shape[1] != 64 || q.Size != 32*64/32*34 {
		t.Errorf("k_proj %+v", q)
	}
	if f.Config.Int("vocab_size", 0) != 100 || !f.Config.Bool("tie_word_embeddings", false) ||
		f.Config.Float("rms_norm_eps", 0) != 1e-5 || f.Config.Int("num_key_value_heads", 0) != 2 {
		t.Errorf("config: vocab %d tied %v eps %v kv %d", f.Config.Int("vocab_size", 0), f.Config.Bool("tie_word_embeddings", false),
			f.Config.Float("rms_norm_eps", 0), f.Config.Int("num_key_value_heads", 0))
	}
}

// TestReadAt reads a header through an io.ReaderAt, as the Hub reader does with range requests, and
// checks that nothing past the header is read.
func TestReadAt(t *testing.T) {
	kvs, ts := tinyLlama()
	head, dataLen := gguftest.Header(kvs, ts)
	r := &countingReader{data: head, size: int64(len(head)) + int64(dataLen)}
	f, err := gguf.ReadAt(r, r.size, "hf:org/tiny/tiny.gguf")
	if err != nil {
		t.Fatal(err)
	}
	if f.Weights.Tensors["model.layers.0.mlp.down_proj.weight"] == nil || f.Weights.Files[0] != "hf:org/tiny/tiny.gguf" {
		t.Errorf("tensors %v files %v", f.Weights.Names, f.Weights.Files)
	}
	// The scan reads through a 64 KiB buffer, so it may read that far past the header, never more.
	r.size = 1 << 30
	if _, err := gguf.ReadAt(r, r.size, "big.gguf"); err != nil {
		t.Fatal(err)
	}
	if r.maxEnd > int64(len(head))+64<<10 {
		t.Errorf("read up to byte %d; the header ends at %d", r.maxEnd, len(head))
	}
	bad := &countingReader{data: append([]byte("GGML"), head[4:]...), size: r.size}
	if _, err := gguf.ReadAt(bad, bad.size, "hf:org/tiny/tiny.gguf"); err == nil || err.Error() != `hf:org/tiny/tiny.gguf: not a GGUF file (bad magic "GGML")` {
		t.Errorf("bad magic: %v", err)
	}
}

// countingReader serves data followed by zeros up to size, and records how far it was read.
type countingReader struct {
	data   []byte
	size   int64
	maxEnd int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= c.size {
		return 0, io.EOF
	}
	n := len(p)
	if off+int64(n) > c.size {
		n = int(c.size - off)
	}
	for i := 0; i < n; i++ {
		p[i] = 0
		if off+int64(i) < int64(len(c.data)) {
			p[i] = c.data[off+int64(i)]
		}
	}
	c.maxEnd = max(c.maxEnd, off+int64(n))
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func TestReadSplit(t *testing.T) {
	kvs, ts := tinyLlama()
	dir := t.TempDir()
	split := func(i int) []gguftest.KV {
		return []gguftest.KV{{Key: "split.no", Value: uint32(i)}, {Key: "split.count", Value: uint32(2)},
			{Key: "split.tensors.count", Value: int32(len(ts))}}
	}
	gguftest.Write(t, filepath.Join(dir, "tiny-00001-of-00002.gguf"), append(kvs, split(0)...), ts[:5])
	gguftest.Write(t, filepath.Join(dir, "tiny-00002-of-00002.gguf"), split(1), ts[5:])
	for _, open := range []string{"tiny-00001-of-00002.gguf", "tiny-00002-of-00002.gguf"} {
		f, err := gguf.ReadFile(filepath.Join(dir, open))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(f.Weights.Names); n != len(ts) {
			t.Errorf("%d tensors, want %d", n, len(ts))
		}
		if w := f.Weights.Tensors["model.norm.weight"]; w == nil || filepath.Base(w.File) != "tiny-00002-of-00002.gguf" {
			t.Errorf("model.norm.weight %+v: want it in the second shard", w)
		}
	}
	if p, found, err := gguf.FindInFolder(dir); !found || err != nil || filepath.Base(p) != "tiny-00001-of-00002.gguf" {
		t.Errorf("folder of a split model: %q %v %v", p, found, err)
	}
	os.Remove(filepath.Join(dir, "tiny-00002-of-00002.gguf"))
	_, err := gguf.ReadFile(filepath.Join(dir, "tiny-00001-of-00002.gguf"))
	if err == nil || !strings.Contains(err.Error(), "tiny-00002-of-00002.gguf: no such file") {
		t.Errorf("missing shard: %v", err)
	}
}

func TestFindInFolder(t *testing.T) {
	kvs, ts := tinyLlama()
	dir := t.TempDir()
	if _, found, err := gguf.FindInFolder(dir); found || err != nil {
		t.Errorf("empty folder: found %v, %v", found, err)
	}
	gguftest.Write(t, filepath.Join(dir, "a.gguf"), kvs, ts)
	if p, found, err := gguf.FindInFolder(dir); !found || err != nil || filepath.Base(p) != "a.gguf" {
		t.Errorf("one file: %q %v %v", p, found, err)
	}
	gguftest.Write(t, filepath.Join(dir, "b.gguf"), kvs, ts)
	if _, _, err := gguf.FindInFolder(dir); err == nil || !strings.Contains(err.Error(), "holds 2 GGUF models (a.gguf, b.gguf)") {
		t.Errorf("two files: %v", err)
	}
}

// kvBytes encodes one metadata entry by hand, for entries the writer would not produce.
func kvBytes(key string, typ uint32, payload []byte) gguftest.KV {
	b := binary.LittleEndian.AppendUint32(nil, typ)
	return gguftest.KV{Key: key, Value: gguftest.RawValue(append(b, payload...))}
}

func TestReadFileErrors(t *testing.T) {
	kvs, ts := tinyLlama()
	valid, dataLen := gguftest.Header(kvs, ts)
	le := binary.LittleEndian
	arrayOf := func(et uint32, n uint64) []byte {
		return le.AppendUint64(le.AppendUint32(nil, et), n)
	}
	tests := []struct {
		name  string
		bytes []byte // the whole file; nil to write kvs and tensors
		size  int64  // extend to this size with a hole (0: as written)
		kvs   []gguftest.KV
		ts    []gguftest.Tensor
		want  string
	}{
		{name: "bad magic", bytes: append([]byte("GGML"), valid[4:]...), want: `not a GGUF file (bad magic "GGML")`},
		{name: "empty", bytes: []byte{}, want: "too short to be a GGUF file"},
		{name: "version", bytes: append([]byte("GGUF\x04\x00\x00\x00"), valid[8:]...), want: "GGUF version 4 is not one Layerscope reads"},
		{name: "truncated metadata", bytes: valid[:100], want: "the file ends inside the metadata (truncated)"},
		{name: "huge array count", kvs: append(kvs[:1:1], kvBytes("tokenizer.ggml.tokens", gguftest.Array, arrayOf(gguftest.String, 1<<60))),
			want: "metadata key tokenizer.ggml.tokens: an array of 1152921504606846976 strings, more than the file holds"},
		{name: "huge per-layer array", kvs: append(kvs[:1:1], kvBytes("llama.attention.head_count", gguftest.Array,
			append(arrayOf(gguftest.U8, 1<<20), make([]byte, 1<<20)...))),
			want: "metadata key llama.attention.head_count: a per-layer array of 1048576 items, more than the 65536"},
		{name: "array of arrays", kvs: append(kvs[:1:1], kvBytes("x", gguftest.Array, arrayOf(gguftest.Array, 1))),
			want: "metadata key x: an array of arrays"},
		{name: "unknown value type", kvs: append(kvs[:1:1], kvBytes("x", 77, nil)), want: "metadata key x: unknown value type 77"},
		{name: "huge tensor count", bytes: append(append([]byte("GGUF\x03\x00\x00\x00"), le.AppendUint64(nil, 1<<40)...), valid[16:]...),
			want: "the header claims 1099511627776 tensors"},
		{name: "unknown tensor type", kvs: kvs, ts: append(ts[:1:1], gguftest.Tensor{Name: "blk.0.attn_q.weight", Type: 99, Dims: []uint64{64, 64}}),
			want: "tensor 1: blk.0.attn_q.weight has GGML type 99, which has no known layout"},
		{name: "removed tensor type", kvs: kvs, ts: append(ts[:1:1], gguftest.Tensor{Name: "blk.0.attn_q.weight", Type: 4, Dims: []uint64{64, 64}}),
			want: "tensor 1: blk.0.attn_q.weight has GGML type 4, which has no known layout (unknown, or removed from ggml)"},
		{name: "five dimensions", kvs: kvs, ts: append(ts[:1:1], gguftest.Tensor{Name: "blk.0.attn_q.weight", Type: 0, Dims: []uint64{1, 2, 3, 4, 5}}),
			want: "tensor 1: blk.0.attn_q.weight has 5 dimensions"},
		{name: "truncated tensor infos", bytes: valid[:len(valid)-40], want: "the file ends inside the tensor infos (truncated)"},
		{name: "data past the end", bytes: valid, size: int64(len(valid)) + int64(dataLen)/2, want: "tensor data needs"},
		{name: "unknown architecture", kvs: append([]gguftest.KV{{Key: "general.architecture", Value: "mamba9"}}, kvs[1:]...), ts: ts,
			want: `GGUF architecture "mamba9" is not one Layerscope maps`},
		{name: "experts", kvs: append(kvs, gguftest.KV{Key: "llama.expert_count", Value: uint32(8)}), ts: ts,
			want: "a mixture-of-experts llama GGUF (8 experts): Layerscope maps dense GGUF models only"},
		{name: "no architecture", kvs: kvs[1:], ts: ts, want: "no general.architecture"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tiny.gguf")
			if tc.bytes != nil {
				gguftest.WriteBytes(t, path, tc.bytes, tc.size)
			} else {
				gguftest.Write(t, path, tc.kvs, tc.ts)
			}
			_, err := gguf.ReadFile(path)
			if err == nil {
				t.Fatal("read")
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.HasPrefix(msg, path+": ") || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line starting with the path and holding %q", msg, tc.want)
			}
		})
	}
}

// TestReadFileMutated flips bytes of a valid header: every result is a description or a one-line
// error naming the file, never a panic.
func TestReadFileMutated(t *testing.T) {
	kvs, ts := tinyLlama()
	valid, dataLen := gguftest.Header(kvs, ts)
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(1))
	n := 400
	if testing.Short() {
		n = 50
	}
	for i := 0; i < n; i++ {
		b := append([]byte{}, valid...)
		for j := 0; j < 1+rng.Intn(4); j++ {
			b[rng.Intn(len(b))] = byte(rng.Intn(256))
		}
		path := filepath.Join(dir, "m.gguf")
		gguftest.WriteBytes(t, path, b, int64(len(b))+int64(dataLen))
		if _, err := gguf.ReadFile(path); err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, path) || strings.Contains(msg, "\n") {
				t.Fatalf("mutation %d: %q", i, msg)
			}
		}
	}
}
