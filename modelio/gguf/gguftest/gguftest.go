// Package gguftest writes GGUF files for tests, as llama.cpp's gguf-py GGUFWriter lays them out
// (ggml/docs/gguf.md, version 3, little-endian): header, metadata, tensor infos, padding to the
// alignment, then the tensor data, each tensor aligned. The data is a hole (a sparse file), so a
// model-sized file costs a few kilobytes of disk.
//
// It is for tests only.
package gguftest

import (
	"encoding/binary"
	"math"
	"os"
	"testing"
)

// Value types of the GGUF spec.
const (
	U8     = 0
	I8     = 1
	U16    = 2
	I16    = 3
	U32    = 4
	I32    = 5
	F32    = 6
	Bool   = 7
	String = 8
	Array  = 9
	U64    = 10
	I64    = 11
	F64    = 12
)

// GGML tensor types (ggml.h's enum ggml_type) with their block layout (elements per block, bytes).
const (
	TF32  = 0
	TF16  = 1
	TQ4_0 = 2
	TQ8_0 = 8
	TQ4_K = 12
	TQ6_K = 14
	TBF16 = 30
)

var blocks = map[uint32][2]uint64{
	TF32: {1, 4}, TF16: {1, 2}, TQ4_0: {32, 18}, TQ8_0: {32, 34}, TQ4_K: {256, 144}, TQ6_K: {256, 210}, TBF16: {1, 2},
}

// KV is one metadata entry. Value is uint32, int32, uint64, float32, bool, string, []string or
// []int32; Raw, when set, is written as the value's bytes instead (for malformed files).
type KV struct {
	Key   string
	Value any
}

// Tensor is one tensor info; Dims fastest first, as GGUF stores them.
type Tensor struct {
	Name string
	Type uint32
	Dims []uint64
}

// Bytes returns a tensor's data size, or 0 for a type without a layout here.
func (t Tensor) Bytes() uint64 {
	b, ok := blocks[t.Type]
	if !ok {
		return 0
	}
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n / b[0] * b[1]
}

const alignment = 32

// Header returns the bytes before the tensor data, and the data's length.
func Header(kvs []KV, tensors []Tensor) ([]byte, uint64) {
	le := binary.LittleEndian
	b := []byte("GGUF")
	b = le.AppendUint32(b, 3)
	b = le.AppendUint64(b, uint64(len(tensors)))
	b = le.AppendUint64(b, uint64(len(kvs)))
	str := func(s string) {
		b = le.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	for _, kv := range kvs {
		str(kv.Key)
		switch v := kv.Value.(type) {
		case uint32:
			b = le.AppendUint32(le.AppendUint32(b, U32), v)
		case int32:
			b = le.AppendUint32(le.AppendUint32(b, I32), uint32(v))
		case uint64:
			b = le.AppendUint64(le.AppendUint32(b, U64), v)
		case float32:
			b = le.AppendUint32(le.AppendUint32(b, F32), math.Float32bits(v))
		case bool:
			b = le.AppendUint32(b, Bool)
			if v {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		case string:
			b = le.AppendUint32(b, String)
			str(v)
		case []string:
			b = le.AppendUint32(le.AppendUint32(b, Array), String)
			b = le.AppendUint64(b, uint64(len(v)))
			for _, s := range v {
				str(s)
			}
		case []int32:
			b = le.AppendUint32(le.AppendUint32(b, Array), I32)
			b = le.AppendUint64(b, uint64(len(v)))
			for _, x := range v {
				b = le.AppendUint32(b, uint32(x))
			}
		case RawValue:
			b = append(b, v...)
		default:
			panic("gguftest: unsupported value type")
		}
	}
	var off uint64
	for _, t := range tensors {
		str(t.Name)
		b = le.AppendUint32(b, uint32(len(t.Dims)))
		for _, d := range t.Dims {
			b = le.AppendUint64(b, d)
		}
		b = le.AppendUint32(b, t.Type)
		b = le.AppendUint64(b, off)
		off += (t.Bytes() + alignment - 1) / alignment * alignment
	}
	for len(b)%alignment != 0 {
		b = append(b, 0)
	}
	return b, off
}

// RawValue is a metadata value written verbatim after the key (its type word included).
type RawValue []byte

// Write writes a GGUF file at path with a sparse data section.
func Write(tb testing.TB, path string, kvs []KV, tensors []Tensor) {
	tb.Helper()
	head, dataLen := Header(kvs, tensors)
	WriteBytes(tb, path, head, int64(len(head))+int64(dataLen))
}

// WriteBytes writes prefix and extends the file to size with a hole.
func WriteBytes(tb testing.TB, path string, prefix []byte, size int64) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(prefix); err != nil {
		tb.Fatal(err)
	}
	if size > int64(len(prefix)) {
		if err := f.Truncate(size); err != nil {
			tb.Fatal(err)
		}
	}
}

// TinyLlama is the metadata and tensors of a two-layer Llama (hidden 64, 4 heads, 2 KV heads, MLP 160,
// vocabulary 100, tied embeddings) in GGUF form, Q8_0 with F32 norms.
func TinyLlama() ([]KV, []Tensor) {
	kvs := []KV{
		{Key: "general.architecture", Value: "llama"},
		{Key: "general.file_type", Value: uint32(7)}, // MOSTLY_Q8_0
		{Key: "llama.block_count", Value: uint32(2)},
		{Key: "llama.embedding_length", Value: uint32(64)},
		{Key: "llama.feed_forward_length", Value: uint32(160)},
		{Key: "llama.attention.head_count", Value: uint32(4)},
		{Key: "llama.attention.head_count_kv", Value: uint32(2)},
		{Key: "llama.attention.layer_norm_rms_epsilon", Value: float32(1e-5)},
		{Key: "llama.context_length", Value: uint32(256)},
		{Key: "tokenizer.ggml.tokens", Value: []string{"a", "b", "c"}},
	}
	ts := []Tensor{{Name: "token_embd.weight", Type: TQ8_0, Dims: []uint64{64, 100}}}
	for _, b := range []string{"blk.0.", "blk.1."} {
		ts = append(ts,
			Tensor{Name: b + "attn_norm.weight", Type: TF32, Dims: []uint64{64}},
			Tensor{Name: b + "attn_q.weight", Type: TQ8_0, Dims: []uint64{64, 64}},
			Tensor{Name: b + "attn_k.weight", Type: TQ8_0, Dims: []uint64{64, 32}},
			Tensor{Name: b + "attn_v.weight", Type: TQ8_0, Dims: []uint64{64, 32}},
			Tensor{Name: b + "attn_output.weight", Type: TQ8_0, Dims: []uint64{64, 64}},
			Tensor{Name: b + "ffn_norm.weight", Type: TF32, Dims: []uint64{64}},
			Tensor{Name: b + "ffn_gate.weight", Type: TQ8_0, Dims: []uint64{64, 160}},
			Tensor{Name: b + "ffn_up.weight", Type: TQ8_0, Dims: []uint64{64, 160}},
			Tensor{Name: b + "ffn_down.weight", Type: TF16, Dims: []uint64{160, 64}})
	}
	ts = append(ts, Tensor{Name: "output_norm.weight", Type: TF32, Dims: []uint64{64}})
	return kvs, ts
}
