package modelio_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/gguf/gguftest"
	"github.com/layerscope/layerscope/modelio/hub"
	"github.com/layerscope/layerscope/modelio/hub/hubtest"
	"github.com/layerscope/layerscope/modelio/weights/weightstest"
)

const hubCommit = "89abcdef0123456789abcdef0123456789abcdef"

// snapshotFolder is a folder laid out as the Hugging Face cache lays out a snapshot, so that the local
// model is named by its id, as the Hub model is.
func snapshotFolder(t *testing.T, id string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "models--"+strings.ReplaceAll(id, "/", "--"), "snapshots", hubCommit)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A model on the Hub is described exactly as its folder is: tree, architecture, facts and warnings.
func TestOpenHubMatchesFolder(t *testing.T) {
	tests := []struct {
		name  string
		write func(t *testing.T, dir string, specs []weightstest.Spec)
	}{
		{"one file", func(t *testing.T, dir string, specs []weightstest.Spec) {
			weightstest.WriteFile(t, filepath.Join(dir, "model.safetensors"), specs)
		}},
		{"four shards and an index", func(t *testing.T, dir string, specs []weightstest.Spec) {
			q := len(specs) / 4
			weightstest.WriteSharded(t, dir, [][]weightstest.Spec{specs[:q], specs[q : 2*q], specs[2*q : 3*q], specs[3*q:]})
		}},
		{"an index that disagrees with its shards", func(t *testing.T, dir string, specs []weightstest.Spec) {
			names := weightstest.WriteSharded(t, dir, [][]weightstest.Spec{specs[:5], specs[5 : len(specs)-1]})
			weightMap := map[string]string{"model.layers.9.mlp.up_proj.weight": names[0]}
			for i, s := range specs {
				weightMap[s.Name] = names[min(i/5, 1)]
			}
			weightstest.WriteIndex(t, dir, weightMap)
		}},
		{"shards without an index", func(t *testing.T, dir string, specs []weightstest.Spec) {
			weightstest.WriteFile(t, filepath.Join(dir, "a.safetensors"), specs[:3])
			weightstest.WriteFile(t, filepath.Join(dir, "b.safetensors"), specs[3:])
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tinyLlama(4)
			dir := snapshotFolder(t, "org/tiny")
			writeJSON(t, filepath.Join(dir, "config.json"), cfg)
			tt.write(t, dir, expectedTensors(t, cfg, "BF16"))
			local, err := modelio.Open(dir)
			if err != nil {
				t.Fatal(err)
			}

			s := hubtest.New(t)
			s.Add("org/tiny", dir, hubCommit)
			s.Setenv(t, "hf_secret")
			var mu sync.Mutex
			var steps []string
			remote, err := modelio.OpenProgress("hf:org/tiny", func(p hub.Progress) {
				mu.Lock()
				steps = append(steps, p.String())
				mu.Unlock()
			})
			if err != nil {
				t.Fatal(err)
			}
			s.CheckHeadersOnly(t)

			if a, b := arch.Repr(remote.Spec.Root), arch.Repr(local.Spec.Root); a != b {
				t.Errorf("tree from the Hub differs from the folder's:\n%s\n---\n%s", a, b)
			}
			if !reflect.DeepEqual(remote.Arch, local.Arch) {
				t.Errorf("architecture from the Hub differs from the folder's")
			}
			if strings.Contains(tt.name, "disagrees") && len(local.Warnings) < 2 {
				t.Errorf("the stale index gave the folder only %q", local.Warnings)
			}
			if !reflect.DeepEqual(remote.Warnings, local.Warnings) || !reflect.DeepEqual(remote.Notes, local.Notes) {
				t.Errorf("warnings from the Hub %q, from the folder %q", remote.Warnings, local.Warnings)
			}
			if a, b := factsJSON(t, remote), factsJSON(t, local); a != b {
				t.Errorf("facts from the Hub differ from the folder's:\n%s\n---\n%s", a, b)
			}
			if remote.Name != "org/tiny" || remote.Path != "hf:org/tiny" || remote.Commit != hubCommit || remote.HasWeights() {
				t.Errorf("name %q path %q commit %q, weights here %v", remote.Name, remote.Path, remote.Commit, remote.HasWeights())
			}
			if len(steps) == 0 || !strings.Contains(steps[len(steps)-1], "headers") {
				t.Errorf("progress: %q", steps)
			}
		})
	}
}

func factsJSON(t *testing.T, m *modelio.Model) string {
	t.Helper()
	data, err := json.MarshalIndent(m.Facts(), "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// Every way of naming a Hub model opens it; a local folder of the same name wins.
func TestOpenHubNames(t *testing.T) {
	cfg := tinyLlama(2)
	dir := snapshotFolder(t, "org/tiny")
	writeJSON(t, filepath.Join(dir, "config.json"), cfg)
	weightstest.WriteFile(t, filepath.Join(dir, "model.safetensors"), expectedTensors(t, cfg, "BF16"))
	s := hubtest.New(t)
	s.Add("org/tiny", dir, hubCommit)
	s.Setenv(t, "")
	for _, name := range []string{"hf:org/tiny", "hf:org/tiny@main", "hf:org/tiny@" + hubCommit,
		s.Hub.URL + "/org/tiny", s.Hub.URL + "/org/tiny/tree/main"} {
		m, err := modelio.Open(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(m.Arch.Blocks) != 2 || m.Commit != hubCommit {
			t.Errorf("%s: %d blocks at %s", name, len(m.Arch.Blocks), m.Commit)
		}
	}
	// A config-only repository opens too, from its config.
	cfgOnly := t.TempDir()
	writeJSON(t, filepath.Join(cfgOnly, "config.json"), cfg)
	s.Add("org/config-only", cfgOnly, hubCommit)
	if m, err := modelio.Open("hf:org/config-only"); err != nil || m.Weights != nil || len(m.Arch.Blocks) != 2 {
		t.Errorf("config-only repository: %v", err)
	}
	// A bad config.json is named as the Hub file it is.
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "config.json"), []byte("<html>rate limited</html>"), 0o644)
	s.Add("org/bad", bad, hubCommit)
	if _, err := modelio.Open("hf:org/bad"); err == nil || !strings.HasPrefix(err.Error(), "hf:org/bad/config.json: invalid JSON") {
		t.Errorf("bad config.json: %v", err)
	}
	// A remote model pruned in the what-if keeps knowing its weights are not here.
	m, err := modelio.Open("hf:org/tiny")
	if err != nil {
		t.Fatal(err)
	}
	if p, err := modelio.RemoveBlocks(m, []int{1}); err != nil || p.HasWeights() {
		t.Errorf("pruned Hub model: %v, weights here %v", err, p != nil && p.HasWeights())
	}
}

// A GGUF repository on the Hub opens by one file's header, read by range requests, and is described
// as the same file opened from disk; of several quantizations, Q4_K_M is read.
func TestOpenHubGGUF(t *testing.T) {
	dir := snapshotFolder(t, "org/tiny-GGUF")
	kvs, tensors := gguftest.TinyLlama()
	gguftest.Write(t, filepath.Join(dir, "tiny-Q4_K_M.gguf"), kvs, tensors)
	gguftest.Write(t, filepath.Join(dir, "tiny-Q8_0.gguf"), kvs, tensors)
	gguftest.Write(t, filepath.Join(dir, "tiny-f16-00001-of-00002.gguf"), kvs, tensors)
	local, err := modelio.Open(filepath.Join(dir, "tiny-Q4_K_M.gguf"))
	if err != nil {
		t.Fatal(err)
	}

	s := hubtest.New(t)
	s.Add("org/tiny-GGUF", dir, hubCommit)
	s.Setenv(t, "hf_secret")
	remote, err := modelio.Open("hf:org/tiny-GGUF")
	if err != nil {
		t.Fatal(err)
	}
	s.CheckHeadersOnly(t)
	if !remote.Remote || !remote.GGUF || remote.Commit != hubCommit {
		t.Errorf("Remote %v, GGUF %v, Commit %q; want a remote GGUF model at %s", remote.Remote, remote.GGUF, remote.Commit, hubCommit)
	}
	if !strings.HasSuffix(remote.Path, "/tiny-Q4_K_M.gguf") {
		t.Errorf("Path %q: want the Q4_K_M file", remote.Path)
	}
	if got, want := arch.Repr(remote.Spec.Root), arch.Repr(local.Spec.Root); got != want {
		t.Errorf("tree from the Hub:\n%s\nfrom disk:\n%s", got, want)
	}
	if !reflect.DeepEqual(remote.Arch, local.Arch) {
		t.Errorf("architecture from the Hub differs from the file's:\n%+v\n%+v", remote.Arch, local.Arch)
	}
	if remote.HasWeights() {
		t.Error("a model read from the Hub claims its weights are on this machine")
	}
}
