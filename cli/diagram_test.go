package cli_test

import (
	"encoding/xml"
	"image"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/render"
)

// decodePNG reads a PNG file written by the command.
func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// layoutOf lays the gallery models out as the command does, to know the diagram's size in model units.
func layoutOf(t *testing.T, names ...string) *render.Diagram {
	t.Helper()
	var ms []render.Model
	for _, n := range names {
		m, err := modelio.Open(n)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, render.Model{Name: m.Name, Params: m.Spec.Root.NumParams(), Arch: m.Arch})
	}
	return render.Layout(ms, render.Options{})
}

func TestDiagramPNGScale(t *testing.T) {
	d := layoutOf(t, "llama-3.2-1b", "qwen3-0.6b")
	for _, c := range []struct {
		args  []string
		scale float64
	}{
		{[]string{"diagram", "llama-3.2-1b", "qwen3-0.6b", "-o", "OUT"}, 1},
		{[]string{"diagram", "--scale", "2", "llama-3.2-1b", "qwen3-0.6b", "-o", "OUT"}, 2},
		{[]string{"diagram", "llama-3.2-1b", "-o", "OUT", "qwen3-0.6b", "--scale=2"}, 2}, // flags between models
	} {
		out := filepath.Join(t.TempDir(), "stack.png")
		args := append([]string(nil), c.args...)
		for i := range args {
			if args[i] == "OUT" {
				args[i] = out
			}
		}
		status, stdout, stderr := run(args...)
		if status != 0 || stdout != "" {
			t.Fatalf("%q: status %d, stdout %q, stderr %q", c.args, status, stdout, stderr)
		}
		b := decodePNG(t, out).Bounds()
		wantW, wantH := int(math.Ceil(d.Width*c.scale)), int(math.Ceil(d.Height*c.scale))
		if b.Dx() != wantW || b.Dy() != wantH {
			t.Errorf("%q: image is %dx%d, want %dx%d", c.args, b.Dx(), b.Dy(), wantW, wantH)
		}
	}
}

func TestDiagramSVGParses(t *testing.T) {
	out := filepath.Join(t.TempDir(), "stack.svg")
	if status, _, stderr := run("diagram", "gemma-3-270m", "-o", out); status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := xml.NewDecoder(f)
	var root string
	texts := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG does not parse: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			if se.Name.Local == "text" {
				texts++
			}
		}
	}
	if root != "svg" || texts < 10 {
		t.Errorf("root element %q with %d texts, want an svg with the labels", root, texts)
	}
}

func TestDiagramDarkTheme(t *testing.T) {
	dir := t.TempDir()
	bg := map[string][3]uint32{}
	for _, theme := range []string{"light", "dark"} {
		out := filepath.Join(dir, theme+".png")
		if status, _, stderr := run("diagram", "llama-3.2-1b", "--theme", theme, "-o", out); status != 0 {
			t.Fatalf("%s: status %d: %s", theme, status, stderr)
		}
		r, g, b, _ := decodePNG(t, out).At(1, 1).RGBA() // the margin: background only
		bg[theme] = [3]uint32{r >> 8, g >> 8, b >> 8}
	}
	if bg["light"] == bg["dark"] {
		t.Errorf("light and dark backgrounds are both %v", bg["light"])
	}
	if l, d := bg["light"], bg["dark"]; l[0]+l[1]+l[2] < d[0]+d[1]+d[2] {
		t.Errorf("the dark background %v is lighter than the light one %v", d, l)
	}
}

// Bad command lines exit 2 with one error line (and the pointer to help), writing nothing.
func TestDiagramBadArgs(t *testing.T) {
	dir := t.TempDir()
	model := folder(t, map[string]string{"config.json": llamaConfig})
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no model", []string{"-o", filepath.Join(dir, "a.png")}, "got none"},
		{"no output", []string{"llama-3.2-1b"}, "-o FILE.png"},
		{"six models", []string{"gpt2", "gpt2", "gpt2", "gpt2", "gpt2", "gpt2", "-o", filepath.Join(dir, "a.png")}, "got 6"},
		{"bad extension", []string{"gpt2", "-o", filepath.Join(dir, "a.jpg")}, ".png or .svg"},
		{"bad theme", []string{"gpt2", "--theme", "sepia", "-o", filepath.Join(dir, "a.png")}, "light or dark"},
		{"bad scale", []string{"gpt2", "--scale", "0", "-o", filepath.Join(dir, "a.png")}, "--scale"},
		{"unknown flag", []string{"gpt2", "--colour", "-o", filepath.Join(dir, "a.png")}, "colour"},
		{"output inside the model folder", []string{model, "-o", filepath.Join(model, "stack.png")}, "inside the model folder"},
		{"output inside a model file's folder", []string{"gpt2", filepath.Join(model, "config.json"), "-o", filepath.Join(model, "sub", "x.svg")}, "inside the model folder"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, stdout, stderr := run(append([]string{"diagram"}, c.args...)...)
			if status != 2 || stdout != "" {
				t.Fatalf("status %d, stdout %q, stderr %q; want status 2", status, stdout, stderr)
			}
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[0], "layerscope: diagram: ") || !strings.Contains(lines[1], "layerscope help") {
				t.Fatalf("want one error line and the pointer to help, got %q", stderr)
			}
			if !strings.Contains(lines[0], c.want) {
				t.Errorf("error %q lacks %q", lines[0], c.want)
			}
		})
	}
	if entries, _ := os.ReadDir(model); len(entries) != 1 {
		t.Errorf("the model folder holds %d entries after the refusals, want only config.json", len(entries))
	}
}

// A model that does not open is an ordinary error (status 1), and no file appears.
func TestDiagramOpenError(t *testing.T) {
	out := filepath.Join(t.TempDir(), "a.png")
	status, _, stderr := run("diagram", "no-such-model", "-o", out)
	if status != 1 || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("status %d, stderr %q", status, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a file was written for a model that did not open")
	}
}
