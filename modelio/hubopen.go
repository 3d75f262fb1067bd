package modelio

import (
	"context"
	"fmt"
	"os"

	"github.com/layerscope/layerscope/modelio/config"
	"github.com/layerscope/layerscope/modelio/hub"
)

// OpenProgress is Open, with progress reports while a model on the Hub ("hf:org/name", a model page
// URL) arrives; progress is called from the fetching goroutines, one call at a time. Other paths open
// at once and report nothing.
func OpenProgress(path string, progress func(hub.Progress)) (*Model, error) {
	if !isHubRef(path) {
		return Open(path)
	}
	return openHub(context.Background(), path, progress)
}

// isHubRef reports whether path names a model on the Hub; a file or folder of that name wins.
func isHubRef(path string) bool {
	return hub.IsRef(path) && !exists(path)
}

// openHub opens a model on the Hub from its config.json and tensor headers: the same description as
// its folder would give, without its weights.
func openHub(ctx context.Context, s string, progress func(hub.Progress)) (*Model, error) {
	c, err := hub.FromEnv()
	if err != nil {
		return nil, err
	}
	c.Progress = progress
	ref, err := hub.ParseRef(s, c.Endpoint)
	if err != nil {
		return nil, err
	}
	snap, err := c.Open(ctx, ref)
	if err != nil {
		return nil, err
	}
	name := ref.Repo
	if ref.Revision != hub.DefaultRevision {
		name += "@" + ref.Revision
	}
	m := &Model{Name: name, Path: ref.String(), Weights: snap.Weights, Remote: true, Commit: snap.Commit}
	if snap.Config != nil {
		if m.Config, err = config.Parse(ref.String()+"/config.json", snap.Config); err != nil {
			return nil, err
		}
	}
	if m.Config == nil && m.Weights == nil {
		return nil, fmt.Errorf("%s: no config.json and no .safetensors files: not a model Layerscope can read", ref)
	}
	return describe(m)
}

// exists reports whether path names anything on disk, a dangling link included.
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
