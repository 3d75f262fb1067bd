package compute

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gomlx/go-xla/pkg/installer"
)

// Plugins SetupBackend installs.
const (
	SetupCUDA = "cuda" // the CUDA PJRT plugin of pip's jax-cuda13-pjrt, with the NVIDIA libraries it needs
	SetupCPU  = "cpu"  // the XLA CPU PJRT plugin of github.com/gomlx/pjrt-cpu-binaries
)

// DefaultSetupTimeout is how long SetupBackend waits for the download host's first answer.
const DefaultSetupTimeout = 15 * time.Second

// cpuPluginVersion is the XLA CPU plugin release go-xla v0.1.4 was tested against (its
// pjrt.DefaultCPUVersion, which a build without cgo cannot import; setup_cgo_test.go checks they agree).
const cpuPluginVersion = "v0.83.3"

// SetupOptions say where and how SetupBackend installs.
type SetupOptions struct {
	// Dir is the go-xla folder to install into; "" for ~/.local/lib/go-xla, where Run looks.
	Dir string
	// Progress receives the installer's progress (a spinner and one line per step); nil discards it.
	Progress io.Writer
	// Timeout bounds the wait for the download host's first answer (DefaultSetupTimeout when 0): past
	// it, or when the host's name does not resolve or the connection fails, there is taken to be no
	// network, and nothing is written. The download itself has no time limit (the CUDA libraries are
	// several hundred MB); ctx stops it.
	Timeout time.Duration
	// Force installs again over a plugin already there.
	Force bool
}

// Installed says what SetupBackend did.
type Installed struct {
	What    string // "CUDA plugin" or "XLA CPU plugin"
	Plugin  string // the plugin file
	Already bool   // it was there before and nothing was downloaded
	Device  string // the device the plugin opened on this machine; "" when it did not open
	LoadErr string // why it did not open (a CUDA plugin on a machine without a GPU), one line
}

// setupTarget describes how one plugin is installed and what to do without a network.
type setupTarget struct {
	what     string
	probe    string // a URL on the host the installer talks to first
	plugin   func(dir string) string
	install  func(dir string, v installer.VerbosityLevel) error
	offline  func(dir string) string // the way to install without the network, for the error line
	open     func(path string) (*device, error)
	platform string // "" when the plugin is made for this platform, else why not
}

// setupTargets maps the names SetupBackend takes to their targets.
func setupTargets() map[string]setupTarget {
	cpuVersion := cpuPluginVersion
	platform := runtime.GOOS + "_" + runtime.GOARCH
	cpuPlatform := ""
	// The Windows build is a .dll, which the plugin search does not look for.
	if !slices.Contains(installer.CPUSupportedPlatforms, platform) || runtime.GOOS == "windows" {
		cpuPlatform = "the XLA CPU plugin is built for linux_amd64, linux_arm64 and darwin_arm64, not " + platform
	}
	return map[string]setupTarget{
		SetupCUDA: {
			what:   "CUDA plugin",
			probe:  "https://pypi.org/pypi/jax-cuda13-pjrt/json",
			plugin: func(dir string) string { return filepath.Join(dir, "nvidia", "pjrt_c_api_cuda_plugin.so") },
			// go-xla's installer takes the plugin from pip's jax-cuda13-pjrt wheel and the NVIDIA
			// libraries from the wheels jax-cuda13-plugin depends on, checking pypi.org's sha256 of each.
			install: installCUDA,
			offline: func(dir string) string {
				return `Install it with pip instead (pip install "jax[cuda13]": Layerscope finds jax-cuda13-pjrt in that Python environment), ` +
					"or copy a CUDA PJRT plugin into " + tilde(dir)
			},
			open:     openXLA,
			platform: cudaPlatform,
		},
		SetupCPU: {
			what:  "XLA CPU plugin",
			probe: "https://api.github.com/repos/" + installer.BinaryCPUReleasesRepo + "/releases/tags/" + cpuVersion,
			plugin: func(dir string) string {
				return filepath.Join(dir, "pjrt_c_api_cpu_"+cpuVersion+"_plugin.so")
			},
			install: func(dir string, v installer.VerbosityLevel) error {
				return installer.CPUInstall(platform, cpuVersion, dir, false, v)
			},
			offline: func(dir string) string {
				return fmt.Sprintf("On a machine with a network, download pjrt_cpu_%s.tar.gz of release %s from github.com/%s "+
					"and unpack it into %s; until then --backend cpu uses the pure Go backend",
					platform, cpuVersion, installer.BinaryCPUReleasesRepo, tilde(dir))
			},
			open:     openXLACPU,
			platform: cpuPlatform,
		},
	}
}

// setupTargetsFunc is setupTargets, which the tests replace to install from nowhere.
var setupTargetsFunc = setupTargets

// SetupBackend installs a PJRT plugin (SetupCUDA or SetupCPU) with go-xla's installer into
// opts.Dir, which Run searches. It is the only place Layerscope downloads anything. It first asks the
// download host for an answer within opts.Timeout: without one, it writes nothing and fails with one
// line that names the host and the way to install without a network. Once installed, the plugin is
// opened once to tell whether it works on this machine.
//
// The installer prints its progress on os.Stdout, which is pointed at opts.Progress while it runs:
// a command's stdout is its result.
func SetupBackend(ctx context.Context, which string, opts SetupOptions) (*Installed, error) {
	target, ok := setupTargetsFunc()[which]
	if !ok {
		return nil, fmt.Errorf("%q: expected %s or %s", which, SetupCUDA, SetupCPU)
	}
	if target.platform != "" {
		return nil, errors.New(target.platform)
	}
	if !xlaBuilt {
		// A plugin this build cannot load is not worth a download.
		return nil, errNoXLA
	}
	dir := opts.Dir
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("no home folder to install into: %v", err)
		}
		dir = goXLADir(home)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultSetupTimeout
	}
	res := &Installed{What: target.what, Plugin: target.plugin(dir)}
	if _, err := os.Stat(res.Plugin); err == nil && !opts.Force {
		res.Already = true
	} else {
		if err := probeHost(ctx, target.probe, timeout); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			host := hostOf(target.probe)
			return nil, fmt.Errorf("cannot download the %s from %s: no network? (%s). %s",
				target.what, host, netCause(err, host, timeout), target.offline(dir))
		}
		if err := runInstaller(ctx, func(v installer.VerbosityLevel) error { return target.install(dir, v) }, opts.Progress); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("stopped; %s may hold a partial install (run again to finish it)", tilde(dir))
			}
			return nil, fmt.Errorf("installing the %s into %s failed: %s", target.what, tilde(dir), oneLine(err))
		}
		if _, err := os.Stat(res.Plugin); err != nil {
			return nil, fmt.Errorf("the installer finished, but %s is not there", res.Plugin)
		}
	}
	if which == SetupCPU {
		// Name the link the installer made (and the search tries first), where it is there.
		if link := filepath.Join(dir, cpuPluginLink); fileExists(link) {
			res.Plugin = link
		}
	}
	res.Device, res.LoadErr = tryOpen(target.open, res.Plugin)
	return res, nil
}

// tryOpen opens a plugin and closes it again, returning the device's name or why it did not open.
func tryOpen(open func(string) (*device, error), path string) (name, loadErr string) {
	d, err := func() (d *device, err error) {
		defer recoverError(&err)
		return open(path)
	}()
	if err != nil {
		return "", oneLine(err)
	}
	defer d.close()
	return d.name, ""
}

// probeHost asks a URL's host for any answer within timeout, through the proxy the environment names
// (as the installer's own requests go). An HTTP error status is an answer: the host is reachable.
func probeHost(ctx context.Context, probe string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, probe, nil)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// netCause says in a few words why a request got no answer.
func netCause(err error, host string, timeout time.Duration) string {
	var dns *net.DNSError
	var errno syscall.Errno
	var uerr *url.Error
	switch {
	case errors.As(err, &dns):
		return "cannot look up " + dns.Name
	case errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err):
		return fmt.Sprintf("%s did not answer in %s", host, timeout)
	case errors.As(err, &errno):
		return errno.Error()
	case errors.As(err, &uerr):
		return oneLine(uerr.Err)
	}
	return oneLine(err)
}

// hostOf is the host name of a URL.
func hostOf(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Hostname()
	}
	return u
}

// runInstaller runs go-xla's installer with os.Stdout, where it prints, pointed at progress, and waits
// for it or for ctx. A stopped installer goroutine is left to the process's exit: go-xla's downloads
// take no context.
func runInstaller(ctx context.Context, install func(installer.VerbosityLevel) error, progress io.Writer) error {
	if progress == nil {
		progress = io.Discard
	}
	// A terminal gets the installer's redrawn status line; a log or a pipe gets one line per step.
	verbosity := installer.Verbose
	out, isFile := progress.(*os.File)
	if isFile {
		if info, err := out.Stat(); err == nil && info.Mode()&os.ModeCharDevice != 0 {
			verbosity = installer.Normal
		}
	}
	var copied chan struct{}
	if !isFile {
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		copied = make(chan struct{})
		go func() {
			io.Copy(progress, r)
			r.Close()
			close(copied)
		}()
		out = w
	}
	stdout := os.Stdout
	os.Stdout = out
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("%v", r)
			}
		}()
		done <- install(verbosity)
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	os.Stdout = stdout
	if copied != nil {
		out.Close()
		if ctx.Err() == nil {
			<-copied
		}
	}
	return err
}

// tilde writes a path under the home folder with ~, as a person types it.
func tilde(path string) string {
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return path
	}
	if rel, err := filepath.Rel(home, path); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
		return "~/" + filepath.ToSlash(rel)
	}
	return path
}

func fileExists(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir()
}
