// Package familytest holds the helpers that the tests of the families under modelio/family share:
// reading a gallery config.json with edits, building it with the family registered for its model_type,
// comparing a print with a golden file, and the checks several families repeat (roles, one-line
// errors, the tensor names a fixture saved).
//
// It is for tests only. It imports no family, so a family's test binary registers only the families
// that test blank-imports, and a config whose model_type is not one of them fails the test.
package familytest

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/config"
)

// GalleryDir is modelio/gallery/configs/ as seen from a family package's folder, where go test runs
// that package's tests.
const GalleryDir = "../../gallery/configs/"

// ReadJSON decodes a config file into a map of its top-level keys that a test can edit before Parse.
// Numbers stay json.Number, so they go back out as written: 1e-06 or 8.0 must not become another
// literal that config's integer and float getters would read differently.
func ReadJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return raw
}

// Edit sets the keys of e in raw; the key "-" names a key (a string), or keys (a []string), to delete
// instead, so that a nil value can stand for JSON null.
func Edit(t *testing.T, raw, e map[string]any) {
	t.Helper()
	for k, v := range e {
		if k != "-" {
			raw[k] = v
			continue
		}
		switch names := v.(type) {
		case string:
			delete(raw, names)
		case []string:
			for _, name := range names {
				delete(raw, name)
			}
		default:
			t.Fatalf(`the edit "-" takes a key or a []string of keys, got %T`, v)
		}
	}
}

// Parse encodes raw as JSON and parses it as the config.json at path, the way a real file goes.
func Parse(t *testing.T, path string, raw map[string]any) *config.Config {
	t.Helper()
	data, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(path, data)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Load reads the config.json at path and applies edits to its top-level keys: a nil value deletes the
// key, json.RawMessage("null") sets it to null.
func Load(t *testing.T, path string, edits map[string]any) *config.Config {
	t.Helper()
	raw := ReadJSON(t, path)
	for k, v := range edits {
		if v == nil {
			delete(raw, k)
		} else {
			raw[k] = v
		}
	}
	return Parse(t, path, raw)
}

// Build runs the family registered for cfg's model_type; the test fails at once when there is none.
func Build(t *testing.T, cfg *config.Config) (*arch.Spec, error) {
	t.Helper()
	f, ok := arch.Lookup(cfg.String("model_type", ""))
	if !ok {
		t.Fatalf("no family registered for model_type %q", cfg.String("model_type", ""))
	}
	return f.Build(cfg)
}

// MustBuild is Build for a config that must build.
func MustBuild(t *testing.T, cfg *config.Config) *arch.Spec {
	t.Helper()
	spec, err := Build(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// BuildFile reads the config.json at path as it is, with config.ReadFile, and builds it.
func BuildFile(t *testing.T, path string) *arch.Spec {
	t.Helper()
	cfg, err := config.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return MustBuild(t, cfg)
}

// BuildJSON parses js as a config.json and builds it.
func BuildJSON(t *testing.T, js string) (*arch.Spec, error) {
	t.Helper()
	cfg, err := config.Parse("test.json", []byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return Build(t, cfg)
}

// SamePrint compares a print with a golden file (which ends in a newline, as print() writes it) and
// fails at the first line that differs, quoting both.
func SamePrint(t *testing.T, got, goldenPath string) {
	t.Helper()
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	w := strings.TrimSuffix(string(want), "\n")
	if got == w {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(w, "\n")
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, x string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			x = wl[i]
		}
		if g != x {
			t.Fatalf("print differs from %s at line %d:\n got: %q\nwant: %q\nwhole print:\n%s", goldenPath, i+1, g, x, got)
		}
	}
	// Every line matched, so only trailing empty lines differ: still not the print.
	t.Fatalf("print differs from %s in its trailing newlines: %d lines, want %d\nwhole print:\n%s", goldenPath, len(gl), len(wl), got)
}

// SameTensorNames checks that m's parameters are exactly the tensors that the fixture's expected.json
// lists under saved_tensor_names (what transformers saved), in any order.
func SameTensorNames(t *testing.T, m *arch.Module, expectedPath string) {
	t.Helper()
	var expected struct {
		Names []string `json:"saved_tensor_names"`
	}
	data, err := os.ReadFile(expectedPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &expected); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range m.Params("") {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	slices.Sort(expected.Names)
	if !slices.Equal(names, expected.Names) {
		t.Errorf("tensor names:\n got %v\nwant %v", names, expected.Names)
	}
}

// SameRoles checks the Role of each module that want names by its path under root.
func SameRoles(t *testing.T, root *arch.Module, want map[string]arch.Role) {
	t.Helper()
	for path, role := range want {
		m := root.Find(path)
		if m == nil {
			t.Errorf("%s: missing", path)
			continue
		}
		if m.Role != role {
			t.Errorf("%s: role %v, want %v", path, m.Role, role)
		}
	}
}

// ErrorMentions checks that err is a one-line error that mentions every one of want.
func ErrorMentions(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error is not one line: %q", err)
	}
}
