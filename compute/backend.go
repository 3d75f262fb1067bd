package compute

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// Backend choices for Options.Backend.
const (
	BackendAuto = "auto" // a CUDA PJRT plugin when one loads, else an XLA CPU plugin, else the pure Go backend
	BackendGPU  = "gpu"  // a CUDA PJRT plugin, or an error saying why none loaded
	BackendCPU  = "cpu"  // an XLA CPU PJRT plugin when one is installed and loads, else the pure Go backend
)

// DType choices for Options.DType; "" picks fp16 on a GPU and fp32 on the CPU (either CPU backend).
const (
	FP16 = "fp16"
	BF16 = "bf16"
	FP32 = "fp32"
)

// errNoXLA is why no PJRT plugin opens in a build without cgo (xlaBuilt false).
var errNoXLA = errors.New("GPU and XLA CPU backends need a cgo build of Layerscope (this one was built with CGO_ENABLED=0)")

// device is an opened backend and what a person calls it.
type device struct {
	backend backends.Backend
	name    string // "NVIDIA H100 80GB HBM3 (CUDA PJRT, /path/xla_cuda_plugin.so)", "XLA CPU, 16 cores (CPU PJRT, /path)", "pure Go (2 cores)"
	kind    string // "go" or "xla"
	gpu     bool
	plugin  string // the PJRT plugin's path, "" for the pure Go backend

	graphs *graphCache // the executables compiled on it, kept for the session's runs
}

func (d *device) close() {
	if d == nil || d.backend == nil {
		return
	}
	if d.graphs != nil {
		d.graphs.close()
	}
	d.backend.Finalize()
}

// supports reports whether the device computes in dt. XLA computes in every float dtype, though
// the capability table of GoMLX v0.26's xla backend leaves Float16 out (nothing checks the table there;
// go-xla converts float16 buffers).
func (d *device) supports(dt dtypes.DType) bool {
	if d.kind == "xla" && (dt == dtypes.Float16 || dt == dtypes.BFloat16 || dt == dtypes.Float32) {
		return true
	}
	return d.backend.Capabilities().DTypes[dt]
}

// candidate is a backend to try, opened only when its turn comes.
type candidate struct {
	label string
	open  func() (*device, error)
}

// candidates lists the backends a choice tries, in order: the CUDA plugins found, then the XLA CPU
// plugins found, then the pure Go backend, which always opens. Only the plugin files are looked at here;
// each is loaded when its turn comes.
func candidates(choice string) ([]candidate, error) {
	var gpus, cpus []candidate
	if !xlaBuilt {
		// Without cgo no plugin loads: auto and cpu take the pure Go backend, gpu says why not.
		switch choice {
		case "", BackendAuto, BackendCPU:
			return []candidate{{label: "pure Go backend", open: openGo}}, nil
		case BackendGPU:
			return nil, fmt.Errorf("--backend gpu: %v", errNoXLA)
		}
	}
	if choice == BackendAuto || choice == BackendGPU || choice == "" {
		for _, path := range findCUDAPlugins() {
			gpus = append(gpus, candidate{label: "CUDA PJRT plugin " + path, open: func() (*device, error) { return openXLA(path) }})
		}
	}
	if choice == BackendAuto || choice == BackendCPU || choice == "" {
		for _, path := range findCPUPlugins() {
			cpus = append(cpus, candidate{label: "XLA CPU plugin " + path, open: func() (*device, error) { return openXLACPU(path) }})
		}
	}
	cpus = append(cpus, candidate{label: "pure Go backend", open: openGo})
	switch choice {
	case "", BackendAuto:
		return append(gpus, cpus...), nil
	case BackendGPU:
		if len(gpus) == 0 {
			return nil, fmt.Errorf("--backend gpu: no CUDA PJRT plugin found (looked at $LAYERSCOPE_PJRT_PLUGIN, $PJRT_PLUGIN_LIBRARY_PATH, ~/.local/lib/go-xla, /usr/local/lib/go-xla and Python environments with jax-cuda12-pjrt or jax-cuda13-pjrt; `layerscope setup-backend cuda` installs one)")
		}
		return gpus, nil
	case BackendCPU:
		return cpus, nil
	}
	return nil, fmt.Errorf("--backend %q: expected auto, gpu or cpu", choice)
}

// openGo opens GoMLX's pure Go backend, which computes in float32 (it has no float16).
func openGo() (*device, error) {
	b, err := newSimpleGo()
	if err != nil {
		return nil, fmt.Errorf("pure Go backend: %v", err)
	}
	name := fmt.Sprintf("pure Go (%d cores)", runtime.GOMAXPROCS(0))
	if blasName != "" {
		name = fmt.Sprintf("pure Go, %s matrix products (%d cores)", blasName, runtime.GOMAXPROCS(0))
	}
	return &device{backend: b, name: name, kind: "go"}, nil
}

// newSimpleGo opens the pure Go backend with more workers than its default: with one worker per core
// the executor's own goroutines fill the pool and a matrix product runs on one core (measured on two
// cores: 5 GFLOP/s by default, 9.5 with four workers per core). Ops run one after the other
// (ops_sequential), each using every core: the parallel op scheduler of GoMLX v0.26 shares its
// use counters between goroutines without a lock (go test -race reports it), and on a transformer
// block it was no faster (7.5 against 7.6 GFLOP/s on the benchmark).
func newSimpleGo() (backends.Backend, error) {
	cfg := fmt.Sprintf("parallelism=%d,ops_sequential", 4*runtime.GOMAXPROCS(0))
	// simplego.New prints the parallelism it sets on stdout, which belongs to the command's output
	// (a JSON report): silence it for the call.
	stdout := os.Stdout
	if null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
		os.Stdout = null
		defer func() { os.Stdout = stdout; null.Close() }()
	}
	return simplego.New(cfg)
}

// cpuDeviceName is what a person reads for an XLA CPU plugin: PJRT's own device string says no more
// than "cpu:0".
func cpuDeviceName(path string, cores int) string {
	return fmt.Sprintf("XLA CPU, %d cores (CPU PJRT, %s)", cores, path)
}

// loadReason digs the dynamic loader's reason ("file too short", "libcudart.so.12: cannot open shared
// object file") out of go-xla's error, which repeats the path three times around it.
func loadReason(path string, err error) string {
	msg := oneLine(err)
	if i := strings.LastIndex(msg, path+": "); i >= 0 {
		r := msg[i+len(path)+2:]
		if j := strings.IndexByte(r, '"'); j >= 0 {
			r = r[:j]
		}
		return strings.TrimSpace(r)
	}
	return msg
}

// deviceName shortens PJRT's device debug string ("TFRT_GPU_0 ... NVIDIA H100 80GB HBM3 ...") to
// something a person reads; the whole string where no GPU name shows.
// nvidiaModel returns the "Model:" line of the first GPU the NVIDIA driver lists under dir
// (/proc/driver/nvidia/gpus/<bus id>/information), or "".
func nvidiaModel(dir string) string {
	infos, _ := filepath.Glob(filepath.Join(dir, "*", "information"))
	sort.Strings(infos)
	for _, f := range infos {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "Model:"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return ""
}

func deviceName(desc string) string {
	if i := strings.Index(desc, "NVIDIA"); i >= 0 {
		s := desc[i:]
		if j := strings.IndexAny(s, ",;)[]"); j > 0 {
			s = s[:j]
		}
		return strings.TrimSpace(s)
	}
	return strings.TrimSpace(desc)
}

// configureCUDA prepares the environment of a CUDA plugin before it loads: go-xla's own CUDA check
// guesses the NVIDIA library folder from a fixed layout (and would point XLA at a wrong one), so it is
// switched off, and XLA is told where ptxas and libdevice are (cudaDataDir) when the plugin comes from
// a Python environment or from go-xla's installer.
func configureCUDA(path string) {
	if _, set := os.LookupEnv("GOPJRT_CUDA_CHECKS"); !set {
		os.Setenv("GOPJRT_CUDA_CHECKS", "0")
	}
	os.Setenv("XLA_FLAGS", cudaXLAFlags(os.Getenv("XLA_FLAGS"), cudaDataDir(path)))
}

// cudaXLAFlags adds Layerscope's XLA settings to the user's XLA_FLAGS, never overriding a flag the user
// set: where ptxas and libdevice are (nvcc, "" when unknown), and no Triton GEMMs. Autotuning XLA's
// Triton GEMM configurations took 3.5 of the 7.3 s a Llama-3.2-1B block took to compile on an H200,
// while the cuBLAS GEMMs left without it ran the blocks as fast (docs/PERFORMANCE.md).
func cudaXLAFlags(flags, nvcc string) string {
	if nvcc != "" && !strings.Contains(flags, "--xla_gpu_cuda_data_dir") {
		flags += " --xla_gpu_cuda_data_dir=" + nvcc
	}
	if !strings.Contains(flags, "--xla_gpu_enable_triton_gemm") {
		flags += " --xla_gpu_enable_triton_gemm=false"
	}
	return strings.TrimSpace(flags)
}

// dtypeFor resolves Options.DType on a device: fp16 is the GPU default, fp32 the CPU's (the XLA CPU
// plugin's too). A dtype the device lacks (fp16 on the pure Go backend) falls back to fp32 with a
// note; fp16 asked of the XLA CPU plugin runs, with a note that it is slow there.
func dtypeFor(choice string, d *device) (dtypes.DType, string, error) {
	var dt dtypes.DType
	switch choice {
	case "":
		if d.gpu {
			dt = dtypes.Float16
		} else {
			dt = dtypes.Float32
		}
	case FP16:
		dt = dtypes.Float16
	case BF16:
		dt = dtypes.BFloat16
	case FP32:
		dt = dtypes.Float32
	default:
		return 0, "", fmt.Errorf("--dtype %q: expected fp16, bf16 or fp32", choice)
	}
	if !d.supports(dt) {
		return dtypes.Float32, fmt.Sprintf("%s has no %s; computing in fp32", d.name, dtypeName(dt)), nil
	}
	if dt == dtypes.Float16 && d.kind == "xla" && !d.gpu {
		return dt, fmt.Sprintf("computing in fp16 on %s, which is slow on the XLA CPU: fp32 is its default", d.name), nil
	}
	return dt, "", nil
}

// dtypeName is the --dtype spelling of a dtype.
func dtypeName(dt dtypes.DType) string {
	switch dt {
	case dtypes.Float16:
		return FP16
	case dtypes.BFloat16:
		return BF16
	case dtypes.Float32:
		return FP32
	}
	return dt.String()
}

// recoverError turns a panic (GoMLX reports graph and backend errors by panicking) into *err.
func recoverError(err *error) {
	r := recover()
	if r == nil {
		return
	}
	switch e := r.(type) {
	case error:
		*err = errors.New(oneLine(e))
	default:
		*err = fmt.Errorf("%v", e)
	}
}

// oneLine keeps the first line of an error: GoMLX errors carry stack traces.
func oneLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}
