package neurons

import (
	"encoding/binary"
	"math"

	"github.com/x448/float16"
)

// decode32 converts the little-endian elements of b, of a float dtype (modelio.UnitTensor admits
// only F32, F16, BF16 and F64), into dst. Written here rather than shared with compute's decoder,
// which modelio must not import. F64 weights are narrowed to float32, as optipfair's .float() does.
func decode32(dst []float32, dtype string, b []byte) {
	switch dtype {
	case "F32":
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case "BF16":
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
		}
	case "F16":
		for i := range dst {
			dst[i] = float16.Frombits(binary.LittleEndian.Uint16(b[2*i:])).Float32()
		}
	case "F64":
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
	}
}
