package hub_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/layerscope/layerscope/modelio/hub"
)

// A user behind a proxy (HTTP_PROXY here; HTTPS_PROXY for the real, https Hub) reaches the Hub through
// it. The Hub is given a name that no resolver knows, so the test passes only if the client asks the
// proxy, which forwards to the stand-in Hub on 127.0.0.1; the CDN it redirects to is on loopback, which
// is never proxied.
func TestProxyFromEnvironment(t *testing.T) {
	s, _ := newRepo(t)
	var proxied atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Host != "hub.layerscope.invalid" {
			http.Error(w, "this proxy serves the test Hub only", http.StatusBadGateway)
			return
		}
		proxied.Add(1)
		req, err := http.NewRequest(r.Method, s.Hub.URL+r.URL.RequestURI(), nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	t.Cleanup(proxy.Close)

	s.Setenv(t, token)
	t.Setenv("HF_ENDPOINT", "http://hub.layerscope.invalid")
	t.Setenv("HTTP_PROXY", proxy.URL)
	c, err := hub.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	c.Timeout = 5 * time.Second
	snap, err := c.Open(context.Background(), ref(t, "hf:org/model"))
	if err != nil {
		t.Fatal(err)
	}
	if snap.Commit != commit || len(snap.Weights.Tensors) == 0 {
		t.Errorf("commit %s, %d tensors: want the model at %s", snap.Commit, len(snap.Weights.Tensors), commit)
	}
	if proxied.Load() == 0 {
		t.Error("no request went through the proxy")
	}
	s.CheckHeadersOnly(t)
}
