package compute

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/go-xla/pkg/installer"
)

// closedURL returns an https URL on a local port nothing listens on: connecting fails at once, on any
// machine, and no request leaves it.
func closedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "https://" + addr + "/"
}

// fakeTargets replaces the install targets with ones whose probe URL is probe and whose installer
// writes a fake plugin file and prints progress, counting its calls.
func fakeTargets(t *testing.T, probe string, installs *int) {
	saved := setupTargetsFunc
	t.Cleanup(func() { setupTargetsFunc = saved })
	setupTargetsFunc = func() map[string]setupTarget {
		real := saved()
		cpu := real[SetupCPU]
		cpu.probe = probe
		cpu.platform = ""
		cpu.install = func(dir string, v installer.VerbosityLevel) error {
			*installs++
			fmt.Printf("- Extracted 1 file(s): %s\n", cpu.plugin(dir))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			return os.WriteFile(cpu.plugin(dir), []byte("not an ELF file"), 0o644)
		}
		real[SetupCPU] = cpu
		return real
	}
}

// Without an answer from the download host, nothing is written and the error is one line naming the
// host and the way to install without a network.
func TestSetupWithoutNetwork(t *testing.T) {
	if !xlaBuilt {
		t.Skip("built without cgo: no PJRT plugin loads (TestNoCgoBackends covers that build)")
	}
	home := isolatePluginSearch(t)
	installs := 0
	probe := closedURL(t)
	fakeTargets(t, probe, &installs)
	dir := filepath.Join(home, ".local", "lib", "go-xla")
	start := time.Now()
	_, err := SetupBackend(context.Background(), SetupCPU, SetupOptions{Timeout: 5 * time.Second})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	t.Logf("%s (%s)", msg, time.Since(start).Round(time.Millisecond))
	for _, want := range []string{"cannot download the XLA CPU plugin from 127.0.0.1: no network? (connection refused)",
		"unpack it into ~/.local/lib/go-xla", "--backend cpu uses the pure Go backend"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") || installs != 0 {
		t.Errorf("error on several lines, or %d installs", installs)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s was created (%v)", dir, err)
	}
}

// With the host reachable (a local server that answers 404), the installer runs with its progress on opts.Progress,
// not on stdout; the plugin installed is tried, and a second run finds it there unless forced.
func TestSetupInstalls(t *testing.T) {
	if !xlaBuilt {
		t.Skip("built without cgo: no PJRT plugin loads (TestNoCgoBackends covers that build)")
	}
	home := isolatePluginSearch(t)
	srv := httptest.NewServer(http.NotFoundHandler()) // any answer will do
	defer srv.Close()
	installs := 0
	fakeTargets(t, srv.URL, &installs)
	var progress bytes.Buffer
	res, err := SetupBackend(context.Background(), SetupCPU, SetupOptions{Progress: &progress, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	plugin := filepath.Join(home, ".local", "lib", "go-xla", "pjrt_c_api_cpu_"+cpuPluginVersion+"_plugin.so")
	if res.Plugin != plugin || res.Already || installs != 1 || res.Device != "" ||
		!strings.Contains(res.LoadErr, "XLA CPU plugin "+plugin+": cannot load it") {
		t.Errorf("result %+v, %d installs", res, installs)
	}
	if !strings.Contains(progress.String(), "- Extracted 1 file(s): "+plugin) {
		t.Errorf("progress %q", progress.String())
	}
	res, err = SetupBackend(context.Background(), SetupCPU, SetupOptions{Progress: &progress})
	if err != nil || !res.Already || installs != 1 {
		t.Errorf("second run: %+v, %v, %d installs", res, err, installs)
	}
	if _, err = SetupBackend(context.Background(), SetupCPU, SetupOptions{Progress: &progress, Force: true}); err != nil || installs != 2 {
		t.Errorf("forced run: %v, %d installs", err, installs)
	}
	if _, err := SetupBackend(context.Background(), "tpu", SetupOptions{}); err == nil || !strings.Contains(err.Error(), `"tpu": expected cuda or cpu`) {
		t.Errorf("tpu: %v", err)
	}
}

func TestNetCause(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&net.DNSError{Name: "pypi.org", Err: "no such host", IsNotFound: true}, "cannot look up pypi.org"},
		{context.DeadlineExceeded, "pypi.org did not answer in 15s"},
		{fmt.Errorf("odd\nsecond line"), "odd"},
	} {
		if got := netCause(tc.err, "pypi.org", 15*time.Second); got != tc.want {
			t.Errorf("netCause(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
