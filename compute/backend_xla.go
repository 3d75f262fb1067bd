//go:build cgo

// The XLA backends (a CUDA or an XLA CPU PJRT plugin) load the plugin through go-xla, which needs cgo;
// backend_nocgo.go stands in for this file in a build without it.

package compute

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/gomlx/go-xla/pkg/pjrt"
	"github.com/gomlx/gomlx/backends/xla"
	"k8s.io/klog/v2"
)

// xlaBuilt is true: this build can load PJRT plugins.
const xlaBuilt = true

// pjrtAPIMajor is the PJRT C API major version of the header go-xla v0.1.4 compiles against
// (pjrt_c_api.h: PJRT_API_MAJOR 0, PJRT_API_MINOR 83). Within a major version the API only grows,
// with struct sizes checked on every call, so a plugin of another minor version still loads.
const pjrtAPIMajor = 0

func init() {
	// Nothing is ever downloaded behind the user's back: GoMLX's xla backend reads this variable at
	// its own init (too early for us to set it there), so switch auto-install off explicitly too.
	os.Setenv(xla.NoAutoInstallEnv, "1")
	xla.EnableAutoInstall(false)
	// go-xla logs a plugin that fails to load through klog on stderr; Layerscope reports it itself, in
	// one line, so klog stays quiet unless LAYERSCOPE_XLA_LOG asks for it (when debugging a plugin).
	if os.Getenv("LAYERSCOPE_XLA_LOG") == "" {
		klog.LogToStderr(false)
		klog.SetOutput(io.Discard)
	}
}

// openXLA loads a CUDA PJRT plugin by absolute path through GoMLX's xla backend, after checking its
// PJRT API version. A plugin that panics while loading (GoMLX and go-xla panic on some failures) is
// recovered into an error, so the caller can fall back.
func openXLA(path string) (d *device, err error) {
	defer recoverError(&err)
	configureCUDA(path)
	if err := loadPlugin(path, "CUDA PJRT plugin"); err != nil {
		return nil, err
	}
	// Without this the CUDA client takes 75% of the GPU's memory at start (XLA's default, which JAX
	// users know as XLA_PYTHON_CLIENT_PREALLOCATE): a desktop app shares the GPU, and its peak memory
	// should be what it uses. A plugin that does not take the option is opened with its defaults.
	b, err := xla.NewWithOptions(path, pjrt.NamedValuesMap{"preallocate": false})
	if err != nil {
		b, err = xla.NewWithOptions(path, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("CUDA PJRT plugin %s: loaded, but no client: %s", path, oneLine(err))
	}
	if b.NumDevices() == 0 {
		b.Finalize()
		return nil, fmt.Errorf("CUDA PJRT plugin %s: loaded, but it sees no GPU", path)
	}
	name := deviceName(b.DeviceDescription(0))
	if !strings.Contains(name, "NVIDIA") {
		// Newer plugins print only "cuda:0 [processId=0]", and go-xla does not expose the device kind:
		// the NVIDIA driver names the model in /proc.
		if model := nvidiaModel("/proc/driver/nvidia/gpus"); model != "" {
			name = model
		}
	}
	return &device{backend: b, name: fmt.Sprintf("%s (CUDA PJRT, %s)", name, path), kind: "xla", gpu: true, plugin: path}, nil
}

// openXLACPU loads an XLA CPU PJRT plugin by absolute path through GoMLX's xla backend, after checking
// its PJRT API version; a panic while loading is recovered into an error, as in openXLA. XLA runs on
// every core (its own thread pool, not GOMAXPROCS), on host memory: weights go up as copies of the
// mapped file (GoMLX's shared buffers are only switched on for a plugin named "cpu", not one opened
// by path).
func openXLACPU(path string) (d *device, err error) {
	defer recoverError(&err)
	if err := loadPlugin(path, "XLA CPU plugin"); err != nil {
		return nil, err
	}
	b, err := xla.NewWithOptions(path, nil)
	if err != nil {
		return nil, fmt.Errorf("XLA CPU plugin %s: loaded, but no client: %s", path, oneLine(err))
	}
	if b.NumDevices() == 0 {
		b.Finalize()
		return nil, fmt.Errorf("XLA CPU plugin %s: loaded, but it has no device", path)
	}
	return &device{backend: b, name: cpuDeviceName(path, runtime.NumCPU()), kind: "xla", plugin: path}, nil
}

// loadPlugin loads a PJRT plugin file (what says "CUDA PJRT plugin" or "XLA CPU plugin" in the errors)
// and checks that it speaks Layerscope's PJRT API major version.
func loadPlugin(path, what string) error {
	plugin, err := pjrt.GetPlugin(path)
	if err != nil {
		return fmt.Errorf("%s %s: cannot load it: %s", what, path, loadReason(path, err))
	}
	if major, minor := plugin.Version(); major != pjrtAPIMajor {
		return fmt.Errorf("%s %s: PJRT API %d.%d, Layerscope speaks %d.x", what, path, major, minor, pjrtAPIMajor)
	}
	return nil
}
