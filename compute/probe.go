package compute

import (
	"fmt"
	"runtime"
	"strings"
)

// Found is the backend a run with BackendAuto would start on, as Probe finds it.
type Found struct {
	GPU    bool   // a CUDA PJRT plugin loaded and sees a GPU
	Device string // the GPU's name ("NVIDIA H100 80GB HBM3"); on the CPU "XLA" or "pure Go"
	Plugin string // the plugin's path, "" for the pure Go backend
	Cores  int    // the cores a CPU backend uses
	// Notes say why plugins that were found did not load, one line each.
	Notes []string
}

// String is what a panel shows: "GPU: NVIDIA H100 80GB HBM3", "CPU (XLA, 16 cores)" or
// "CPU (pure Go, 16 cores)".
func (f Found) String() string {
	if f.GPU {
		return "GPU: " + f.Device
	}
	return fmt.Sprintf("CPU (%s, %d cores)", f.Device, f.Cores)
}

// Probe looks for the device a run would use, in the order Run tries them: it loads each CUDA plugin
// found until one sees a GPU and reads the GPU's name, then each XLA CPU plugin, closing what it
// opened; without either it reports the pure Go backend. Loading a plugin takes a second or more, so
// a UI calls Probe off its event loop (or Session.Probe, which keeps the device open for the runs).
// Nothing is downloaded.
func Probe() Found {
	s := NewSession()
	defer s.Close()
	return s.Probe()
}

// foundOn describes an opened device as Probe reports it.
func foundOn(d *device, notes []string) Found {
	f := Found{Device: "pure Go", Cores: runtime.GOMAXPROCS(0), Notes: notes}
	switch {
	case d.gpu:
		name := d.name
		if i := strings.Index(name, " (CUDA PJRT"); i >= 0 {
			name = name[:i]
		}
		f.GPU, f.Device, f.Plugin = true, name, d.plugin
	case d.kind == "xla":
		f.Device, f.Plugin, f.Cores = "XLA", d.plugin, runtime.NumCPU()
	}
	return f
}
