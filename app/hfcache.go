package app

import (
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/layerscope/layerscope/modelio/safefile"
)

// The local Hugging Face cache, as huggingface_hub lays it out:
//
//	<hub>/models--<org>--<name>/refs/main            the revision "main" points to
//	<hub>/models--<org>--<name>/snapshots/<rev>/      config.json, *.safetensors (links into blobs/)
//
// DESIGN.md names github.com/gomlx/go-huggingface for this layout. Its hub package (v0.3.1) resolves
// one repository at a time for downloading: it cannot list the cached models, it reads neither HF_HOME
// nor HF_HUB_CACHE, and resolving a repository creates its cache folder. Listing needs only two
// ReadDirs and one small file per model, read-only, so it is written out here. Nothing is downloaded
// and nothing is written.

// hfModel is one model found in the cache.
type hfModel struct {
	ID   string // "meta-llama/Llama-3.2-1B"
	Path string // the snapshot folder to open
}

// hfHubDir returns the cache folder huggingface_hub uses: $HF_HUB_CACHE, else the older
// $HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub.
func hfHubDir() string {
	for _, v := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"} {
		if d := os.Getenv(v); d != "" {
			return expandHome(d)
		}
	}
	if d := os.Getenv("HF_HOME"); d != "" {
		return filepath.Join(expandHome(d), "hub")
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(expandHome(d), "huggingface", "hub")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "huggingface", "hub")
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}

// scanHFCache lists the models in the cache folder hub that have a snapshot Layerscope can open (one with
// a config.json or a .safetensors file), sorted by id. A missing cache is an empty list.
func scanHFCache(hub string) []hfModel {
	if hub == "" {
		return nil
	}
	entries, err := os.ReadDir(hub)
	if err != nil {
		return nil
	}
	var out []hfModel
	for _, e := range entries {
		name, ok := strings.CutPrefix(e.Name(), "models--")
		if !ok || !e.IsDir() {
			continue // datasets--, spaces--, .locks
		}
		id := strings.Replace(name, "--", "/", 1)
		if snap := pickSnapshot(filepath.Join(hub, e.Name())); snap != "" {
			out = append(out, hfModel{ID: id, Path: snap})
		}
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].ID) < strings.ToLower(out[j].ID) })
	return out
}

// pickSnapshot returns the snapshot refs/main names when it is usable, else the most recently modified
// usable snapshot, else "".
func pickSnapshot(repo string) string {
	snaps := filepath.Join(repo, "snapshots")
	if ref, err := safefile.ReadFile(filepath.Join(repo, "refs", "main"), 4096); err == nil { // a commit hash
		if p := filepath.Join(snaps, strings.TrimSpace(string(ref))); usable(p) {
			return p
		}
	}
	entries, err := os.ReadDir(snaps)
	if err != nil {
		return ""
	}
	best, bestTime := "", int64(0)
	for _, e := range entries {
		p := filepath.Join(snaps, e.Name())
		info, err := os.Stat(p)
		if err != nil || !info.IsDir() || !usable(p) {
			continue
		}
		if t := info.ModTime().UnixNano(); best == "" || t > bestTime {
			best, bestTime = p, t
		}
	}
	return best
}

// usable reports whether a snapshot holds something modelio.Open reads.
func usable(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if n := e.Name(); n == "config.json" || strings.HasSuffix(n, ".safetensors") || strings.HasSuffix(n, ".gguf") {
			return true
		}
	}
	return false
}
