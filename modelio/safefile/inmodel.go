package safefile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrOutside says a symbolic link in a model folder leads out of it.
var ErrOutside = errors.New("outside the model folder")

// InModel resolves path, a file of the model folder dir, through any symbolic links, and returns the
// file it really is when that lies inside dir, or, when dir is a Hugging Face cache snapshot
// (…/hub/models--org--name/snapshots/<rev>, whose files link to ../../blobs/<hash>), inside that
// cached repository's folder. A link that leads anywhere else (../secret/id_rsa, /proc/self/environ,
// another model's folder) is an error wrapping ErrOutside: a model folder from a stranger must not
// make Layerscope copy files it was never given.
func InModel(dir, path string) (string, error) {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("%s: %w", show(dir), plain(err))
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", show(path), plain(err))
	}
	if real, err = filepath.Abs(real); err != nil {
		return "", fmt.Errorf("%s: %w", show(path), err)
	}
	if root, err = filepath.Abs(root); err != nil {
		return "", fmt.Errorf("%s: %w", show(dir), err)
	}
	if within(root, real) {
		return real, nil
	}
	if repo := cacheRepo(root); repo != "" && within(repo, real) {
		return real, nil
	}
	target, _ := os.Readlink(path)
	if target == "" {
		target = real
	}
	return "", fmt.Errorf("%s: is a link to %s, %w", show(path), show(target), ErrOutside)
}

// within reports whether path lies inside the folder root (both absolute and resolved).
func within(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// cacheRepo returns the repository folder (…/models--org--name) of a Hugging Face cache snapshot
// folder (…/models--org--name/snapshots/<rev>), or "".
func cacheRepo(dir string) string {
	snapshots := filepath.Dir(dir)
	repo := filepath.Dir(snapshots)
	if filepath.Base(snapshots) != "snapshots" || !strings.HasPrefix(filepath.Base(repo), "models--") {
		return ""
	}
	return repo
}
