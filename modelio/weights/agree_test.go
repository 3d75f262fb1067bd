package weights

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestReadersAgreeRandom builds headers that are nearly right, far more of them than byte-level fuzzing
// reaches, and holds our reader to nlpodyssey's on each (see readersDisagree).
func TestReadersAgreeRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dtypes := []string{"F32", "BF16", "U8", "I64", "BOOL", "F8_E4M3", "F4", "F6_E2M3", "C64", "Q4", ""}
	dims := []string{"0", "1", "2", "3", "7", "4294967296", "9223372036854775808", "18446744073709551615", "-1", "1.0", `"2"`}
	n := 20000
	if testing.Short() {
		n = 2000
	}
	accepted := 0
	for i := range n {
		var b strings.Builder
		b.WriteString("{")
		if rng.IntN(4) == 0 {
			b.WriteString(`"__metadata__":{"format":"pt"},`)
		}
		var off uint64
		tensors := rng.IntN(4)
		for j := range tensors {
			dt := dtypes[rng.IntN(4)] // mostly standard, so that many files are valid
			if rng.IntN(5) == 0 {
				dt = dtypes[rng.IntN(len(dtypes))]
			}
			var shape []string
			elements := uint64(1)
			for range rng.IntN(3) {
				d := dims[rng.IntN(5)]
				if rng.IntN(10) == 0 {
					d = dims[rng.IntN(len(dims))]
				}
				shape = append(shape, d)
				var v uint64
				fmt.Sscan(d, &v)
				elements *= v
			}
			bitsPer, _ := DTypeBits(dt)
			size := elements * uint64(bitsPer) / 8
			begin, end := off, off+size
			switch rng.IntN(12) {
			case 0:
				end++
			case 1:
				begin, end = end, begin
			case 2:
				begin = 0
			}
			off = end
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `"t%d":{"dtype":%q,"shape":[%s],"data_offsets":[%d,%d]}`, rng.IntN(3), dt, strings.Join(shape, ","), begin, end)
		}
		b.WriteString("}")
		dataLen := off
		if rng.IntN(8) == 0 {
			dataLen += uint64(rng.IntN(3)) - 1
		}
		if dataLen > 1<<16 {
			dataLen = 1 << 16
		}
		buf := append(le64(uint64(b.Len())), b.String()...)
		buf = append(buf, make([]byte, dataLen)...)
		if d := readersDisagree(buf); d != "" {
			t.Fatalf("case %d: %s\n%s", i, b.String(), d)
		}
		if _, err := parseBuffer(buf); err == nil {
			accepted++
		}
	}
	t.Logf("%d of %d headers accepted", accepted, n)
	if accepted < n/10 || accepted > n*9/10 {
		t.Errorf("%d of %d accepted: the generator should give both kinds", accepted, n)
	}
}
