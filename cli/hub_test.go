package cli_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio/hub/hubtest"
	"github.com/layerscope/layerscope/modelio/weights/weightstest"
)

const hubCommit = "fedcba9876543210fedcba9876543210fedcba98"

// tinyRepo writes llamaConfig's model with its weights, laid out as a Hugging Face cache snapshot of
// org/tiny so the folder and the Hub model carry the same name, and serves it on a stand-in Hub.
func tinyRepo(t *testing.T) (*hubtest.Server, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "models--org--tiny", "snapshots", hubCommit)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(llamaConfig), 0o644)
	specs := []weightstest.Spec{weightstest.T("model.embed_tokens.weight", "BF16", 100, 64), weightstest.T("model.norm.weight", "BF16", 64)}
	for l := range 2 {
		p := fmt.Sprintf("model.layers.%d.", l)
		specs = append(specs,
			weightstest.T(p+"self_attn.q_proj.weight", "BF16", 64, 64), weightstest.T(p+"self_attn.k_proj.weight", "BF16", 32, 64),
			weightstest.T(p+"self_attn.v_proj.weight", "BF16", 32, 64), weightstest.T(p+"self_attn.o_proj.weight", "BF16", 64, 64),
			weightstest.T(p+"mlp.gate_proj.weight", "BF16", 128, 64), weightstest.T(p+"mlp.up_proj.weight", "BF16", 128, 64),
			weightstest.T(p+"mlp.down_proj.weight", "BF16", 64, 128),
			weightstest.T(p+"input_layernorm.weight", "BF16", 64), weightstest.T(p+"post_attention_layernorm.weight", "BF16", 64))
	}
	weightstest.WriteSharded(t, dir, [][]weightstest.Spec{specs[:6], specs[6:12], specs[12:]})
	s := hubtest.New(t)
	s.Add("org/tiny", dir, hubCommit)
	s.Setenv(t, "hf_secret")
	return s, dir
}

// tree, facts and diagram print the same for hf:org/tiny as for its folder, with progress on stderr.
func TestHubModelLikeItsFolder(t *testing.T) {
	s, dir := tinyRepo(t)
	out := t.TempDir()
	for _, args := range [][]string{{"tree"}, {"tree", "--base"}, {"facts"}, {"facts", "--json"}, {"diagram", "-o", "DIAGRAM.svg"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			withModel := func(model, svg string) []string {
				a := append([]string{}, args...)
				for i := range a {
					if a[i] == "DIAGRAM.svg" {
						a[i] = filepath.Join(out, svg)
					}
				}
				return append(a, model)
			}
			status, local, _ := run(withModel(dir, "local.svg")...)
			if status != 0 {
				t.Fatalf("local folder: status %d", status)
			}
			status, remote, stderr := run(withModel("hf:org/tiny", "remote.svg")...)
			if status != 0 {
				t.Fatalf("hf:org/tiny: status %d: %s", status, stderr)
			}
			if remote != local {
				t.Errorf("stdout for hf:org/tiny differs from the folder's:\n%s\n---\n%s", remote, local)
			}
			if !strings.Contains(stderr, "hf:org/tiny: 3 of 3 headers") && !strings.Contains(stderr, "from the header cache") {
				t.Errorf("no progress on stderr: %q", stderr)
			}
			if args[0] == "diagram" {
				a, _ := os.ReadFile(filepath.Join(out, "local.svg"))
				b, _ := os.ReadFile(filepath.Join(out, "remote.svg"))
				if len(a) == 0 || string(a) != string(b) {
					t.Errorf("the diagrams differ (%d and %d bytes)", len(a), len(b))
				}
			}
		})
	}
	s.CheckHeadersOnly(t)
}

// A Hub model that cannot be read gets one line on stderr naming it (or the URL) and the fault, exit 1.
func TestHubErrorsOneLine(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		setup func(s *hubtest.Server)
		want  []string
	}{
		{"missing", []string{"facts", "hf:org/none"}, nil, []string{"hf:org/none", "no such model"}},
		{"gated", []string{"tree", "hf:org/gated"}, func(s *hubtest.Server) {
			g := s.Add("org/gated", s.Repos["org/tiny"].Dir, hubCommit)
			g.Gated = true
		}, []string{"hf:org/gated", "gated", "licence"}},
		{"not JSON", []string{"facts", "https://huggingface.co/org/tiny"}, func(s *hubtest.Server) {
			s.HubHook = func(w http.ResponseWriter, r *http.Request) bool {
				fmt.Fprint(w, "<!DOCTYPE html>")
				return true
			}
		}, []string{"/api/models/org/tiny/revision/main", "not"}},
		{"bad id", []string{"facts", "hf:org/a b"}, nil, []string{"not a valid model id"}},
		{"importance needs the weights", []string{"importance", "hf:org/tiny"}, nil, []string{"hf:org/tiny", "headers only", "hf download org/tiny"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := tinyRepo(t)
			if tt.setup != nil {
				tt.setup(s)
			}
			status, stdout, stderr := run(tt.args...)
			var errLines []string
			for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
				if strings.HasPrefix(l, "layerscope: ") {
					errLines = append(errLines, l)
				}
			}
			if status != 1 || stdout != "" || len(errLines) != 1 {
				t.Fatalf("status %d, stdout %q, stderr %q; want 1 and one error line", status, stdout, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(errLines[0], w) {
					t.Errorf("%q does not mention %q", errLines[0], w)
				}
			}
		})
	}
}
