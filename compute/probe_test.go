package compute

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// Probe finds what Run would use: the GPU where a CUDA plugin loads (go test ./compute -run Probe -v
// on a GPU machine shows its name), else the pure Go backend with every core.
func TestProbe(t *testing.T) {
	f := Probe()
	t.Logf("%s; plugin %q; notes %q", f, f.Plugin, f.Notes)
	gpus, cpus := findCUDAPlugins(), findCPUPlugins()
	switch {
	case f.GPU:
		if !strings.HasPrefix(f.String(), "GPU: ") || f.Plugin == "" || strings.Contains(f.Device, "CUDA PJRT") {
			t.Errorf("GPU found, described as %q (device %q, plugin %q)", f, f.Device, f.Plugin)
		}
	case f.Device == "XLA":
		if f.String() != fmt.Sprintf("CPU (XLA, %d cores)", runtime.NumCPU()) || len(cpus) == 0 {
			t.Errorf("XLA CPU found, described as %q; CPU plugins %q", f, cpus)
		}
	default:
		if f.String() != fmt.Sprintf("CPU (pure Go, %d cores)", runtime.GOMAXPROCS(0)) {
			t.Errorf("the pure Go backend described as %q", f)
		}
		// Plugins that were found and did not load say why.
		if len(f.Notes) != len(gpus)+len(cpus) {
			t.Errorf("%d plugins found, %d notes: %q", len(gpus)+len(cpus), len(f.Notes), f.Notes)
		}
	}
}
