package app_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRealWindow builds the real binary, starts it on a gallery model under the X display (make test
// runs it inside xvfb-run), and checks what a person would see: a window titled with the model's name
// and a screenshot that is not blank.
func TestRealWindow(t *testing.T) {
	if os.Getenv("DISPLAY") == "" {
		if os.Getenv("LAYERSCOPE_REQUIRE_DISPLAY") != "" {
			t.Fatal("no X display, but LAYERSCOPE_REQUIRE_DISPLAY is set: run under xvfb-run")
		}
		t.Skip("no X display (make test runs this under xvfb-run)")
	}
	for _, tool := range []string{"xwininfo", "import"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (make deps-test installs it): %v", tool, err)
		}
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "layerscope")
	build := exec.Command("go", "build", "-o", bin, "github.com/layerscope/layerscope")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "llama-3.2-1b")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()

	const title = "Layerscope — llama-3.2-1b"
	deadline := time.Now().Add(60 * time.Second) // a generous bound on a loaded CI machine, not a speed check
	for {
		out, _ := exec.Command("xwininfo", "-root", "-tree").Output()
		if strings.Contains(string(out), `"`+title+`"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no window titled %q appeared; app stderr:\n%s\nwindows:\n%s", title, stderr.String(), out)
		}
		time.Sleep(250 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // let the first frame be drawn before the screenshot

	shot := filepath.Join(dir, "shot.png")
	if keep := os.Getenv("LAYERSCOPE_SHOT"); keep != "" {
		shot = keep
	}
	if out, err := exec.Command("import", "-window", "root", shot).CombinedOutput(); err != nil {
		t.Fatalf("screenshot: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if n := distinctColours(img, 64); n < 8 {
		t.Fatalf("screenshot looks blank: %d distinct colours", n)
	}
}

// distinctColours counts different colours up to limit, sampling every pixel.
func distinctColours(img image.Image, limit int) int {
	seen := map[[3]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
			if len(seen) >= limit {
				return len(seen)
			}
		}
	}
	return len(seen)
}
