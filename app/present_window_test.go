package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRealWindowPresenting is what a lecturer does in front of a projector, on the real binary: on a
// screen of the projector's size (an Xvfb of its own), F11 and F5 pressed as keys (xdotool). It
// checks, from the layout the app reports (LAYERSCOPE_TEST_STATE), that the bar labels reach the size
// the back row reads and the stack is whole, then compares a screenshot with the golden one in
// testdata/ (LAYERSCOPE_UPDATE_GOLDEN=1 writes it; a mismatch lands in testdata/failed/).
func TestRealWindowPresenting(t *testing.T) {
	if os.Getenv("DISPLAY") == "" {
		if os.Getenv("LAYERSCOPE_REQUIRE_DISPLAY") != "" {
			t.Fatal("no X display, but LAYERSCOPE_REQUIRE_DISPLAY is set: run under xvfb-run")
		}
		t.Skip("no X display (make gui runs this under xvfb-run)")
	}
	for _, tool := range []string{"Xvfb", "xwininfo", "xdotool", "import"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (make deps-test installs it): %v", tool, err)
		}
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "layerscope")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/layerscope/layerscope").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name          string
		width, height int
		models        []string
		minLabel      float64 // px
	}{
		// One model on a 1024×768 projector: labels 1.5× the export's 14 px.
		{"present-1024x768-llama", 1024, 768, []string{"llama-3.2-1b"}, 21},
		// Five models on a 1920×1080 one.
		{"present-1920x1080-five", 1920, 1080,
			[]string{"llama-3.2-1b", "qwen3-0.6b", "gemma-3-270m", "phi-4-mini-instruct", "distilgpt2"}, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			display := startXvfb(t, tc.width, tc.height)
			state := filepath.Join(dir, tc.name+".json")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var stderr bytes.Buffer
			cmd := exec.CommandContext(ctx, bin, tc.models[0])
			cmd.Stderr = &stderr
			cmd.Env = append(os.Environ(), "DISPLAY="+display, "HOME="+dir, "HF_HUB_CACHE="+filepath.Join(dir, "hf"),
				"LAYERSCOPE_TEST_OPEN="+strings.Join(tc.models, string(filepath.ListSeparator)), "LAYERSCOPE_TEST_STATE="+state)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { cancel(); _ = cmd.Wait() }()

			first := waitState(t, state, &stderr, "the first window", func(s viewState) bool { return s.Models == len(tc.models) })
			if first.Canvas[0] > float64(tc.width) || first.Canvas[1] > float64(tc.height) {
				t.Errorf("the first window is %v, larger than the %d×%d screen", first.Canvas, tc.width, tc.height)
			}
			wid := windowID(t, display)
			key(t, display, wid, "F11")
			waitState(t, state, &stderr, "full screen", func(s viewState) bool {
				return s.FullScreen && s.Canvas[0] == float64(tc.width) && s.Canvas[1] == float64(tc.height)
			})
			key(t, display, wid, "F5")
			s := waitState(t, state, &stderr, "presenting", func(s viewState) bool { return s.Present && s.FullScreen })
			s = settle(t, state, s)
			if s.LabelPx < tc.minLabel {
				t.Errorf("presenting: bar labels %.1f px (zoom %.2f), want at least %v", s.LabelPx, s.Zoom, tc.minLabel)
			}
			if s.Cut {
				t.Errorf("presenting: the stack (%v at zoom %.2f) does not fit the %v space", s.Diagram, s.Zoom, s.Stack)
			}
			if s.Side || s.MenuBar {
				t.Errorf("presenting: side panel %v, menu bar %v; the stack should have the screen", s.Side, s.MenuBar)
			}
			if s.Canvas[0] != float64(tc.width) {
				t.Errorf("presenting widened the window to %v", s.Canvas)
			}
			shot := filepath.Join(dir, tc.name+".png")
			if out, err := exec.Command("import", "-display", display, "-window", "root", shot).CombinedOutput(); err != nil {
				t.Fatalf("screenshot: %v\n%s", err, out)
			}
			compareGolden(t, shot, filepath.Join("testdata", tc.name+".png"))

			// Leaving gives the zoom back.
			key(t, display, wid, "F5")
			waitState(t, state, &stderr, "leaving the presentation", func(v viewState) bool { return !v.Present && v.Side })
		})
	}
}

// viewState is the app's report (app/testhook.go).
type viewState struct {
	Canvas     [2]float64 `json:"canvas"`
	Stack      [2]float64 `json:"stack"`
	Diagram    [2]float64 `json:"diagram"`
	Zoom       float64    `json:"zoom"`
	LabelPx    float64    `json:"label_px"`
	Cut        bool       `json:"cut"`
	Present    bool       `json:"present"`
	Side       bool       `json:"side"`
	MenuBar    bool       `json:"menu_bar"`
	Models     int        `json:"models"`
	FullScreen bool       `json:"full_screen"`
}

// startXvfb starts a virtual screen of the size on a free display and returns the display's name.
func startXvfb(t *testing.T, w, h int) string {
	t.Helper()
	for n := 40; n < 240; n++ {
		lock, sock := fmt.Sprintf("/tmp/.X%d-lock", n), fmt.Sprintf("/tmp/.X11-unix/X%d", n)
		if _, err := os.Stat(lock); err == nil {
			continue
		}
		if _, err := os.Stat(sock); err == nil {
			continue
		}
		cmd := exec.Command("Xvfb", fmt.Sprintf(":%d", n), "-screen", "0", fmt.Sprintf("%dx%dx24", w, h), "-nolisten", "tcp")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			select {
			case <-done: // another server took the display first: try the next
				deadline = time.Time{}
				continue
			default:
			}
			if _, err := os.Stat(sock); err == nil {
				t.Cleanup(func() {
					_ = cmd.Process.Kill()
					<-done
					if t.Failed() {
						t.Logf("Xvfb's output:\n%s", stderr.String())
					}
				})
				return fmt.Sprintf(":%d", n)
			}
		}
		_ = cmd.Process.Kill()
	}
	t.Fatal("no free X display between :40 and :239")
	return ""
}

// waitState polls the app's report until ok holds.
func waitState(t *testing.T, path string, stderr *bytes.Buffer, what string, ok func(viewState) bool) viewState {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second) // a generous bound on a loaded machine, not a speed check
	var s viewState
	for {
		if data, err := os.ReadFile(path); err == nil && json.Unmarshal(data, &s) == nil && ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: never reached; last report %+v; app stderr:\n%s", what, s, stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// settle waits until the report stops changing for a second (the window manager's resizes arrive one
// by one), then returns it.
func settle(t *testing.T, path string, s viewState) viewState {
	t.Helper()
	last, since := s, time.Now()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var now viewState
		if data, err := os.ReadFile(path); err != nil || json.Unmarshal(data, &now) != nil {
			continue
		}
		if now != last {
			last, since = now, time.Now()
		}
		if time.Since(since) > time.Second {
			break
		}
	}
	time.Sleep(500 * time.Millisecond) // the frame after the last layout
	return last
}

// windowID finds Layerscope's window on the display.
func windowID(t *testing.T, display string) string {
	t.Helper()
	cmd := exec.Command("xdotool", "search", "--name", "Layerscope")
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	out, err := cmd.Output()
	if err != nil || len(bytes.Fields(out)) == 0 {
		t.Fatalf("xdotool found no Layerscope window on %s: %v", display, err)
	}
	return string(bytes.Fields(out)[0])
}

// key presses a key in the window, as a user does.
func key(t *testing.T, display, wid, name string) {
	t.Helper()
	cmd := exec.Command("xdotool", "key", "--window", wid, name)
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xdotool key %s: %v\n%s", name, err, out)
	}
}

// goldenBlock is the side of the squares a screenshot is averaged over before it is compared: text
// rendered by another GL driver moves by a pixel, a layout change moves whole bars.
const goldenBlock = 8

// compareGolden checks a screenshot against its golden image: averaged over goldenBlock squares, at
// most 2% of them may differ by more than 24 levels. With LAYERSCOPE_UPDATE_GOLDEN set it writes the
// golden instead.
func compareGolden(t *testing.T, shot, golden string) {
	t.Helper()
	got := readPNG(t, shot)
	if os.Getenv("LAYERSCOPE_UPDATE_GOLDEN") != "" {
		data, err := os.ReadFile(shot)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := readPNG(t, golden)
	if got.Bounds() != want.Bounds() {
		t.Fatalf("screenshot %v, golden %s %v", got.Bounds(), golden, want.Bounds())
	}
	b := got.Bounds()
	bad, total := 0, 0
	for y := b.Min.Y; y+goldenBlock <= b.Max.Y; y += goldenBlock {
		for x := b.Min.X; x+goldenBlock <= b.Max.X; x += goldenBlock {
			total++
			if blockDiff(got, want, x, y) > 24 {
				bad++
			}
		}
	}
	if bad*50 > total {
		failed := filepath.Join("testdata", "failed", filepath.Base(golden))
		_ = os.MkdirAll(filepath.Dir(failed), 0o755)
		if data, err := os.ReadFile(shot); err == nil {
			_ = os.WriteFile(failed, data, 0o644)
		}
		t.Errorf("the screenshot differs from %s in %d of %d squares; it is in %s", golden, bad, total, failed)
	}
}

// blockDiff is the largest difference of the channel means of one square of two images.
func blockDiff(a, b image.Image, x0, y0 int) float64 {
	var sa, sb [3]float64
	for y := y0; y < y0+goldenBlock; y++ {
		for x := x0; x < x0+goldenBlock; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			sa[0], sa[1], sa[2] = sa[0]+float64(r1>>8), sa[1]+float64(g1>>8), sa[2]+float64(b1>>8)
			sb[0], sb[1], sb[2] = sb[0]+float64(r2>>8), sb[1]+float64(g2>>8), sb[2]+float64(b2>>8)
		}
	}
	d := 0.0
	for k := range 3 {
		d = max(d, abs(sa[k]-sb[k])/(goldenBlock*goldenBlock))
	}
	return d
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

func readPNG(t *testing.T, path string) image.Image {
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
