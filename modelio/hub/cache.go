package hub

import (
	"encoding/json"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/layerscope/layerscope/modelio/weights"
)

// The header cache keeps what Open fetched, so a model opens again without the network (and with
// HF_HUB_OFFLINE). It lives under Client.CacheDir, one folder per repository, one per commit:
//
//	<CacheDir>/<org>--<name>/refs/ref-<revision>        the commit a revision last resolved to
//	<CacheDir>/<org>--<name>/<commit>/manifest.json     the files and their sizes; written last
//	<CacheDir>/<org>--<name>/<commit>/config.json
//	<CacheDir>/<org>--<name>/<commit>/model.safetensors.index.json
//	<CacheDir>/<org>--<name>/<commit>/<shard>.head      the shard's first bytes: length and header
//
// A commit's files never change, so an entry is never refreshed, only replaced when unreadable. The
// cache is a convenience: a failure to write it is not an error, and an entry that does not read back
// is fetched again. What it holds is parsed with the same checks as an answer from the network.

// manifestName marks a complete entry: it is written last, into a folder renamed into place.
const manifestName = "manifest.json"

// maxManifestBytes bounds the manifest: a name and a size per shard.
const maxManifestBytes = 16 << 20

// cacheEntry is what one commit's folder holds.
type cacheEntry struct {
	Config, Index []byte
	Files         []weights.Remote
}

type manifest struct {
	Config bool           `json:"config"`
	Index  bool           `json:"index"`
	Files  []manifestFile `json:"files"`
}

type manifestFile struct {
	Name string `json:"name"` // the file's name in the repository
	Size int64  `json:"size"`
}

// repoDir is the repository's folder in the cache ("meta-llama--Llama-3.2-1B"): ids hold no "--".
func (c *Client) repoDir(ref Ref) string {
	return filepath.Join(c.CacheDir, strings.ReplaceAll(ref.Repo, "/", "--"))
}

// refFile holds the commit a revision resolved to; the revision is escaped into one file name.
func (c *Client) refFile(ref Ref) string {
	return filepath.Join(c.repoDir(ref), "refs", "ref-"+url.PathEscape(ref.Revision))
}

// cachedRef is the commit the revision last resolved to, or "".
func (c *Client) cachedRef(ref Ref) string {
	if c.CacheDir == "" {
		return ""
	}
	data, err := readLimited(c.refFile(ref), 64)
	if err != nil {
		return ""
	}
	commit := strings.TrimSpace(string(data))
	if !commitHash.MatchString(commit) {
		return ""
	}
	return commit
}

func (c *Client) saveRef(ref Ref, commit string) {
	if c.CacheDir == "" || ref.IsCommit() {
		return
	}
	path := c.refFile(ref)
	if os.MkdirAll(filepath.Dir(path), 0o755) != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-")
	if err != nil {
		return
	}
	_, werr := tmp.WriteString(commit + "\n")
	if cerr := tmp.Close(); werr != nil || cerr != nil || os.Rename(tmp.Name(), path) != nil {
		os.Remove(tmp.Name())
	}
}

// loadCache returns the cached snapshot of a commit, or nil when the cache does not hold a readable one.
func (c *Client) loadCache(ref Ref, commit string) *Snapshot {
	if c.CacheDir == "" {
		return nil
	}
	dir := filepath.Join(c.repoDir(ref), commit)
	data, err := readLimited(filepath.Join(dir, manifestName), maxManifestBytes)
	if err != nil {
		return nil
	}
	var m manifest
	if decodeJSON(data, &m) != nil {
		return nil
	}
	s := &Snapshot{Ref: ref, Commit: commit, Cached: true}
	if m.Config {
		if s.Config, err = readLimited(filepath.Join(dir, configName), maxConfigBytes); err != nil {
			return nil
		}
	}
	var weightMap map[string]string
	if m.Index {
		index, err := readLimited(filepath.Join(dir, indexName), maxIndexBytes)
		if err != nil {
			return nil
		}
		if weightMap, err = weights.ParseIndex(ref.String()+"/"+indexName, index); err != nil {
			return nil
		}
	}
	if len(m.Files) == 0 {
		return s
	}
	remotes := make([]weights.Remote, len(m.Files))
	var total int64
	for i, f := range m.Files {
		if !plainName(f.Name) {
			return nil
		}
		head, err := readLimited(filepath.Join(dir, f.Name+".head"), maxHeaderTotal-total)
		if err != nil {
			return nil
		}
		total += int64(len(head))
		remotes[i] = weights.Remote{Name: ref.String() + "/" + f.Name, Head: head, Size: f.Size}
	}
	if s.Weights, err = weights.FromRemote(remotes, weightMap); err != nil {
		return nil
	}
	return s
}

// saveCache writes a commit's entry into a temporary folder and renames it into place, so a reader
// never sees half of one.
func (c *Client) saveCache(ref Ref, commit string, e *cacheEntry) {
	if c.CacheDir == "" {
		return
	}
	repo := c.repoDir(ref)
	if os.MkdirAll(repo, 0o755) != nil {
		return
	}
	tmp, err := os.MkdirTemp(repo, ".tmp-")
	if err != nil {
		return
	}
	defer os.RemoveAll(tmp) // gone after the rename; what is left of a failed write otherwise
	m := manifest{Config: e.Config != nil, Index: e.Index != nil}
	write := func(name string, data []byte) bool {
		return os.WriteFile(filepath.Join(tmp, name), data, 0o644) == nil
	}
	if m.Config && !write(configName, e.Config) || m.Index && !write(indexName, e.Index) {
		return
	}
	prefix := ref.String() + "/"
	for _, f := range e.Files {
		name := strings.TrimPrefix(f.Name, prefix)
		if !plainName(name) || !write(name+".head", f.Head) {
			return
		}
		m.Files = append(m.Files, manifestFile{Name: name, Size: f.Size})
	}
	data, err := json.Marshal(m)
	if err != nil || !write(manifestName, data) {
		return
	}
	dst := filepath.Join(repo, commit)
	os.RemoveAll(dst) // an unreadable entry, which is why this one was fetched
	os.Rename(tmp, dst)
}

// plainName is a file name that stays in its folder.
func plainName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\\\x00") && name != manifestName
}

// readLimited reads a regular file of at most limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() || info.Size() > limit {
		return nil, os.ErrInvalid
	}
	return io.ReadAll(io.LimitReader(f, limit))
}
