package modelio

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/layerscope/layerscope/modelio/config"
	"github.com/layerscope/layerscope/modelio/gguf"
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
	var ge *hub.GGUFError
	if errors.As(err, &ge) {
		return openHubGGUF(ctx, c, ge)
	}
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

// openHubGGUF opens a repository that holds GGUF files and no safetensors by one file's header, read by
// range requests. A GGUF repository usually holds one file per quantization of the same model, so the
// architecture is the same whichever is read: Q4_K_M, the one most people run, when there, else the
// first whole (unsplit) file; a note says which file was read.
func openHubGGUF(ctx context.Context, c *hub.Client, ge *hub.GGUFError) (*Model, error) {
	file, ok := pickGGUF(ge.Files)
	if !ok {
		return nil, fmt.Errorf("%s holds only split GGUF files (%s, ...): Layerscope reads split GGUF files from a folder, not from the Hub yet", ge.Ref, ge.Files[0])
	}
	at := hub.Ref{Repo: ge.Ref.Repo, Revision: ge.Commit}
	r, err := c.OpenFile(ctx, at, file)
	if err != nil {
		return nil, err
	}
	display := ge.Ref.String() + "/" + file
	f, err := gguf.ReadAt(r, r.Size(), display)
	if err != nil {
		return nil, err
	}
	m, err := FromGGUF(display, ggufDisplayName(file, f), f)
	if err != nil {
		return nil, err
	}
	m.Remote, m.Commit = true, ge.Commit
	if len(ge.Files) > 1 {
		m.Notes = append(m.Notes, fmt.Sprintf("%s holds %d GGUF files; this is %s (the others are other quantizations of the same architecture)", ge.Ref, len(ge.Files), file))
	}
	return m, nil
}

// pickGGUF chooses the file to read among a repository's GGUF files: Q4_K_M when there, else the first
// that is not a shard of a split file.
func pickGGUF(files []string) (string, bool) {
	var whole []string
	for _, f := range files {
		if !strings.Contains(f, "-of-") {
			whole = append(whole, f)
		}
	}
	for _, f := range whole {
		if strings.Contains(strings.ToUpper(f), "Q4_K_M") {
			return f, true
		}
	}
	if len(whole) == 0 {
		return "", false
	}
	return whole[0], true
}
