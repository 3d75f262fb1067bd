package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/layerscope/layerscope/modelio/weights"
)

// Limits on what one answer may hold, so a hostile or broken server costs bounded memory.
const (
	// maxInfoBytes bounds the repository listing: a repository of ten thousand files lists in about
	// one megabyte.
	maxInfoBytes = 32 << 20
	// maxConfigBytes bounds config.json, a few kilobytes in practice (with an embedded chat template or
	// id2label table, a few hundred).
	maxConfigBytes = 16 << 20
	// maxIndexBytes bounds model.safetensors.index.json: DeepSeek-V3's, with 90k tensors, is under 10 MB.
	maxIndexBytes = 64 << 20
	// maxHeaderTotal bounds all the headers of one model together. A single header may take up to the
	// format's 100 MB, but the largest models' headers add up to about ten (DeepSeek-V3: 163 shards);
	// without a total, 163 hostile shards could ask for 16 GB.
	maxHeaderTotal = 512 << 20
)

// DefaultParallel is how many headers are fetched at once: four shards of an 8B model all at once,
// and the hundreds of a 405B model without opening hundreds of connections.
const DefaultParallel = 8

// File names of a transformers checkpoint on the Hub (transformers' CONFIG_NAME, SAFE_WEIGHTS_NAME,
// SAFE_WEIGHTS_INDEX_NAME).
const (
	configName = "config.json"
	indexName  = weights.IndexName
	singleName = weights.SingleName
)

// Snapshot is what Open fetched of a model: its config and its tensor headers.
type Snapshot struct {
	Ref    Ref
	Commit string // the commit the revision resolved to
	// Config is config.json's bytes; nil when the repository has none.
	Config []byte
	// Weights holds the tensor headers; nil when the repository has no safetensors files. Each
	// tensor's File is Ref.String() + "/" + its file name in the repository.
	Weights *weights.Set
	// Cached is true when everything came from the header cache, without a request.
	Cached bool
}

// Progress is where an Open stands while headers arrive.
type Progress struct {
	Ref         Ref
	Done, Total int   // headers fetched so far, of Total
	Bytes       int64 // bytes fetched so far (config, index and headers)
	Cached      bool  // it came from the header cache
}

// String is a one-line progress message: "hf:org/name: 2 of 4 headers (180 kB)".
func (p Progress) String() string {
	switch {
	case p.Cached:
		return fmt.Sprintf("%s: from the header cache", p.Ref)
	case p.Total == 0:
		return fmt.Sprintf("%s: reading config.json", p.Ref)
	}
	return fmt.Sprintf("%s: %d of %d headers (%s)", p.Ref, p.Done, p.Total, kB(p.Bytes))
}

func kB(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d kB", (n+999)/1000)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}

// GGUFError says a repository holds GGUF files and no safetensors. The GGUF reader opens such files
// through a RangeReader (see OpenFile); Files are their names in the repository.
type GGUFError struct {
	Ref    Ref
	Commit string
	Files  []string
}

func (e *GGUFError) Error() string {
	more := ""
	if len(e.Files) > 1 {
		more = fmt.Sprintf(" and %d more", len(e.Files)-1)
	}
	return fmt.Sprintf("%s holds GGUF files (%s%s) and no safetensors: Layerscope does not open GGUF from the Hub yet", e.Ref, quote(e.Files[0]), more)
}

// Open fetches a model's config.json and tensor headers: from the header cache when it holds the
// commit, else from the Hub. It never fetches tensor data.
func (c *Client) Open(ctx context.Context, ref Ref) (*Snapshot, error) {
	commit := ""
	switch {
	case ref.IsCommit():
		commit = ref.Revision
	case c.Offline:
		commit = c.cachedRef(ref)
	}
	if commit != "" {
		if s := c.loadCache(ref, commit); s != nil {
			c.report(Progress{Ref: ref, Cached: true})
			return s, nil
		}
	}
	if c.Offline {
		where := "Layerscope's header cache is off"
		if c.CacheDir != "" {
			where = "Layerscope's header cache (" + c.CacheDir + ") does not hold it"
		}
		return nil, fmt.Errorf("%s: HF_HUB_OFFLINE is set and %s: unset HF_HUB_OFFLINE to fetch its headers once", ref, where)
	}
	c.report(Progress{Ref: ref})
	info, err := c.repoInfo(ctx, ref)
	if err != nil {
		return nil, err
	}
	commit = info.SHA
	c.saveRef(ref, commit)
	if s := c.loadCache(ref, commit); s != nil {
		c.report(Progress{Ref: ref, Cached: true})
		return s, nil
	}
	f := &fetch{c: c, ctx: ctx, ref: ref, commit: commit}
	s, entry, err := f.run(info.files())
	if err != nil {
		return nil, err
	}
	c.saveCache(ref, commit, entry)
	return s, nil
}

func (c *Client) report(p Progress) {
	if c.Progress != nil {
		c.Progress(p)
	}
}

// repoInfo is the part of the Hub's answer to /api/models/{repo}/revision/{rev} that Open reads.
type repoInfo struct {
	SHA      string `json:"sha"`
	Siblings []struct {
		Name string `json:"rfilename"`
	} `json:"siblings"`
}

func (i *repoInfo) files() map[string]bool {
	out := make(map[string]bool, len(i.Siblings))
	for _, s := range i.Siblings {
		out[s.Name] = true
	}
	return out
}

// repoInfo asks the Hub which commit the revision is at and which files it holds.
func (c *Client) repoInfo(ctx context.Context, ref Ref) (*repoInfo, error) {
	u := strings.TrimSuffix(c.Endpoint, "/") + "/api/models/" + ref.Repo + "/revision/" + url.PathEscape(ref.Revision)
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	a, err := c.get(ctx, u, 0, -1, ref)
	if err != nil {
		return nil, err
	}
	data, err := readAll(a, maxInfoBytes)
	if err != nil {
		return nil, err
	}
	var info repoInfo
	if err := decodeJSON(data, &info); err != nil {
		return nil, fmt.Errorf("%s: the answer is not the Hub's JSON listing (%s): %v", showURL(a.url), contentType(a), err)
	}
	if !commitHash.MatchString(info.SHA) {
		return nil, fmt.Errorf("%s: the answer names no commit (sha %s)", showURL(a.url), quote(info.SHA))
	}
	return &info, nil
}

// decodeJSON decodes one JSON object and refuses anything after it.
func decodeJSON(data []byte, v any) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		start := string(trimmed[:min(len(trimmed), 40)])
		return fmt.Errorf("it starts with %s, not a JSON object", quote(start))
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(v); err != nil {
		return errors.New(oneLine(err.Error()))
	}
	if dec.More() {
		return errors.New("data after the JSON object")
	}
	return nil
}

func contentType(a *answer) string {
	if t := a.resp.Header.Get("Content-Type"); t != "" {
		return "Content-Type " + quote(t)
	}
	return "no Content-Type"
}

// fileURL is the Hub's address of a file at a commit: {endpoint}/{repo}/resolve/{commit}/{file}.
func (c *Client) fileURL(ref Ref, commit, file string) string {
	parts := strings.Split(file, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.TrimSuffix(c.Endpoint, "/") + "/" + ref.Repo + "/resolve/" + url.PathEscape(commit) + "/" + strings.Join(parts, "/")
}

// fetch is one Open's fetching of files at one commit.
type fetch struct {
	c      *Client
	ctx    context.Context
	ref    Ref
	commit string

	mu          sync.Mutex
	done, total int
	bytes       int64
	headerBytes atomic.Int64 // header bytes asked for so far, against maxHeaderTotal
}

// name is how a file of the repository is named in the weights and in errors.
func (f *fetch) name(file string) string { return f.ref.String() + "/" + file }

// run picks the files the way weights.ReadFolder picks them in a folder (the index's shards, else
// model.safetensors, else every .safetensors file) and fetches them.
func (f *fetch) run(files map[string]bool) (*Snapshot, *cacheEntry, error) {
	var loose, gguf []string
	for name := range files {
		base := path.Base(name)
		switch {
		case strings.HasSuffix(name, ".safetensors") && !strings.Contains(name, "/") && !strings.HasPrefix(name, "."):
			loose = append(loose, name)
		case strings.HasSuffix(strings.ToLower(name), ".gguf") && !strings.HasPrefix(base, "."):
			gguf = append(gguf, name)
		}
	}
	slices.Sort(loose)
	slices.Sort(gguf)
	hasConfig, hasIndex := files[configName], files[indexName]
	if !hasIndex && len(loose) == 0 {
		if len(gguf) > 0 {
			return nil, nil, &GGUFError{Ref: f.ref, Commit: f.commit, Files: gguf}
		}
		if !hasConfig {
			return nil, nil, fmt.Errorf("%s holds neither config.json nor .safetensors files (%d files): not a transformers model", f.ref, len(files))
		}
	}

	entry := &cacheEntry{}
	var cfg, index []byte
	var cfgErr, indexErr error
	var wg sync.WaitGroup
	if hasConfig {
		wg.Go(func() { cfg, cfgErr = f.small(configName, maxConfigBytes) })
	}
	if hasIndex {
		wg.Go(func() { index, indexErr = f.small(indexName, maxIndexBytes) })
	}
	wg.Wait()
	if err := cmpErr(cfgErr, indexErr); err != nil {
		return nil, nil, err
	}
	entry.Config, entry.Index = cfg, index

	var shards []string
	var weightMap map[string]string
	switch {
	case hasIndex:
		var err error
		if weightMap, err = weights.ParseIndex(f.name(indexName), index); err != nil {
			return nil, nil, err
		}
		shards = weights.Shards(weightMap)
		var missing []string
		for _, s := range shards {
			if !files[s] {
				missing = append(missing, s)
			}
		}
		if len(missing) > 0 {
			more := ""
			if len(missing) > 1 {
				more = fmt.Sprintf(" (and %d more of its %d shards are missing)", len(missing)-1, len(shards))
			}
			return nil, nil, fmt.Errorf("%s names %s, which the repository does not hold%s", f.name(indexName), quote(missing[0]), more)
		}
	case files[singleName]:
		shards = []string{singleName}
	default:
		shards = loose
	}
	remotes, err := f.headers(shards)
	if err != nil {
		return nil, nil, err
	}
	s := &Snapshot{Ref: f.ref, Commit: f.commit, Config: cfg}
	if len(remotes) > 0 {
		if s.Weights, err = weights.FromRemote(remotes, weightMap); err != nil {
			return nil, nil, err
		}
	}
	entry.Files = remotes
	return s, entry, nil
}

// cmpErr returns the first error in a fixed order, so the error does not depend on timing.
func cmpErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// small fetches a whole small file (config.json, the index).
func (f *fetch) small(file string, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(f.ctx, f.c.timeout())
	defer cancel()
	a, err := f.c.get(ctx, f.c.fileURL(f.ref, f.commit, file), 0, -1, f.ref)
	if err != nil {
		return nil, err
	}
	data, err := readAll(a, limit)
	if err != nil {
		return nil, err
	}
	f.add(int64(len(data)), false)
	return data, nil
}

// add counts fetched bytes and, for a header, one more file done, and reports progress.
func (f *fetch) add(n int64, header bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bytes += n
	if header {
		f.done++
	}
	if f.total > 0 {
		f.c.report(Progress{Ref: f.ref, Done: f.done, Total: f.total, Bytes: f.bytes})
	}
}

// headers fetches the headers of files, Client.Parallel at a time, in the order given.
func (f *fetch) headers(files []string) ([]weights.Remote, error) {
	f.mu.Lock()
	f.total = len(files)
	f.mu.Unlock()
	if len(files) == 0 {
		return nil, nil
	}
	f.add(0, false)
	out := make([]weights.Remote, len(files))
	errs := make([]error, len(files))
	ctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	parallel := f.c.Parallel
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, file := range files {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				errs[i] = ctx.Err()
				return
			}
			out[i], errs[i] = f.header(ctx, file)
			if errs[i] != nil {
				cancel() // one shard failing fails the model: stop asking for the others
			}
		})
	}
	wg.Wait()
	// The first real failure in file order; a shard stopped because another failed is not one.
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, err
		}
	}
	if err := cmpErr(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// header fetches one file's header: its first 8 bytes, which give the header's length, then the header.
// The second request goes where the first was redirected (the CDN's signed URL), saving a redirect.
func (f *fetch) header(ctx context.Context, file string) (weights.Remote, error) {
	name := f.name(file)
	ctx, cancel := context.WithTimeout(ctx, f.c.timeout())
	defer cancel()
	first, size, at, err := f.c.rangeRead(ctx, f.ref, f.c.fileURL(f.ref, f.commit, file), 0, weights.LengthBytes, -1)
	if err != nil {
		return weights.Remote{}, err
	}
	n, err := weights.HeaderLength(name, first, size)
	if err != nil {
		return weights.Remote{}, err
	}
	if f.headerBytes.Add(n) > maxHeaderTotal {
		return weights.Remote{}, fmt.Errorf("%s: its header of %d bytes brings the model's headers over %d bytes, more than any real model's", name, n, maxHeaderTotal)
	}
	head := first
	if n > 0 {
		hdr, _, _, err := f.c.rangeRead(ctx, f.ref, at.String(), weights.LengthBytes, n, size)
		if err != nil {
			return weights.Remote{}, err
		}
		head = append(append(make([]byte, 0, int64(len(first))+n), first...), hdr...)
	}
	f.add(int64(len(head)), true)
	return weights.Remote{Name: name, Head: head, Size: size}, nil
}

// rangeRead reads n bytes from offset start of the file at rawURL, and returns them with the file's
// size and the URL that answered. wantSize ≥ 0 is the size an earlier answer gave, which this one must
// agree with. A server that ignores Range and sends the whole file is read only as far as needed.
func (c *Client) rangeRead(ctx context.Context, ref Ref, rawURL string, start, n, wantSize int64) ([]byte, int64, *url.URL, error) {
	a, err := c.get(ctx, rawURL, start, start+n-1, ref)
	if err != nil {
		return nil, 0, nil, err
	}
	defer drain(a.resp)
	at := a.url
	var size, skip int64
	switch a.resp.StatusCode {
	case 206:
		first, last, total, ok := contentRange(a.resp.Header.Get("Content-Range"))
		if !ok {
			return nil, 0, nil, fmt.Errorf("%s: a partial answer without a readable Content-Range (%s)", showURL(a.url), quote(a.resp.Header.Get("Content-Range")))
		}
		// A file shorter than the range asked for answers with what it has: a 3-byte file gives 0-2/3.
		if first != start || (last != start+n-1 && !(last == total-1 && last < start+n-1)) {
			return nil, 0, nil, fmt.Errorf("%s: asked for bytes %d-%d, the answer holds %d-%d", showURL(a.url), start, start+n-1, first, last)
		}
		size, n = total, last-first+1
	case 200:
		size, skip = a.resp.ContentLength, start
		if size < 0 {
			return nil, 0, nil, fmt.Errorf("%s: the server ignored the byte range and did not say the file's size", showURL(a.url))
		}
		n = min(n, max(0, size-start))
	default:
		return nil, 0, nil, fmt.Errorf("%s: HTTP %d instead of the bytes asked for", showURL(a.url), a.resp.StatusCode)
	}
	if wantSize >= 0 && size != wantSize {
		return nil, 0, nil, fmt.Errorf("%s: the file is %d bytes, but an earlier answer said %d: it changed while being read", showURL(a.url), size, wantSize)
	}
	if skip > 0 {
		if _, err := readN(a, skip); err != nil {
			return nil, 0, nil, err
		}
	}
	data, err := readN(a, n)
	if err != nil {
		return nil, 0, nil, err
	}
	return data, size, at, nil
}

// readN reads exactly n bytes of a body (n is bounded by the caller before it asks).
func readN(a *answer, n int64) ([]byte, error) {
	buf := make([]byte, n)
	got := 0
	for int64(got) < n {
		m, err := a.resp.Body.Read(buf[got:])
		got += m
		if err != nil {
			if int64(got) == n {
				break
			}
			return nil, bodyError(a.url, err, got, n)
		}
	}
	return buf, nil
}
