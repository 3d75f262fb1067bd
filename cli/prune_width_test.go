package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/weights/weightstest"
)

type widthOut struct {
	Model   string  `json:"model"`
	Method  string  `json:"method"`
	Percent float64 `json:"percent"`
	Removed []int   `json:"removed_blocks"`
	Widths  []struct {
		Key    string     `json:"key"`
		From   int64      `json:"from"`
		To     int64      `json:"to"`
		IOverH [2]float64 `json:"expansion_i_over_h"`
	} `json:"widths"`
	Params struct{ Before, After int64 } `json:"parameters"`
	MLPs   []struct {
		Block       int    `json:"block"`
		SourceBlock int    `json:"source_block"`
		Path        string `json:"path"`
		From        int64  `json:"from"`
		Kept        []int  `json:"kept"`
	} `json:"mlps"`
	Written *string `json:"written"`
}

// `prune --width 40% --remove 1 --json` on a transformers-made Llama: depth and width in one copy,
// which opens with 3 blocks of intermediate 96 (160 − int(0.4 × 160)), and the JSON says what stayed.
func TestPruneWidthJSON(t *testing.T) {
	src := "../testdata/fixtures/llama"
	dst := filepath.Join(t.TempDir(), "narrow")
	status, stdout, stderr := run("prune", src, "--width", "40%", "--remove", "1", "--method", "vow", "-o", dst, "--json")
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	var got widthOut
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("%v:\n%s", err, stdout)
	}
	if got.Method != "vow" || got.Percent != 40 || len(got.Removed) != 1 || got.Removed[0] != 1 || got.Written == nil || *got.Written != dst {
		t.Errorf("header: %+v", got)
	}
	if len(got.Widths) != 1 || got.Widths[0].Key != "intermediate_size" || got.Widths[0].From != 160 || got.Widths[0].To != 96 {
		t.Errorf("widths %+v", got.Widths)
	}
	if got.Widths[0].IOverH != [2]float64{2.5, 1.5} {
		t.Errorf("I/H %v", got.Widths[0].IOverH)
	}
	if len(got.MLPs) != 3 || got.MLPs[1].Block != 1 || got.MLPs[1].SourceBlock != 2 || len(got.MLPs[2].Kept) != 96 {
		t.Fatalf("mlps %+v", got.MLPs)
	}
	m, err := modelio.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.Int("intermediate_size", 0) != 96 || len(m.Arch.Blocks) != 3 || m.Spec.Root.NumParams() != got.Params.After {
		t.Errorf("copy: intermediate %d, %d blocks, %d parameters", m.Config.Int("intermediate_size", 0), len(m.Arch.Blocks), m.Spec.Root.NumParams())
	}
	// The text form names both expansion conventions.
	status, stdout, _ = run("prune", src, "--width", "40", "--dry-run")
	for _, want := range []string{"method:     ppm", "width:      intermediate_size 160 → 96 (40% of neurons removed)",
		"expansion:  2.50× → 1.50× as I/H (150% → 50% as (I−H)/H)", "nothing written"} {
		if status != 0 || !strings.Contains(stdout, want) {
			t.Errorf("status %d, output lacks %q:\n%s", status, want, stdout)
		}
	}
}

// Bad width input: one line naming the flag or file and the fault, the usage status for a bad
// command line, 1 for a model that cannot be width-pruned, and nothing written.
func TestPruneWidthRefuses(t *testing.T) {
	llama := "../testdata/fixtures/llama"
	quantized := filepath.Join(t.TempDir(), "q")
	os.Mkdir(quantized, 0o755)
	os.WriteFile(filepath.Join(quantized, "config.json"), []byte(llamaConfig), 0o644)
	qm, err := modelio.Open(filepath.Join(quantized, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var specs []weightstest.Spec
	for _, p := range qm.Spec.Root.Params("") {
		dt := "BF16"
		if strings.Contains(p.Name, "mlp") {
			dt = "I8"
		}
		specs = append(specs, weightstest.T(p.Name, dt, p.Shape...))
	}
	weightstest.WriteFile(t, filepath.Join(quantized, "model.safetensors"), specs)
	unknown := filepath.Join(t.TempDir(), "u")
	os.Mkdir(unknown, 0o755)
	os.WriteFile(filepath.Join(unknown, "config.json"), []byte(`{"model_type": "mystery"}`), 0o644)
	weightstest.WriteFile(t, filepath.Join(unknown, "model.safetensors"), []weightstest.Spec{
		weightstest.T("model.layers.0.mlp.up_proj.weight", "F32", 8, 4),
		weightstest.T("model.layers.0.mlp.down_proj.weight", "F32", 4, 8),
	})

	tests := []struct {
		name   string
		args   []string
		status int
		want   string
	}{
		{"zero", []string{llama, "--width", "0%"}, 2, "--width: 0% is outside (0, 100)"},
		{"hundred", []string{llama, "--width", "100"}, 2, "--width: 100 is outside (0, 100)"},
		{"not a number", []string{llama, "--width", "forty"}, 2, `--width: "forty" is not a percentage`},
		{"both", []string{llama, "--width", "40%", "--expansion", "2"}, 2, "give --width or --expansion, not both"},
		{"bad divisor", []string{llama, "--width", "40%", "--divisor", "48"}, 2, "--divisor: 48 is not one of 32, 64, 128, 256"},
		{"divisor alone", []string{llama, "--divisor", "64", "--remove", "1"}, 2, "--divisor rounds a width"},
		{"bad method", []string{llama, "--width", "40%", "--method", "l3"}, 2, `--method: unknown method "l3"`},
		{"activation without tokens", []string{llama, "--width", "40%", "--method", "activation"}, 1, "(or pass --tokens FILE)"},
		{"hybrid without weights", []string{"llama-3.2-1b", "--width", "40%", "--method", "hybrid"}, 1, "llama-3.2-1b has no weights"},
		{"bad backend", []string{llama, "--width", "40%", "--method", "hybrid", "--backend", "tpu"}, 2, "--backend must be auto, gpu or cpu"},
		{"rounds to zero", []string{llama, "--width", "70%", "--divisor", "256"}, 1, "--divisor: 48 neurons kept of 160 round to 0 as a multiple of 256"},
		{"expansion grows", []string{llama, "--expansion", "3"}, 1, "--expansion: 3.00× (I/H; 200% as (I−H)/H) would not shrink the MLP"},
		{"expansion text", []string{llama, "--expansion", "wide"}, 2, `--expansion: "wide" is not an expansion`},
		{"gallery", []string{"llama-3.2-1b", "--width", "40%"}, 1, "llama-3.2-1b has no weights"},
		{"quantized", []string{quantized, "--width", "40%"}, 1, "model.layers.0.mlp.gate_proj.weight is I8"},
		{"unknown family", []string{unknown, "--width", "40%"}, 1, "is not a family Layerscope knows"},
		{"bad remove", []string{llama, "--width", "40%", "--remove", "9"}, 1, "there is no block 9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "out")
			status, stdout, stderr := run(append([]string{"prune", "-o", dst}, tt.args...)...)
			first, _, _ := strings.Cut(stderr, "\n")
			if status != tt.status || !strings.Contains(first, tt.want) || stdout != "" {
				t.Errorf("status %d, stdout %q, stderr:\n%s\nwant status %d and %q", status, stdout, stderr, tt.status, tt.want)
			}
			if strings.Contains(stderr, "goroutine") || strings.Count(strings.TrimSpace(stderr), "\n") > 1 {
				t.Errorf("more than one line:\n%s", stderr)
			}
			if _, err := os.Stat(dst); !os.IsNotExist(err) {
				t.Errorf("%s was written", dst)
			}
		})
	}
}

// --method activation and hybrid measure the MLP activations on the calibration tokens with the
// compute engine, then write a copy that opens at the new width; the two methods keep different
// neurons than ppm does.
func TestPruneWidthActivationMethods(t *testing.T) {
	src := "../testdata/fixtures/llama"
	tokens := fixtureTokens(t, "llama")
	kept := map[string][]int{}
	for _, method := range []string{"ppm", "activation", "hybrid"} {
		dst := filepath.Join(t.TempDir(), method)
		status, stdout, stderr := run("prune", src, "--width", "40%", "--method", method, "--tokens", tokens, "--backend", "cpu", "-o", dst, "--json")
		if status != 0 {
			t.Fatalf("%s: status %d: %s", method, status, stderr)
		}
		var got widthOut
		if err := json.Unmarshal([]byte(stdout), &got); err != nil {
			t.Fatal(err)
		}
		if got.Method != method || len(got.MLPs) != 4 || len(got.MLPs[0].Kept) != 96 {
			t.Fatalf("%s: %+v", method, got)
		}
		if method != "ppm" && !strings.Contains(stderr, "tokens/s") {
			t.Errorf("%s: no tokens/s on stderr: %s", method, stderr)
		}
		m, err := modelio.Open(dst)
		if err != nil || m.Config.Int("intermediate_size", 0) != 96 {
			t.Fatalf("%s: copy %v", method, err)
		}
		kept[method] = got.MLPs[0].Kept
	}
	if slices.Equal(kept["ppm"], kept["activation"]) || slices.Equal(kept["activation"], kept["hybrid"]) {
		t.Errorf("the methods kept the same neurons")
	}
}

// The published anchors from the command line, on the gallery's Llama-3.2-1B (no weights: widths only):
// 40% keeps 4916 of 8192 and leaves 913,770,496 parameters; --expansion 2.4 (or 240%) is the same 40%.
func TestPruneWidthGalleryAnchors(t *testing.T) {
	for _, args := range [][]string{{"--width", "40%"}, {"--expansion", "2.4"}, {"--expansion", "240%"}} {
		status, stdout, stderr := run(append([]string{"prune", "llama-3.2-1b", "--dry-run"}, args...)...)
		for _, want := range []string{"intermediate_size 8192 → 4916", "1,235,814,400 → 913,770,496", "4.00× → 2.40× as I/H (300% → 140% as (I−H)/H)", "nothing written"} {
			if status != 0 || !strings.Contains(stdout, want) {
				t.Errorf("%v: status %d, output lacks %q:\n%s%s", args, status, want, stdout, stderr)
			}
		}
	}
	status, stdout, _ := run("prune", "llama-3.2-1b", "--dry-run", "--width", "20%")
	if status != 0 || !strings.Contains(stdout, "intermediate_size 8192 → 6554") {
		t.Errorf("20%%: %s", stdout)
	}
}
