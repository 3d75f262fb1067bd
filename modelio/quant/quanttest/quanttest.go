// Package quanttest writes quantized safetensors checkpoints for tests: the exact tensor layouts that
// bitsandbytes, GPTQ (AutoGPTQ/gptqmodel) and AutoAWQ save (see package quant for where each layout was
// read), over sparse files, so that an 8B-shaped checkpoint costs a few kilobytes of disk. Only the
// bytes a reader needs are written: the quant_state JSON of bitsandbytes 4-bit layers.
//
// It is for tests only.
package quanttest

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/weights/weightstest"
)

// Layout says which quantized layout to write.
type Layout struct {
	Method    string // "bnb4", "bnb8", "gptq", "awq"
	QuantType string // bnb4: "nf4" or "fp4"
	Blocksize int64  // bnb4: 64 in transformers' default
	Nested    bool   // bnb4: double quantization (bnb_4bit_use_double_quant)
	Bits      int64  // gptq, awq
	Group     int64  // gptq, awq; -1 for one group
	// Skip leaves more linear layers in full precision than lm_head, which quantizers always keep.
	Skip func(path string) bool
}

// Checkpoint is what to write: tensor headers in file order, and the data of the few tensors whose
// bytes matter.
type Checkpoint struct {
	Specs []weightstest.Spec
	Data  map[string][]byte
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// Specs lays out the parameters of root (a family's module tree) as the quantizer would store them.
// Non-linear parameters and skipped linears are stored as dense BF16 (F16 for GPTQ and AWQ).
func Specs(root *arch.Module, l Layout) *Checkpoint {
	c := &Checkpoint{Data: map[string][]byte{}}
	dense := "BF16"
	if l.Method == "gptq" || l.Method == "awq" {
		dense = "F16"
	}
	add := func(name, dtype string, shape ...int64) {
		c.Specs = append(c.Specs, weightstest.T(name, dtype, shape...))
	}
	root.Walk("", func(path string, m *arch.Module) bool {
		params := m.OwnParams(path)
		if (m.Op != arch.OpLinear && m.Op != arch.OpConv1D) || m.Role == arch.RoleLMHead || (l.Skip != nil && l.Skip(path)) || len(params) == 0 {
			for _, p := range params {
				add(p.Name, dense, p.Shape...)
			}
			return true
		}
		out, in := m.Out, m.In
		switch l.Method {
		case "bnb4":
			n := out * in
			blocks := ceilDiv(n, l.Blocksize)
			add(path+".weight", "U8", (n+1)/2, 1)
			state := map[string]any{"quant_type": l.QuantType, "blocksize": l.Blocksize, "dtype": "bfloat16", "shape": []int64{out, in}}
			if l.Nested {
				add(path+".weight.absmax", "U8", blocks)
				add(path+".weight.nested_absmax", "F32", ceilDiv(blocks, 256))
				add(path+".weight.nested_quant_map", "F32", 256)
				state["nested_blocksize"], state["nested_dtype"], state["nested_offset"] = 256, "float32", 0.0123
			} else {
				add(path+".weight.absmax", "F32", blocks)
			}
			add(path+".weight.quant_map", "F32", 16)
			js, _ := json.Marshal(state)
			name := path + ".weight.quant_state.bitsandbytes__" + l.QuantType
			add(name, "U8", int64(len(js)))
			c.Data[name] = js
		case "bnb8":
			add(path+".weight", "I8", out, in)
			add(path+".SCB", "F32", out)
			add(path+".weight_format", "U8")
		case "gptq":
			groups := int64(1)
			if l.Group > 0 {
				groups = ceilDiv(in, l.Group)
			}
			add(path+".qweight", "I32", ceilDiv(in*l.Bits, 32), out)
			add(path+".qzeros", "I32", groups, ceilDiv(out*l.Bits, 32))
			add(path+".scales", "F16", groups, out)
			add(path+".g_idx", "I32", in)
		case "awq":
			groups := int64(1)
			if l.Group > 0 {
				groups = ceilDiv(in, l.Group)
			}
			add(path+".qweight", "I32", in, ceilDiv(out*l.Bits, 32))
			add(path+".qzeros", "I32", groups, ceilDiv(out*l.Bits, 32))
			add(path+".scales", "F16", groups, out)
		}
		if m.Bias {
			add(path+".bias", dense, out)
		}
		return true
	})
	return c
}

// Write writes c as one sparse safetensors file at path, with the Data tensors' bytes in place.
func (c *Checkpoint) Write(tb testing.TB, path string) {
	tb.Helper()
	weightstest.WriteSparse(tb, path, c.Specs)
	prefix, _ := weightstest.Header(tb, c.Specs)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	off := int64(len(prefix))
	for _, s := range c.Specs {
		n := int64(1)
		for _, d := range s.Shape {
			n *= d
		}
		bits, _ := weightstest.Bits(s.DType)
		if data, ok := c.Data[s.Name]; ok {
			if _, err := f.WriteAt(data, off); err != nil {
				tb.Fatal(err)
			}
		}
		off += n * bits / 8
	}
}

// Replace changes the shape of the tensor named name (for tests of inconsistent layouts).
func (c *Checkpoint) Replace(name string, shape ...int64) bool {
	for i := range c.Specs {
		if c.Specs[i].Name == name {
			c.Specs[i].Shape = shape
			return true
		}
	}
	return false
}

// Names returns the tensor names that contain sub, in order.
func (c *Checkpoint) Names(sub string) []string {
	var out []string
	for _, s := range c.Specs {
		if strings.Contains(s.Name, sub) {
			out = append(out, s.Name)
		}
	}
	return out
}
