package printable

import "testing"

func TestString(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.up_proj.weight"},
		{"My Models/llama 3", "My Models/llama 3"},
		{"x\x1b[2J\nlayerscope: forged", `x\x1b[2J\nlayerscope: forged`},
		{"tab\there\r", `tab\there\r`},
		{"bidi\u202eevil", `bidi\u202eevil`},
		{"bad \xff byte", `bad \xff byte`},
		{"ünïcödé ▁the Ġ", "ünïcödé ▁the Ġ"},
		{"", ""},
	} {
		if got := String(tt.in); got != tt.want {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got, want := Lines("a\nb\x1b[0m\nc"), "a\nb\\x1b[0m\nc"; got != want {
		t.Errorf("Lines = %q, want %q", got, want)
	}
}
