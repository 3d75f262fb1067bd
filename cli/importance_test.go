package cli_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtureTokens writes the fixture's samples as an --tokens file, cutting sample padding.
func fixtureTokens(t *testing.T, family string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("../testdata/fixtures", family, "tokens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tk struct {
		InputIDs [][]int `json:"input_ids"`
		Mask     [][]int `json:"attention_mask"`
	}
	if err := json.Unmarshal(data, &tk); err != nil {
		t.Fatal(err)
	}
	var samples [][]int
	for i, ids := range tk.InputIDs {
		var s []int
		for j, id := range ids {
			if tk.Mask[i][j] == 1 {
				s = append(s, id)
			}
		}
		samples = append(samples, s)
	}
	path := filepath.Join(t.TempDir(), "tokens.json")
	out, _ := json.Marshal(samples)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// The command's BI on a transformers-made model equals the BI transformers computed.
func TestImportanceMatchesTransformers(t *testing.T) {
	for _, family := range []string{"llama", "gpt2", "gemma3_text"} {
		t.Run(family, func(t *testing.T) {
			tokens := fixtureTokens(t, family)
			status, stdout, stderr := run("importance", "--json", "--metric", "all", "--backend", "cpu", "--tokens", tokens, "../testdata/fixtures/"+family)
			if status != 0 {
				t.Fatalf("status %d: %s", status, stderr)
			}
			var got struct {
				Backend string `json:"backend"`
				DType   string `json:"dtype"`
				Tokens  int    `json:"tokens"`
				Metrics []struct {
					Metric string    `json:"metric"`
					N      int       `json:"n"`
					Scores []float64 `json:"scores"`
				} `json:"metrics"`
			}
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatal(err)
			}
			var want struct {
				BI  []float64 `json:"bi"`
				NLL float64   `json:"nll"`
			}
			data, _ := os.ReadFile(filepath.Join("../testdata/fixtures", family, "expected.json"))
			json.Unmarshal(data, &want)
			if got.Backend != "go" || got.DType != "fp32" || got.Tokens != 24+18 {
				t.Errorf("backend %s dtype %s tokens %d", got.Backend, got.DType, got.Tokens)
			}
			kinds := map[string]int{}
			for _, m := range got.Metrics {
				kinds[m.Metric]++
				if m.Metric != "bi" {
					continue
				}
				for i, s := range m.Scores {
					if math.Abs(s-want.BI[i]) > 1e-4*math.Max(1, math.Abs(want.BI[i])) {
						t.Errorf("block %d: BI %.6f, transformers %.6f", i, s, want.BI[i])
					}
				}
			}
			if kinds["bi"] != 1 || kinds["angular"] != 4 || kinds["ablation"] != 1 || kinds["flat"] != 1 {
				t.Errorf("metrics in the JSON: %v", kinds)
			}
		})
	}
}

func TestImportanceTable(t *testing.T) {
	status, stdout, stderr := run("importance", "--backend", "cpu", "--tokens", fixtureTokens(t, "qwen3"), "../testdata/fixtures/qwen3")
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	for _, want := range []string{"block", "BI", "◀ lowest BI", "(go, fp32)", "42 tokens"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
}

// --repeat runs the model again in the same process: the same scores, a time per run.
func TestImportanceRepeat(t *testing.T) {
	status, stdout, stderr := run("importance", "--json", "--repeat", "3", "--backend", "cpu", "--tokens", fixtureTokens(t, "qwen3"), "../testdata/fixtures/qwen3")
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	var got struct {
		Seconds    float64   `json:"seconds"`
		RunSeconds []float64 `json:"run_seconds"`
		Metrics    []struct {
			Metric string    `json:"metric"`
			Scores []float64 `json:"scores"`
		} `json:"metrics"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.RunSeconds) != 3 || got.RunSeconds[2] != got.Seconds {
		t.Errorf("run_seconds %v, seconds %v: want three times, the last equal to seconds", got.RunSeconds, got.Seconds)
	}
	for i := 1; i <= 3; i++ {
		if !strings.Contains(stderr, fmt.Sprintf("run %d of 3: ", i)) {
			t.Errorf("stderr lacks run %d's time:\n%s", i, stderr)
		}
	}
	_, once, _ := run("importance", "--json", "--backend", "cpu", "--tokens", fixtureTokens(t, "qwen3"), "../testdata/fixtures/qwen3")
	if strings.Contains(once, "run_seconds") {
		t.Errorf("a single run reports run_seconds:\n%s", once)
	}
	var single struct {
		Metrics []struct {
			Scores []float64 `json:"scores"`
		} `json:"metrics"`
	}
	json.Unmarshal([]byte(once), &single)
	if len(single.Metrics) == 0 || fmt.Sprint(single.Metrics[0].Scores) != fmt.Sprint(got.Metrics[0].Scores) {
		t.Errorf("the repeated run's BI differs from a single run's")
	}
}

func TestImportanceErrors(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty.txt")
	os.WriteFile(empty, []byte("  \n"), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"importance", "llama-3.2-1b"}, "gallery model"},
		{[]string{"importance", "../testdata/fixtures/llama"}, "tokenizer.json"},
		{[]string{"importance", "--text", empty, "../testdata/fixtures/llama"}, "tokenizer.json"},
		{[]string{"importance", "--tokens", "../testdata/fixtures/llama/config.json", "../testdata/fixtures/llama"}, "expected a JSON array of token-id arrays"},
	}
	for _, c := range cases {
		status, stdout, stderr := run(c.args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if status != 1 || stdout != "" || len(lines) != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: status %d, stderr %q, want one line with %q", c.args, status, stderr, c.want)
		}
	}
	for _, args := range [][]string{{"importance", "--repeat", "0", "gpt2"}, {"importance", "--metric", "bogus", "gpt2"}, {"importance", "--backend", "tpu", "gpt2"}, {"importance", "--dtype", "fp8", "gpt2"}} {
		if status, _, _ := run(args...); status != 2 {
			t.Errorf("%q: status %d, want 2", args, status)
		}
	}
}
