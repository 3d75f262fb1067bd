// Package hubtest runs a local stand-in for the Hugging Face Hub on 127.0.0.1, for tests: the model
// API (/api/models/{repo}/revision/{rev}), resolve URLs that answer small files themselves and
// redirect large ones (safetensors, GGUF) with a 302 to a second server, the "CDN", which answers
// Range requests with 206 as the Hub's CDN does; gated and missing repositories answer 401/403/404
// with the Hub's X-Error-Code. Every request is logged, so tests can check who got the token and
// which bytes were asked for. Repositories are folders on disk, written by the tests.
//
// It is for tests only.
package hubtest

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// Repo is a model repository: the files of Dir, at one commit.
type Repo struct {
	Dir    string
	Commit string // 40 hex digits
	// Gated repositories answer their files only to a request with one of Tokens.
	Gated  bool
	Tokens []string
}

// Request is one logged request.
type Request struct {
	Server string // "hub" or "cdn"
	Path   string
	Range  string // the Range header, "" without
	Auth   string // the Authorization header, "" without
}

// Server is the stand-in Hub and its CDN.
type Server struct {
	Hub, CDN *httptest.Server
	// Repos by id ("org/name").
	Repos map[string]*Repo
	// HubHook and CDNHook, when set, see each request first and answer it themselves by returning
	// true: for faults (a slow answer, a cut connection, HTML instead of JSON, a redirect loop).
	HubHook, CDNHook func(w http.ResponseWriter, r *http.Request) bool

	mu  sync.Mutex
	log []Request
}

// New starts a Hub and a CDN on 127.0.0.1, closed when the test ends.
func New(t testing.TB) *Server {
	s := &Server{Repos: map[string]*Repo{}}
	s.Hub = httptest.NewServer(http.HandlerFunc(s.serveHub))
	s.CDN = httptest.NewServer(http.HandlerFunc(s.serveCDN))
	t.Cleanup(s.Hub.Close)
	t.Cleanup(s.CDN.Close)
	return s
}

// Setenv points the process at the stand-in for one test: HF_ENDPOINT, the token, and every cache
// folder in a temporary folder (so nothing of the user's is read or written), with no proxy.
func (s *Server) Setenv(t testing.TB, token string) {
	tmp := t.TempDir()
	for k, v := range map[string]string{
		"HF_ENDPOINT": s.Hub.URL, "HF_TOKEN": token, "HF_HOME": filepath.Join(tmp, "hf"), "HF_TOKEN_PATH": "",
		"XDG_CACHE_HOME": filepath.Join(tmp, "cache"), "HOME": tmp, "HF_HUB_OFFLINE": "",
		"HTTPS_PROXY": "", "HTTP_PROXY": "", "https_proxy": "", "http_proxy": "",
	} {
		t.Setenv(k, v)
	}
}

// Add serves dir as the repository id at commit and returns it for further settings.
func (s *Server) Add(id, dir, commit string) *Repo {
	r := &Repo{Dir: dir, Commit: commit}
	s.Repos[id] = r
	return r
}

// Log returns the requests so far.
func (s *Server) Log() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// ResetLog forgets the requests so far.
func (s *Server) ResetLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}

func (s *Server) record(server string, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, Request{Server: server, Path: r.URL.Path, Range: r.Header.Get("Range"), Auth: r.Header.Get("Authorization")})
}

// large files are stored in LFS on the Hub, and their resolve URLs redirect to the CDN.
func large(name string) bool {
	return strings.HasSuffix(name, ".safetensors") || strings.HasSuffix(name, ".gguf")
}

func (s *Server) serveHub(w http.ResponseWriter, r *http.Request) {
	s.record("hub", r)
	if s.HubHook != nil && s.HubHook(w, r) {
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	if rest, ok := strings.CutPrefix(p, "api/models/"); ok {
		s.serveInfo(w, r, rest)
		return
	}
	// {org}/{name}/resolve/{rev}/{file}
	parts := strings.SplitN(p, "/", 5)
	if len(parts) != 5 || parts[2] != "resolve" {
		http.NotFound(w, r)
		return
	}
	id, rev, file := parts[0]+"/"+parts[1], parts[3], parts[4]
	repo, ok := s.repo(w, r, id)
	if !ok {
		return
	}
	if rev != repo.Commit && rev != "main" {
		hubError(w, http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev)
		return
	}
	if repo.Gated && !repo.allowed(r) {
		status := http.StatusUnauthorized
		if r.Header.Get("Authorization") != "" {
			status = http.StatusForbidden
		}
		hubError(w, status, "GatedRepo", "Access to model "+id+" is restricted.")
		return
	}
	path, ok := repo.file(file)
	if !ok {
		hubError(w, http.StatusNotFound, "EntryNotFound", "Entry not found")
		return
	}
	w.Header().Set("X-Repo-Commit", repo.Commit)
	if large(file) {
		info, _ := os.Stat(path)
		w.Header().Set("X-Linked-Size", fmt.Sprint(info.Size()))
		w.Header().Set("X-Linked-Etag", `"`+repo.Commit[:8]+`"`)
		// A signed URL, as the Hub's CDN gets one.
		http.Redirect(w, r, s.CDN.URL+"/repos/"+id+"/"+repo.Commit+"/"+file+"?X-Amz-Signature=abc&X-Amz-Expires=3600", http.StatusFound)
		return
	}
	http.ServeFile(w, r, path)
}

// repo finds a repository, or answers as the Hub does for a missing one: 401 to an anonymous
// request (so as not to reveal private repositories), 404 to an authenticated one.
func (s *Server) repo(w http.ResponseWriter, r *http.Request, id string) (*Repo, bool) {
	repo, ok := s.Repos[id]
	if !ok {
		status := http.StatusUnauthorized
		if r.Header.Get("Authorization") != "" {
			status = http.StatusNotFound
		}
		hubError(w, status, "RepoNotFound", "Repository not found")
		return nil, false
	}
	return repo, true
}

func (repo *Repo) allowed(r *http.Request) bool {
	for _, t := range repo.Tokens {
		if r.Header.Get("Authorization") == "Bearer "+t {
			return true
		}
	}
	return false
}

// file is the path of a regular file of the repository.
func (repo *Repo) file(name string) (string, bool) {
	if strings.Contains(name, "..") {
		return "", false
	}
	path := filepath.Join(repo.Dir, filepath.FromSlash(name))
	info, err := os.Stat(path)
	return path, err == nil && info.Mode().IsRegular()
}

func hubError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("X-Error-Code", code)
	w.Header().Set("X-Error-Message", msg)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// serveInfo answers /api/models/{org}/{name}/revision/{rev}: the commit and the file list. Gated
// repositories list their files to anyone, as on the Hub.
func (s *Server) serveInfo(w http.ResponseWriter, r *http.Request, rest string) {
	id, rev, ok := strings.Cut(rest, "/revision/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	repo, ok := s.repo(w, r, id)
	if !ok {
		return
	}
	if rev, _ = url.PathUnescape(rev); rev != repo.Commit && rev != "main" {
		hubError(w, http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev)
		return
	}
	type sibling struct {
		Name string `json:"rfilename"`
	}
	var siblings []sibling
	filepath.WalkDir(repo.Dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(repo.Dir, path)
			siblings = append(siblings, sibling{filepath.ToSlash(rel)})
		}
		return nil
	})
	sort.Slice(siblings, func(i, j int) bool { return siblings[i].Name < siblings[j].Name })
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"id": id, "modelId": id, "sha": repo.Commit, "gated": repo.Gated, "siblings": siblings})
}

// serveCDN answers /repos/{org}/{name}/{commit}/{file} with the file, honouring Range (206).
func (s *Server) serveCDN(w http.ResponseWriter, r *http.Request) {
	s.record("cdn", r)
	if s.CDNHook != nil && s.CDNHook(w, r) {
		return
	}
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/repos/"), "/", 4)
	if len(parts) != 4 || r.URL.Query().Get("X-Amz-Signature") == "" {
		http.Error(w, "AccessDenied", http.StatusForbidden)
		return
	}
	repo, ok := s.Repos[parts[0]+"/"+parts[1]]
	if !ok || repo.Commit != parts[2] {
		http.NotFound(w, r)
		return
	}
	path, ok := repo.file(parts[3])
	if !ok {
		http.NotFound(w, r)
		return
	}
	f, err := os.Open(path)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	info, _ := f.Stat()
	http.ServeContent(w, r, "", info.ModTime(), f)
}

// HeaderEnd is the offset where a safetensors file's data starts: 8 + its header length.
func HeaderEnd(t testing.TB, path string) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var n [8]byte
	if _, err := f.ReadAt(n[:], 0); err != nil {
		t.Fatal(err)
	}
	return 8 + int64(binary.LittleEndian.Uint64(n[:]))
}

// CheckHeadersOnly fails the test unless every request for a large file carried a Range that lies
// within the file's header, and no request to the CDN carried a token.
func (s *Server) CheckHeadersOnly(t testing.TB) {
	t.Helper()
	for _, req := range s.Log() {
		if req.Server == "cdn" && req.Auth != "" {
			t.Errorf("the token reached the CDN: %s with Authorization %q", req.Path, req.Auth)
		}
		if !large(req.Path) {
			continue
		}
		if req.Range == "" {
			t.Errorf("%s %s: asked without a Range: the whole file", req.Server, req.Path)
			continue
		}
		var first, last int64
		if _, err := fmt.Sscanf(req.Range, "bytes=%d-%d", &first, &last); err != nil {
			t.Errorf("%s %s: Range %q is not one closed span", req.Server, req.Path, req.Range)
			continue
		}
		end := HeaderEnd(t, s.localPath(t, req.Path))
		if last >= end {
			t.Errorf("%s %s: Range %q reaches past the header, which ends at byte %d", req.Server, req.Path, req.Range, end)
		}
	}
}

// localPath maps a logged path (a resolve URL or a CDN path) to the file on disk.
func (s *Server) localPath(t testing.TB, p string) string {
	t.Helper()
	p = strings.TrimPrefix(p, "/")
	var id, file string
	if rest, ok := strings.CutPrefix(p, "repos/"); ok {
		parts := strings.SplitN(rest, "/", 4)
		id, file = parts[0]+"/"+parts[1], parts[3]
	} else {
		parts := strings.SplitN(p, "/", 5)
		id, file = parts[0]+"/"+parts[1], parts[4]
	}
	repo, ok := s.Repos[id]
	if !ok {
		t.Fatalf("logged request for unknown repository %s", id)
	}
	return filepath.Join(repo.Dir, filepath.FromSlash(file))
}
