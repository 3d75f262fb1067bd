//go:build !cgo

package compute

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// In a build without cgo a plugin that is installed is left alone: auto and cpu run on the pure Go
// backend without a note, --backend gpu and setup-backend fail with one line saying a cgo build is needed.
func TestNoCgoBackends(t *testing.T) {
	home := isolatePluginSearch(t)
	withCPUPluginSearch(t)
	t.Setenv(pluginEnv, touch(t, filepath.Join(home, "pjrt_c_api_cuda_plugin.so"), "x"))
	touch(t, filepath.Join(home, ".local", "lib", "go-xla", cpuPluginLink), "x")
	m := openRandom(t, tinyLlamaConfig(), "F32", nil, nil)
	tokens := randomTokens(1, 4, 64)
	for _, choice := range []string{BackendAuto, BackendCPU} {
		res, err := Run(context.Background(), m, tokens, Options{Backend: choice})
		if err != nil || res.Backend != "go" || len(res.Notes) != 0 {
			t.Errorf("%s: %v, backend %q, notes %q", choice, err, res.Backend, res.Notes)
		}
	}
	want := "--backend gpu: GPU and XLA CPU backends need a cgo build of Layerscope (this one was built with CGO_ENABLED=0)"
	if _, err := Run(context.Background(), m, tokens, Options{Backend: BackendGPU}); err == nil || err.Error() != want {
		t.Errorf("gpu error %v, want %q", err, want)
	}
	for _, which := range []string{SetupCPU, SetupCUDA} {
		_, err := SetupBackend(context.Background(), which, SetupOptions{Dir: t.TempDir()})
		if err == nil || !strings.Contains(err.Error(), "need a cgo build") {
			t.Errorf("setup %s: %v", which, err)
		}
	}
}
