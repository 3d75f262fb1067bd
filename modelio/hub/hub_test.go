package hub_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/layerscope/layerscope/modelio/hub"
	"github.com/layerscope/layerscope/modelio/hub/hubtest"
	"github.com/layerscope/layerscope/modelio/weights/weightstest"
)

const (
	commit = "0123456789abcdef0123456789abcdef01234567"
	token  = "hf_testtoken"
)

// llamaShards is a llama-shaped checkpoint in four shards: what an 8B model's repository looks like,
// at a size that takes a few kilobytes (the shards are sparse).
func llamaShards() [][]weightstest.Spec {
	var shards [][]weightstest.Spec
	shards = append(shards, []weightstest.Spec{weightstest.T("model.embed_tokens.weight", "BF16", 128256, 4096)})
	for s := range 3 {
		var specs []weightstest.Spec
		for l := s * 2; l < s*2+2; l++ {
			p := fmt.Sprintf("model.layers.%d.", l)
			specs = append(specs,
				weightstest.T(p+"self_attn.q_proj.weight", "BF16", 4096, 4096),
				weightstest.T(p+"self_attn.k_proj.weight", "BF16", 1024, 4096),
				weightstest.T(p+"mlp.down_proj.weight", "BF16", 4096, 14336),
			)
		}
		shards = append(shards, specs)
	}
	return shards
}

const llamaConfig = `{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
 "intermediate_size": 14336, "num_hidden_layers": 6, "num_attention_heads": 32, "num_key_value_heads": 8,
 "vocab_size": 128256, "rms_norm_eps": 1e-05, "tie_word_embeddings": false}`

// newRepo writes a sharded repository into a temporary folder and serves it as org/model.
func newRepo(t testing.TB) (*hubtest.Server, string) {
	t.Helper()
	dir := t.TempDir()
	weightstest.WriteSharded(t, dir, llamaShards())
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(llamaConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("# a model card\n"), 0o644)
	s := hubtest.New(t)
	s.Add("org/model", dir, commit)
	return s, dir
}

// client is the client a user's environment gives, pointed at the stand-in Hub.
func client(t *testing.T, s *hubtest.Server, tok string) *hub.Client {
	t.Helper()
	s.Setenv(t, tok)
	c, err := hub.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	c.Timeout = 5 * time.Second
	return c
}

func ref(t testing.TB, s string) hub.Ref {
	t.Helper()
	r, err := hub.ParseRef(s, "")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestOpenReadsHeadersOnlyAndKeepsTheTokenAtTheHub(t *testing.T) {
	s, dir := newRepo(t)
	c := client(t, s, token)
	var mu sync.Mutex
	var progress []hub.Progress
	c.Progress = func(p hub.Progress) { mu.Lock(); progress = append(progress, p); mu.Unlock() }
	snap, err := c.Open(context.Background(), ref(t, "hf:org/model"))
	if err != nil {
		t.Fatal(err)
	}
	if snap.Commit != commit || snap.Cached {
		t.Errorf("commit %s cached %v, want %s from the network", snap.Commit, snap.Cached, commit)
	}
	if got, want := len(snap.Weights.Tensors), 1+3*2*3; got != want {
		t.Errorf("%d tensors, want %d", got, want)
	}
	q := snap.Weights.Tensors["model.layers.5.mlp.down_proj.weight"]
	if q == nil || !slices.Equal(q.Shape, []int64{4096, 14336}) || q.File != "hf:org/model/"+weightstest.ShardName(4, 4) {
		t.Errorf("down_proj of layer 5: %+v", q)
	}
	if !bytes.Equal(snap.Config, []byte(llamaConfig)) {
		t.Errorf("config.json: %q", snap.Config)
	}
	s.CheckHeadersOnly(t)
	var hubAuth, cdn, ranged int
	for _, r := range s.Log() {
		switch {
		case r.Server == "hub" && r.Auth == "Bearer "+token:
			hubAuth++
		case r.Server == "hub":
			t.Errorf("a request to the Hub without the token: %+v", r)
		case r.Server == "cdn":
			cdn++
		}
		if r.Range != "" {
			ranged++
		}
		if strings.HasSuffix(r.Path, "README.md") {
			t.Errorf("asked for a file the model does not need: %s", r.Path)
		}
	}
	// 1 listing + config + index + 4 × (resolve + 0-7 at the CDN + header at the CDN)
	if hubAuth != 1+2+4 || cdn != 8 || ranged != 12 {
		t.Errorf("%d authorised Hub requests, %d CDN requests, %d ranged; want 7, 8, 12: %+v", hubAuth, cdn, ranged, s.Log())
	}
	last := progress[len(progress)-1]
	if last.Done != 4 || last.Total != 4 || last.Bytes == 0 {
		t.Errorf("last progress %+v (%s), want 4 of 4", last, last)
	}
	_ = dir
}

func TestCacheAndOffline(t *testing.T) {
	s, _ := newRepo(t)
	c := client(t, s, "")
	if _, err := c.Open(context.Background(), ref(t, "hf:org/model")); err != nil {
		t.Fatal(err)
	}
	// Again at a branch: one request to learn the branch's commit, the rest from the cache.
	s.ResetLog()
	snap, err := c.Open(context.Background(), ref(t, "hf:org/model"))
	if err != nil {
		t.Fatal(err)
	}
	if log := s.Log(); len(log) != 1 || !strings.Contains(log[0].Path, "/api/models/") || !snap.Cached {
		t.Errorf("second open: cached %v, requests %+v; want only the listing", snap.Cached, log)
	}
	if len(snap.Weights.Tensors) != 19 {
		t.Errorf("from the cache: %d tensors, want 19", len(snap.Weights.Tensors))
	}
	// At the commit itself, and offline at the branch: no request at all.
	s.ResetLog()
	if _, err := c.Open(context.Background(), ref(t, "hf:org/model@"+commit)); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HF_HUB_OFFLINE", "1")
	off, err := hub.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := off.Open(context.Background(), ref(t, "hf:org/model")); err != nil {
		t.Errorf("offline, cached: %v", err)
	}
	if log := s.Log(); len(log) != 0 {
		t.Errorf("requests with the commit cached or offline: %+v", log)
	}
	// Offline and not cached: one line saying so.
	_, err = off.Open(context.Background(), ref(t, "hf:org/other"))
	oneLine(t, err, "hf:org/other", "HF_HUB_OFFLINE", "cache")
	if !strings.Contains(err.Error(), filepath.Join(os.Getenv("XDG_CACHE_HOME"), "layerscope")) {
		t.Errorf("the cache is not under the user's cache folder: %v", err)
	}
}

// oneLine fails unless err is a one-line error mentioning every want.
func oneLine(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", want)
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\n\r") {
		t.Errorf("error is not one line: %q", msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not mention %q", msg, w)
		}
	}
}

func TestAccessErrors(t *testing.T) {
	s, dir := newRepo(t)
	gated := s.Add("meta-llama/gated", dir, commit)
	gated.Gated, gated.Tokens = true, []string{"hf_granted"}
	tests := []struct {
		name, ref, token string
		want             []string
	}{
		{"gated without a token", "hf:meta-llama/gated", "", []string{"hf:meta-llama/gated", "gated", "/meta-llama/gated", "HF_TOKEN"}},
		{"gated without access", "hf:meta-llama/gated", "hf_other", []string{"hf:meta-llama/gated", "gated", "no access", "licence", "HF_TOKEN"}},
		{"missing, anonymous (401)", "hf:org/nothing", "", []string{"hf:org/nothing", "no such model", "HF_TOKEN"}},
		{"missing, with a token (404)", "hf:org/nothing", "hf_other", []string{"hf:org/nothing", "no such model", "HF_TOKEN"}},
		{"missing revision", "hf:org/model@v9", "", []string{"hf:org/model@v9", "no revision", "v9"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := client(t, s, tt.token)
			_, err := c.Open(context.Background(), ref(t, tt.ref))
			oneLine(t, err, tt.want...)
		})
	}
	t.Run("gated with access", func(t *testing.T) {
		c := client(t, s, "hf_granted")
		if _, err := c.Open(context.Background(), ref(t, "hf:meta-llama/gated")); err != nil {
			t.Fatal(err)
		}
	})
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name     string
		hubHook  func(s *hubtest.Server) func(http.ResponseWriter, *http.Request) bool
		cdnHook  func(s *hubtest.Server) func(http.ResponseWriter, *http.Request) bool
		timeout  time.Duration
		want     []string
		noHeader string // no request for a file of this name may reach past the 8-byte length
	}{
		{
			name: "listing that is not JSON",
			hubHook: func(*hubtest.Server) func(http.ResponseWriter, *http.Request) bool {
				return func(w http.ResponseWriter, r *http.Request) bool {
					if !strings.Contains(r.URL.Path, "/api/") {
						return false
					}
					w.Header().Set("Content-Type", "text/html")
					fmt.Fprint(w, "<html><body>Welcome to the captive portal</body></html>")
					return true
				}
			},
			want: []string{"/api/models/org/model/revision/main", "not", "JSON", "<html>"},
		},
		{
			name: "redirect loop",
			cdnHook: func(s *hubtest.Server) func(http.ResponseWriter, *http.Request) bool {
				return func(w http.ResponseWriter, r *http.Request) bool {
					// Back to the Hub's resolve URL, which sends it here again.
					http.Redirect(w, r, s.Hub.URL+"/org/model/resolve/"+commit+"/"+weightstest.ShardName(1, 4), http.StatusFound)
					return true
				}
			},
			want: []string{"redirect loop", "/org/model/resolve/"},
		},
		{
			name: "header length past the file",
			cdnHook: func(*hubtest.Server) func(http.ResponseWriter, *http.Request) bool {
				return func(w http.ResponseWriter, r *http.Request) bool {
					if !strings.HasSuffix(r.URL.Path, weightstest.ShardName(2, 4)) {
						return false
					}
					// A 1000-byte file whose length says its header takes 5000.
					w.Header().Set("Content-Range", "bytes 0-7/1000")
					w.Header().Set("Content-Length", "8")
					w.WriteHeader(http.StatusPartialContent)
					w.Write(binary.LittleEndian.AppendUint64(nil, 5000))
					return true
				}
			},
			want:     []string{"hf:org/model/" + weightstest.ShardName(2, 4), "header length 5000", "past the end of the file"},
			noHeader: weightstest.ShardName(2, 4),
		},
		{
			name: "header length over the format's limit",
			cdnHook: func(*hubtest.Server) func(http.ResponseWriter, *http.Request) bool {
				return func(w http.ResponseWriter, r *http.Request) bool {
					w.Header().Set("Content-Range", "bytes 0-7/1000000000000")
					w.WriteHeader(http.StatusPartialContent)
					w.Write(binary.LittleEndian.AppendUint64(nil, 1<<40))
					return true
				}
			},
			want:     []string{"hf:org/model/model-0000", "header length 1099511627776", "limit"},
			noHeader: ".safetensors",
		},
		{
			name: "connection cut in the middle of a header",
			cdnHook: func(s *hubtest.Server) func(http.ResponseWriter, *http.Request) bool {
				return func(w http.ResponseWriter, r *http.Request) bool {
					if r.Header.Get("Range") == "bytes=0-7" || !strings.HasSuffix(r.URL.Path, weightstest.ShardName(3, 4)) {
						return false
					}
					info, _ := os.Stat(filepath.Join(s.Repos["org/model"].Dir, weightstest.ShardName(3, 4)))
					var first, last int64
					fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-%d", &first, &last)
					w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, info.Size()))
					w.Header().Set("Content-Length", fmt.Sprint(last-first+1))
					w.WriteHeader(http.StatusPartialContent)
					w.Write(bytes.Repeat([]byte{' '}, int(last-first+1)/2))
					w.(http.Flusher).Flush()
					conn, _, err := w.(http.Hijacker).Hijack()
					if err == nil {
						conn.Close()
					}
					return true
				}
			},
			want: []string{weightstest.ShardName(3, 4), "connection closed after"},
		},
		{
			name:    "slow answer",
			timeout: 300 * time.Millisecond,
			cdnHook: func(*hubtest.Server) func(http.ResponseWriter, *http.Request) bool {
				return func(w http.ResponseWriter, r *http.Request) bool {
					select { // until the client gives up; the bound is the client's timeout
					case <-r.Context().Done():
					case <-time.After(time.Minute):
					}
					return true
				}
			},
			want: []string{"/repos/org/model/", "timed out"},
		},
		{
			name: "config.json larger than any config",
			hubHook: func(*hubtest.Server) func(http.ResponseWriter, *http.Request) bool {
				return func(w http.ResponseWriter, r *http.Request) bool {
					if !strings.HasSuffix(r.URL.Path, "/config.json") {
						return false
					}
					// No length given: the client must stop reading by itself.
					chunk := bytes.Repeat([]byte(" "), 1<<20)
					for range 64 {
						if _, err := w.Write(chunk); err != nil {
							break
						}
					}
					return true
				}
			},
			want: []string{"/config.json", "over the 16777216 bytes"},
		},
		{
			name: "listing that announces a terabyte",
			hubHook: func(*hubtest.Server) func(http.ResponseWriter, *http.Request) bool {
				return func(w http.ResponseWriter, r *http.Request) bool {
					if !strings.Contains(r.URL.Path, "/api/") {
						return false
					}
					w.Header().Set("Content-Length", "1000000000000")
					w.WriteHeader(http.StatusOK)
					return true
				}
			},
			want: []string{"/api/models/org/model", "1000000000000 bytes"},
		},
		{
			name: "partial answer with another range",
			cdnHook: func(*hubtest.Server) func(http.ResponseWriter, *http.Request) bool {
				return func(w http.ResponseWriter, r *http.Request) bool {
					w.Header().Set("Content-Range", "bytes 100-107/100000")
					w.WriteHeader(http.StatusPartialContent)
					w.Write(make([]byte, 8))
					return true
				}
			},
			want: []string{"asked for bytes 0-7", "100-107"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newRepo(t)
			if tt.hubHook != nil {
				s.HubHook = tt.hubHook(s)
			}
			if tt.cdnHook != nil {
				s.CDNHook = tt.cdnHook(s)
			}
			c := client(t, s, token)
			if tt.timeout > 0 {
				c.Timeout = tt.timeout
			}
			_, err := c.Open(context.Background(), ref(t, "hf:org/model"))
			oneLine(t, err, tt.want...)
			for _, r := range s.Log() {
				if r.Server == "cdn" && r.Auth != "" {
					t.Errorf("the token reached the CDN: %+v", r)
				}
				if tt.noHeader != "" && strings.HasSuffix(r.Path, tt.noHeader) && r.Range != "" && r.Range != "bytes=0-7" {
					t.Errorf("asked for %s after a header length that does not fit", r.Range)
				}
			}
		})
	}
}

func TestGGUFRepository(t *testing.T) {
	dir := t.TempDir()
	// GGUF's magic and version 3, then whatever: the RangeReader does not parse.
	data := append([]byte("GGUF\x03\x00\x00\x00"), bytes.Repeat([]byte("0123456789"), hub.RangeBlock/4)...)
	if err := os.WriteFile(filepath.Join(dir, "model-Q4_K_M.gguf"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	s := hubtest.New(t)
	s.Add("org/model-GGUF", dir, commit)
	c := client(t, s, token)
	_, err := c.Open(context.Background(), ref(t, "hf:org/model-GGUF"))
	oneLine(t, err, "hf:org/model-GGUF", "GGUF", "model-Q4_K_M.gguf")
	var ge *hub.GGUFError
	if !errors.As(err, &ge) || ge.Commit != commit {
		t.Fatalf("error %v is not a GGUFError at the commit", err)
	}

	r, err := c.OpenFile(context.Background(), hub.Ref{Repo: "org/model-GGUF", Revision: ge.Commit}, ge.Files[0])
	if err != nil {
		t.Fatal(err)
	}
	if r.Size() != int64(len(data)) {
		t.Errorf("size %d, want %d", r.Size(), len(data))
	}
	for _, at := range []int64{0, 5, hub.RangeBlock - 3, hub.RangeBlock*2 + 7, int64(len(data)) - 4} {
		buf := make([]byte, 10)
		n, err := r.ReadAt(buf, at)
		want := data[at:min(at+10, int64(len(data)))]
		if !bytes.Equal(buf[:n], want) || (n < 10) != (err != nil) {
			t.Errorf("ReadAt(%d): %q, %v; want %q", at, buf[:n], err, want)
		}
	}
	r.SetBudget(r.Fetched()) // no more than what it has
	if _, err := r.ReadAt(make([]byte, 4), hub.RangeBlock*3+1); err == nil {
		t.Error("read past its budget without an error")
	}
	for _, req := range s.Log() {
		if req.Server == "cdn" && req.Auth != "" {
			t.Errorf("the token reached the CDN: %+v", req)
		}
		if strings.HasSuffix(req.Path, ".gguf") && req.Range == "" {
			t.Errorf("the whole GGUF file was asked for: %+v", req)
		}
	}
}

func TestParseRef(t *testing.T) {
	tests := []struct {
		in       string
		repo     string
		revision string
		err      string
	}{
		{"hf:meta-llama/Llama-3.2-1B", "meta-llama/Llama-3.2-1B", "main", ""},
		{"hf:meta-llama/Llama-3.2-1B@" + commit, "meta-llama/Llama-3.2-1B", commit, ""},
		{"hf:Qwen/Qwen3-0.6B@refs/pr/1", "Qwen/Qwen3-0.6B", "refs/pr/1", ""},
		{"hf:gpt2", "gpt2", "main", ""},
		{"https://huggingface.co/meta-llama/Llama-3.2-1B", "meta-llama/Llama-3.2-1B", "main", ""},
		{"https://huggingface.co/meta-llama/Llama-3.2-1B/", "meta-llama/Llama-3.2-1B", "main", ""},
		{"https://huggingface.co/Qwen/Qwen3-0.6B/tree/refs%2Fpr%2F1", "Qwen/Qwen3-0.6B", "refs/pr/1", ""},
		{"https://hf.co/google/gemma-3-270m/tree/v1.0", "google/gemma-3-270m", "v1.0", ""},
		{"http://127.0.0.1:9/org/model", "", "", "not the Hugging Face Hub"},
		{"https://huggingface.co/datasets/org/data", "", "", "a dataset, not a model"},
		{"https://huggingface.co/org/model/blob/main/config.json", "", "", "not a model page"},
		{"hf:org/model@", "", "", "revision after @ is empty"},
		{"hf:org/mo del", "", "", "not a valid model id"},
		{"hf:org/../etc", "", "", "model id"},
		{"hf:a/b/c", "", "", "not a model id"},
		{"hf:org--x/model", "", "", "not a valid model id"},
		{"hf:org/model@bad\nrev", "", "", "not a valid revision"},
	}
	for _, tt := range tests {
		r, err := hub.ParseRef(tt.in, "")
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || strings.Contains(err.Error(), "\n") {
				t.Errorf("ParseRef(%q): %v, want an error with %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || r.Repo != tt.repo || r.Revision != tt.revision {
			t.Errorf("ParseRef(%q) = %+v, %v; want %s at %s", tt.in, r, err, tt.repo, tt.revision)
		}
	}
	if r, err := hub.ParseRef("http://127.0.0.1:9/org/model/tree/dev", "http://127.0.0.1:9"); err != nil || r.Repo != "org/model" || r.Revision != "dev" {
		t.Errorf("a URL on HF_ENDPOINT's host: %+v, %v", r, err)
	}
}

func TestToken(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HF_TOKEN_PATH", "")
	t.Setenv("HF_HOME", home)
	t.Setenv("HF_ENDPOINT", "")
	c, err := hub.FromEnv()
	if err != nil || c.Token != "" {
		t.Fatalf("no token anywhere: %q, %v", c.Token, err)
	}
	os.WriteFile(filepath.Join(home, "token"), []byte("hf_fromfile\n"), 0o600)
	if c, err = hub.FromEnv(); err != nil || c.Token != "hf_fromfile" || c.TokenSource != filepath.Join(home, "token") {
		t.Errorf("token file: %+v, %v", c, err)
	}
	t.Setenv("HF_TOKEN", "hf_fromenv")
	if c, err = hub.FromEnv(); err != nil || c.Token != "hf_fromenv" || c.Endpoint != hub.DefaultEndpoint {
		t.Errorf("HF_TOKEN first: %+v, %v", c, err)
	}
	t.Setenv("HF_TOKEN", "hf_a\r\nX-Evil: 1")
	if _, err = hub.FromEnv(); err == nil || strings.Contains(err.Error(), "hf_a") {
		t.Errorf("a token with a line break: %v (and the token must not be printed)", err)
	}
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HF_ENDPOINT", "ftp://mirror")
	if _, err = hub.FromEnv(); err == nil || !strings.Contains(err.Error(), "HF_ENDPOINT") {
		t.Errorf("an ftp endpoint: %v", err)
	}
}
