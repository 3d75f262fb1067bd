package familytest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// The two edit conventions the family tests' tables are written in: Load's (nil deletes) and Edit's
// ("-" deletes, nil is null); and numbers going back out as written.
func TestEdits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte(`{"model_type":"x","a":1.0,"b":1e-06,"c":5,"d":6}`), 0o644); err != nil {
		t.Fatal(err)
	}
	raw := ReadJSON(t, path)
	Edit(t, raw, map[string]any{"-": []string{"a", "d"}, "c": nil})
	edited := Parse(t, path, raw)
	raw = ReadJSON(t, path)
	Edit(t, raw, map[string]any{"-": "c"})
	minus := Parse(t, path, raw)
	loaded := Load(t, path, map[string]any{"c": nil, "d": json.RawMessage("null"), "e": 7})
	for _, tc := range []struct {
		name      string
		got, want bool
	}{
		{`Edit "-" []string deletes`, edited.Present("a") || edited.Present("d"), false},
		{"Edit nil sets null", edited.Present("c") && !edited.Has("c"), true},
		{`Edit "-" string deletes`, minus.Present("c"), false},
		{"Load nil deletes", loaded.Present("c"), false},
		{"Load RawMessage null sets null", loaded.Present("d") && !loaded.Has("d"), true},
		{"Load sets", loaded.Int("e", 0) == 7, true},
		{"1.0 stays 1.0", loaded.Raw("a") == json.Number("1.0"), true},
		{"1e-06 stays 1e-06", edited.Raw("b") == json.Number("1e-06"), true},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %v", tc.name, tc.got)
		}
	}
}

func TestSamePrint(t *testing.T) {
	golden := filepath.Join(t.TempDir(), "x.txt")
	if err := os.WriteFile(golden, []byte("A(\n  (b): B()\n)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	SamePrint(t, "A(\n  (b): B()\n)", golden)
}
