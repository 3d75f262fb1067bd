package compute

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
	"github.com/layerscope/layerscope/modelio/weights"
	"github.com/layerscope/layerscope/modelio/weights/weightstest"
	"github.com/x448/float16"
)

// writeTensors writes a safetensors file with the given F32 values stored as each tensor's dtype.
func writeTensors(t *testing.T, specs []weightstest.Spec, values []float32) *store {
	t.Helper()
	prefix, _ := weightstest.Header(t, specs)
	data := prefix
	for _, s := range specs {
		for _, v := range values {
			switch s.DType {
			case "F32":
				data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
			case "BF16":
				data = binary.LittleEndian.AppendUint16(data, uint16(bf16RNE(v)))
			case "F16":
				data = binary.LittleEndian.AppendUint16(data, float16.Fromfloat32(v).Bits())
			case "F64":
				data = binary.LittleEndian.AppendUint64(data, math.Float64bits(float64(v)))
			case "I8":
				data = append(data, 0)
			}
		}
	}
	path := filepath.Join(t.TempDir(), "w.safetensors")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := weights.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := openStore(set, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Every stored float dtype converts into every compute dtype, exactly where the value fits.
func TestStoreConversions(t *testing.T) {
	values := []float32{0, 1, -2.5, 0.15625, 1024, -0.0078125}
	var specs []weightstest.Spec
	for _, dt := range []string{"F32", "BF16", "F16", "F64"} {
		specs = append(specs, weightstest.T("w_"+dt, dt, 2, 3))
	}
	specs = append(specs, weightstest.T("bad", "I8", 6))
	st := writeTensors(t, specs, values)
	for _, s := range specs[:4] {
		f32, err := st.F32(s.Name, []int{2, 3})
		if err != nil {
			t.Fatal(err)
		}
		h16 := make([]float16.Float16, 6)
		b16 := make([]bfloat16.BFloat16, 6)
		if err := st.fill(s.Name, []int{2, 3}, h16); err != nil {
			t.Fatal(err)
		}
		if err := st.fill(s.Name, []int{2, 3}, b16); err != nil {
			t.Fatal(err)
		}
		for i, v := range values {
			if f32[i] != v || h16[i].Float32() != v || b16[i].Float32() != v {
				t.Errorf("%s[%d]: f32 %v, f16 %v, bf16 %v, want %v", s.Name, i, f32[i], h16[i].Float32(), b16[i].Float32(), v)
			}
		}
	}
	if _, err := st.F32("w_F32", []int{3, 2}); err == nil || err.Error() != "w_F32 has shape [2 3], config.json implies [3 2]" {
		t.Errorf("shape error: %v", err)
	}
	if _, err := st.F32("bad", nil); err == nil || !strings.Contains(err.Error(), "bad has dtype I8") {
		t.Errorf("dtype error: %v", err)
	}
	if _, err := st.F32("absent", nil); err == nil || err.Error() != "missing absent" {
		t.Errorf("missing error: %v", err)
	}
}

// An F32 tensor is read in place where it is aligned: no copy of the weights on the host.
func TestStoreF32IsAView(t *testing.T) {
	st := writeTensors(t, []weightstest.Spec{weightstest.T("w", "F32", 4)}, []float32{1, 2, 3, 4})
	v, err := st.F32("w", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, raw, _ := st.raw("w")
	if unsafe.Pointer(&raw[0]) != unsafe.Pointer(&v[0]) {
		t.Error("F32 tensor was copied")
	}
}

func TestBF16RoundsToNearestEven(t *testing.T) {
	for _, tc := range []struct {
		in   uint32
		want uint16
	}{
		{0x3f808000, 0x3f80}, // tie, even stays
		{0x3f818000, 0x3f82}, // tie, odd rounds up
		{0x3f808001, 0x3f81}, // above half
		{0x7f800000, 0x7f80}, // +inf
		{0x7fc00000, 0x7fc0}, // NaN stays NaN
	} {
		if got := uint16(bf16RNE(math.Float32frombits(tc.in))); got != tc.want {
			t.Errorf("bf16(%#x) = %#x, want %#x", tc.in, got, tc.want)
		}
	}
}
