package cli_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// svgTexts are the texts of an SVG the command wrote, in order.
func svgTexts(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile(`<text[^>]*>([^<]*)</text>`).FindAllStringSubmatch(string(data), -1) {
		out = append(out, m[1])
	}
	return out
}

// diagram --remove/--width draws a what-if as the window does: the cards keep their block numbers,
// the MLP bars are narrowed (over dashed outlines, with down's input line, named in the legend), and
// --beside puts the full model next to it. A model with weights is scored (its widths are prune's);
// a gallery model shows its widths.
func TestDiagramWhatIf(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want []string
		not  []string
	}{
		{"gallery width and blocks, beside", []string{"llama-3.2-1b", "--remove", "3,5", "--width", "40%", "--beside"},
			[]string{"llama-3.2-1b − blocks 3, 5 − MLP 8192→4916", "blocks 0–2, 4, 6–15", "gate_proj 2048 → 4916",
				"down_proj 4916 → 2048", "gate_proj 2048 → 8192", "blocks 0–15", "dashed: width before pruning", "thin line: input width"}, nil},
		{"gallery blocks alone", []string{"llama-3.2-1b", "--remove", "0"},
			[]string{"blocks 1–15", "gate_proj 2048 → 8192"}, []string{"dashed: width before pruning", "blocks 0–15"}},
		{"weights scored by vow, rounded", []string{"../testdata/fixtures/llama", "--width", "40%", "--method", "vow", "--divisor", "32"},
			[]string{"up_proj 64 → 96", "down_proj 96 → 64", "thin line: input width"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "whatif.svg")
			status, _, stderr := run(append([]string{"diagram", "-o", out}, c.args...)...)
			if status != 0 {
				t.Fatalf("status %d: %s", status, stderr)
			}
			texts := strings.Join(svgTexts(t, out), "\n")
			for _, w := range c.want {
				if !strings.Contains(texts, w) {
					t.Errorf("the picture lacks %q; it says:\n%s", w, texts)
				}
			}
			for _, w := range c.not {
				if strings.Contains(texts, w) {
					t.Errorf("the picture says %q", w)
				}
			}
		})
	}
}

// A what-if's bad command line: one line, the usage status, nothing written.
func TestDiagramWhatIfBadArgs(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"llama-3.2-1b", "qwen3-0.6b", "--width", "40%"}, "diagram: --remove and --width draw one MODEL's what-if, got 2 models"},
		{[]string{"llama-3.2-1b", "--beside"}, "diagram: --beside draws the full model beside a pruned one"},
		{[]string{"llama-3.2-1b", "--width", "0%"}, "diagram: --width: 0% is outside (0, 100)"},
		{[]string{"llama-3.2-1b", "--divisor", "64"}, "diagram: --divisor rounds a width"},
		{[]string{"llama-3.2-1b", "--width", "40%", "--method", "nope"}, "diagram: --method: unknown method"},
		{[]string{"llama-3.2-1b", "--remove", "99"}, "99"},
	} {
		out := filepath.Join(t.TempDir(), "x.png")
		status, _, stderr := run(append([]string{"diagram", "-o", out}, c.args...)...)
		if status == 0 || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 1 {
			t.Errorf("%v: status %d, %q; want %q", c.args, status, stderr, c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%v: wrote %s", c.args, out)
		}
	}
}
