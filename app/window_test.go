package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/draw"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/weights/weightstest"
)

// TestRealWindow builds the real binary, starts it on a gallery model under the X display (make test
// runs it inside xvfb-run), and checks what a person would see: a window titled with the model's name
// and a screenshot that is not blank. Then it drops a model folder on the window through the app's own
// drop handler (the LAYERSCOPE_TEST_DROP test hook: X drag-and-drop cannot be scripted reliably) and
// checks that the title names the folder's model and that the new screenshot shows something else.
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
	model := tinyModelFolder(t, filepath.Join(dir, "tiny-dropped-llama"))
	trigger := filepath.Join(dir, "drop-now")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "llama-3.2-1b")
	cmd.Stderr = &stderr
	cmd.Env = append(os.Environ(), "LAYERSCOPE_TEST_DROP="+model, "LAYERSCOPE_TEST_DROP_WAIT="+trigger,
		"HF_HUB_CACHE="+filepath.Join(dir, "hf"), "HOME="+dir) // a clean preferences folder and cache
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()

	waitTitle(t, "Layerscope — llama-3.2-1b", &stderr)
	first := screenshot(t, filepath.Join(dir, "shot.png"), os.Getenv("LAYERSCOPE_SHOT"))

	if err := os.WriteFile(trigger, nil, 0o644); err != nil { // the hook now drops the folder
		t.Fatal(err)
	}
	waitTitle(t, "Layerscope — tiny-dropped-llama", &stderr)
	keep := os.Getenv("LAYERSCOPE_SHOT")
	if keep != "" {
		keep = strings.TrimSuffix(keep, ".png") + "-dropped.png"
	}
	second := screenshot(t, filepath.Join(dir, "shot-dropped.png"), keep)
	if bytes.Equal(first.Pix, second.Pix) {
		t.Error("the screenshot after the drop is identical to the one before")
	}
}

// TestRealWindowImportance runs the real compute engine from the real window: the app opens a tiny
// llama folder with random weights and a real tokenizer, presses Run on its Importance tab (the
// LAYERSCOPE_TEST_RUN hook, on the CPU) and writes the scores the stack shows; the test checks one
// finite score per block, marked candidates, and a screenshot that is not blank.
func TestRealWindowImportance(t *testing.T) {
	if os.Getenv("DISPLAY") == "" {
		if os.Getenv("LAYERSCOPE_REQUIRE_DISPLAY") != "" {
			t.Fatal("no X display, but LAYERSCOPE_REQUIRE_DISPLAY is set: run under xvfb-run")
		}
		t.Skip("no X display (make test runs this under xvfb-run)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "layerscope")
	build := exec.Command("go", "build", "-o", bin, "github.com/layerscope/layerscope")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	const blocks = 4
	model := randomModelFolder(t, filepath.Join(dir, "tiny-scored-llama"), blocks)
	scores := filepath.Join(dir, "scores.json")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, model)
	cmd.Stderr = &stderr
	cmd.Env = append(os.Environ(), "LAYERSCOPE_TEST_RUN=1", "LAYERSCOPE_TEST_SCORES="+scores,
		"HF_HUB_CACHE="+filepath.Join(dir, "hf"), "HOME="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	waitTitle(t, "Layerscope — tiny-scored-llama", &stderr)

	var got struct {
		State   string    `json:"state"`
		Metric  string    `json:"metric"`
		Scores  []float64 `json:"scores"`
		Marked  []int     `json:"marked"`
		Problem string    `json:"problem"`
	}
	deadline := time.Now().Add(3 * time.Minute) // a CPU run of 4 tiny blocks; generous for a loaded machine
	for {
		data, err := os.ReadFile(scores)
		if err == nil {
			if err := json.Unmarshal(data, &got); err != nil {
				t.Fatalf("%s: %v", data, err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no scores after 3 minutes; app stderr:\n%s", stderr.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
	if got.State != "done" {
		t.Fatalf("the run ended %s: %s\napp stderr:\n%s", got.State, got.Problem, stderr.String())
	}
	if got.Metric != "BI" || len(got.Scores) != blocks {
		t.Fatalf("%s, %d scores; want BI, one per block (%d)", got.Metric, len(got.Scores), blocks)
	}
	for i, v := range got.Scores {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Errorf("block %d scored %v", i, v)
		}
	}
	if len(got.Marked) != 1 || got.Marked[0] == 0 || got.Marked[0] == blocks-1 {
		t.Errorf("marked %v: want one block, neither the first nor the last", got.Marked)
	}
	keep := os.Getenv("LAYERSCOPE_SHOT")
	if keep != "" {
		keep = strings.TrimSuffix(keep, ".png") + "-importance.png"
	}
	screenshot(t, filepath.Join(dir, "shot-importance.png"), keep)
}

// randomModelFolder writes a small llama that runs: config.json, model.safetensors with every tensor
// in float32 from a fixed seed (norms near 1, the rest small, as an initialised model) and Llama 2's
// tokenizer (its 32000 ids set the vocabulary).
func randomModelFolder(t *testing.T, dir string, layers int) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(map[string]any{
		"architectures": []string{"LlamaForCausalLM"}, "model_type": "llama", "hidden_size": 64,
		"intermediate_size": 160, "num_hidden_layers": layers, "num_attention_heads": 4, "num_key_value_heads": 2,
		"vocab_size": 32000, "max_position_embeddings": 512, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
		"tie_word_embeddings": true, "torch_dtype": "float32", "hidden_act": "silu",
	})
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"tokenizer.json.gz", "tokenizer_config.json"} {
		copyFile(t, filepath.Join("..", "modelio", "tokenizer", "testdata", "llama2", name), filepath.Join(dir, name))
	}
	m, err := modelio.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var specs []weightstest.Spec
	for _, p := range m.Spec.Root.Params("") {
		specs = append(specs, weightstest.T(p.Name, "F32", p.Shape...))
	}
	prefix, _ := weightstest.Header(t, specs)
	f, err := os.Create(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	bw.Write(prefix)
	rng := rand.New(rand.NewPCG(1, 2))
	var buf [4]byte
	for _, s := range specs {
		norm := strings.Contains(s.Name, "norm") && strings.HasSuffix(s.Name, "weight")
		for range arch.NumElements(s.Shape) {
			v := float32(rng.NormFloat64() * 0.05)
			if norm {
				v++
			}
			binary.LittleEndian.PutUint32(buf[:], math.Float32bits(v))
			bw.Write(buf[:])
		}
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// waitTitle waits until a window with the title exists.
func waitTitle(t *testing.T, title string, stderr *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second) // a generous bound on a loaded CI machine, not a speed check
	for {
		out, _ := exec.Command("xwininfo", "-root", "-tree").Output()
		if strings.Contains(string(out), `"`+title+`"`) {
			return
		}
		if time.Now().After(deadline) {
			if keep := os.Getenv("LAYERSCOPE_SHOT"); keep != "" { // what the window showed instead
				exec.Command("import", "-window", "root", strings.TrimSuffix(keep, ".png")+"-failed.png").Run()
			}
			t.Fatalf("no window titled %q appeared; app stderr:\n%s\nwindows:\n%s", title, stderr.String(), out)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// screenshot waits for the frame to be drawn, captures the screen into shot (or keep, when set) and
// checks that it is not blank.
func screenshot(t *testing.T, shot, keep string) *image.RGBA {
	t.Helper()
	time.Sleep(2 * time.Second) // let the frame be drawn before the screenshot
	if keep != "" {
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
		t.Fatalf("screenshot %s looks blank: %d distinct colours", shot, n)
	}
	rgba := image.NewRGBA(img.Bounds())
	draw.Draw(rgba, rgba.Bounds(), img, img.Bounds().Min, draw.Src)
	return rgba
}

// tinyModelFolder writes a model folder at dir: the config.json of a small llama and real safetensors
// holding every tensor the family expects (as modelio/open_test.go does).
func tinyModelFolder(t *testing.T, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := `{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
 "intermediate_size": 160, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2,
 "vocab_size": 100, "rms_norm_eps": 1e-05, "tie_word_embeddings": true, "torch_dtype": "bfloat16"}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := modelio.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var specs []weightstest.Spec
	for _, p := range m.Spec.Root.Params("") {
		specs = append(specs, weightstest.T(p.Name, "BF16", p.Shape...))
	}
	weightstest.WriteFile(t, filepath.Join(dir, "model.safetensors"), specs)
	return dir
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
