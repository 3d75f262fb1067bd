package cli_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type perplexityOut struct {
	NLL        float64 `json:"nll"`
	Perplexity float64 `json:"perplexity"`
	Tokens     int     `json:"tokens"`
	Pruned     *struct {
		NLL        float64 `json:"nll"`
		Perplexity float64 `json:"perplexity"`
		Tokens     int     `json:"tokens"`
		Removed    []int   `json:"removed_blocks"`
		Widths     []struct {
			Key  string `json:"key"`
			From int64  `json:"from"`
			To   int64  `json:"to"`
		} `json:"widths"`
	} `json:"pruned"`
}

func perplexity(t *testing.T, args ...string) perplexityOut {
	t.Helper()
	status, stdout, stderr := run(append([]string{"perplexity", "--json", "--backend", "cpu"}, args...)...)
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	var out perplexityOut
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("%v:\n%s", err, stdout)
	}
	return out
}

// The perplexity of transformers-made fixtures is transformers' own mean next-token NLL (expected.json),
// over the same number of predicted tokens.
func TestPerplexityMatchesTransformers(t *testing.T) {
	for _, family := range []string{"llama", "qwen3", "gpt2"} {
		t.Run(family, func(t *testing.T) {
			dir := filepath.Join("../testdata/fixtures", family)
			data, err := os.ReadFile(filepath.Join(dir, "expected.json"))
			if err != nil {
				t.Fatal(err)
			}
			var want struct {
				NLL   float64 `json:"nll"`
				Count int     `json:"nll_count"`
			}
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatal(err)
			}
			got := perplexity(t, "--tokens", fixtureTokens(t, family), dir)
			if math.Abs(got.NLL-want.NLL) > 1e-5 || got.Tokens != want.Count || math.Abs(got.Perplexity-math.Exp(got.NLL)) > 1e-9 {
				t.Errorf("nll %.7f over %d tokens, perplexity %.4f; transformers: %.7f over %d", got.NLL, got.Tokens, got.Perplexity, want.NLL, want.Count)
			}
			if got.Pruned != nil {
				t.Error("pruned figures without a pruning")
			}
		})
	}
}

// `perplexity --remove 1 --width 40%` reports, without writing, what the written copy measures.
func TestPerplexityOfPruningWithoutWriting(t *testing.T) {
	src := "../testdata/fixtures/llama"
	tokens := fixtureTokens(t, "llama")
	got := perplexity(t, "--tokens", tokens, "--remove", "1", "--width", "40%", "--method", "pon", src)
	if got.Pruned == nil || len(got.Pruned.Removed) != 1 || len(got.Pruned.Widths) != 1 || got.Pruned.Widths[0].To != 96 {
		t.Fatalf("pruned: %+v", got.Pruned)
	}
	dst := filepath.Join(t.TempDir(), "copy")
	if status, _, stderr := run("prune", src, "--remove", "1", "--width", "40%", "--method", "pon", "-o", dst); status != 0 {
		t.Fatalf("prune: %s", stderr)
	}
	copyFigures := perplexity(t, "--tokens", tokens, dst)
	if math.Abs(copyFigures.NLL-got.Pruned.NLL) > 1e-6 || copyFigures.Tokens != got.Pruned.Tokens {
		t.Errorf("copy: nll %.7f; evaluated without writing: %.7f", copyFigures.NLL, got.Pruned.NLL)
	}
	if math.Abs(got.NLL-copyFigures.NLL) < 1e-4 {
		t.Errorf("the pruning changed nothing: %.6f and %.6f", got.NLL, copyFigures.NLL)
	}
}

func TestPerplexityRefuses(t *testing.T) {
	llama := "../testdata/fixtures/llama"
	tests := []struct {
		args   []string
		status int
		want   string
	}{
		{[]string{llama, "--text", "a.txt", "--tokens", "b.json"}, 2, "give --text or --tokens, not both"},
		{[]string{llama, "--width", "0"}, 2, "perplexity: --width: 0 is outside (0, 100)"},
		{[]string{llama, "--dtype", "int8"}, 2, "--dtype must be fp16, bf16 or fp32"},
		{[]string{llama, "--tokens", "/nonexistent/ids.json"}, 1, "/nonexistent/ids.json: no such file"},
		{[]string{"llama-3.2-1b", "--width", "40%"}, 1, "llama-3.2-1b"},
	}
	for _, tt := range tests {
		status, stdout, stderr := run(append([]string{"perplexity"}, tt.args...)...)
		first, _, _ := strings.Cut(stderr, "\n")
		if status != tt.status || !strings.Contains(first, tt.want) || stdout != "" {
			t.Errorf("%v: status %d, stderr %q; want %d and %q", tt.args, status, stderr, tt.status, tt.want)
		}
	}
}
