package cli

import "testing"

// --expansion's text is read as a Python user's number: 2.4 is exactly 240 (% of hidden), not
// 2.4 × 100 = 240.00000000000003, so the percentage optipfair's formula gets is the one it would.
func TestExpansionPercent(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		bad  bool
	}{
		{"2.4", 240, false}, {"2.4x", 240, false}, {"2.4×", 240, false}, {"240%", 240, false},
		{"3", 300, false}, {".5", 50, false}, {"1.375", 137.5, false}, {"2.45e0", 245, false},
		{"0", 0, true}, {"-2", 0, true}, {"wide", 0, true}, {"", 0, true}, {"inf", 0, true}, {"2.4.1", 0, true},
	}
	for _, tt := range tests {
		got, err := expansionPercent(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("%q: %v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}
