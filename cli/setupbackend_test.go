package cli_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A wrong command line exits 2 with the usage hint, before anything is looked up.
// cgoBuild is false in a build without cgo (setupbackend_nocgo_test.go), where no plugin loads.
var cgoBuild = true

func TestSetupBackendArguments(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "setup-backend: expected one plugin (cuda or cpu), got 0"},
		{[]string{"cuda", "cpu"}, "setup-backend: expected one plugin (cuda or cpu), got 2"},
		{[]string{"tpu"}, `setup-backend: expected cuda or cpu, got "tpu"`},
		{[]string{"cpu", "--timeout", "0s"}, "setup-backend: --timeout 0s: expected a positive duration"},
		{[]string{"cpu", "--timeout", "soon"}, `invalid value "soon" for flag -timeout`},
		{[]string{"--bogus", "cpu"}, "flag provided but not defined: -bogus"},
	} {
		status, stdout, stderr := run(append([]string{"setup-backend"}, tc.args...)...)
		if status != 2 || stdout != "" || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "layerscope help") {
			t.Errorf("%q: status %d, stdout %q, stderr %q; want 2 and %q", tc.args, status, stdout, stderr, tc.want)
		}
	}
}

// Without a network to the plugin's host, the install fails fast with one line that names the host and
// what to do, exit 1, and writes nothing. Where the host answers, the test skips rather than download.
func TestSetupBackendOffline(t *testing.T) {
	if !cgoBuild {
		t.Skip("built without cgo: setup-backend refuses (TestSetupBackendNoCgo covers that build)")
	}
	for _, tc := range []struct{ plugin, host, what, advice string }{
		{"cpu", "api.github.com", "XLA CPU plugin", "unpack it into ~/.local/lib/go-xla"},
		{"cuda", "pypi.org", "CUDA plugin", `pip install "jax[cuda13]"`},
	} {
		t.Run(tc.plugin, func(t *testing.T) {
			if reachable(tc.host) {
				t.Skipf("%s answers here: the offline failure cannot be tested without downloading", tc.host)
			}
			home := t.TempDir()
			t.Setenv("HOME", home)
			t.Setenv("XDG_CACHE_HOME", filepath.Join(home, ".cache"))
			start := time.Now()
			status, stdout, stderr := run("setup-backend", tc.plugin, "--timeout", "10s")
			took := time.Since(start)
			t.Logf("%s(%s)", stderr, took.Round(time.Millisecond))
			want := "layerscope: setup-backend: cannot download the " + tc.what + " from " + tc.host + ": no network?"
			if status != 1 || stdout != "" || !strings.HasPrefix(stderr, want) || strings.Count(stderr, "\n") != 1 ||
				!strings.Contains(stderr, tc.advice) {
				t.Errorf("status %d, stdout %q, stderr %q", status, stdout, stderr)
			}
			if took > 20*time.Second {
				t.Errorf("took %s", took)
			}
			if entries, _ := os.ReadDir(home); len(entries) != 0 {
				t.Errorf("wrote into HOME: %v", entries)
			}
		})
	}
}

// reachable reports whether host takes a connection on port 443 within a few seconds, directly or
// with a proxy set (which might reach it).
func reachable(host string) bool {
	for _, v := range []string{"HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"} {
		if os.Getenv(v) != "" {
			return true
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", net.JoinHostPort(host, "443"))
	if err != nil {
		return false
	}
	c.Close()
	return true
}
