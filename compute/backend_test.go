package compute

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The package's tests expect BackendCPU to be the pure Go backend (its dtypes, its notes), so the XLA
// CPU plugin search is off unless LAYERSCOPE_TEST_XLA_CPU=1 runs them on an installed CPU plugin; the
// tests of the search itself switch it on (withCPUPluginSearch).
func init() {
	if os.Getenv("LAYERSCOPE_TEST_XLA_CPU") == "" {
		searchCPUPlugins = false
	}
}

// withCPUPluginSearch switches the XLA CPU plugin search on for one test.
func withCPUPluginSearch(t *testing.T) {
	saved := searchCPUPlugins
	searchCPUPlugins = true
	t.Cleanup(func() { searchCPUPlugins = saved })
}

// isolatePluginSearch points every plugin search path at empty temporary folders, and keeps the search
// out of the system's folders (a GPU machine has plugins there).
func isolatePluginSearch(t *testing.T) string {
	saved := searchSystemFolders
	searchSystemFolders = false
	t.Cleanup(func() { searchSystemFolders = saved })
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv(pluginEnv, "")
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", filepath.Join(home, "none"))
	t.Setenv("VIRTUAL_ENV", "")
	t.Setenv("PATH", home) // no python3 to ask
	return home
}

func touch(t *testing.T, path string, data string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFindCUDAPlugins(t *testing.T) {
	home := isolatePluginSearch(t)
	venv := filepath.Join(home, "venv")
	t.Setenv("VIRTUAL_ENV", venv)
	sp := filepath.Join(venv, "lib", "python3.12", "site-packages")
	cuda12 := touch(t, filepath.Join(sp, "jax_plugins", "xla_cuda12", "xla_cuda_plugin.so"), "x")
	cuda13 := touch(t, filepath.Join(sp, "jax_plugins", "xla_cuda13", "xla_cuda_plugin.so"), "x")
	goxla := touch(t, filepath.Join(home, ".local", "lib", "go-xla", "pjrt_c_api_cuda_plugin.so"), "x")
	explicit := touch(t, filepath.Join(home, "mine.so"), "x")
	t.Setenv(pluginEnv, explicit)
	got := findCUDAPlugins()
	want := []string{explicit, goxla, cuda13, cuda12}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("plugins found:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	nvcc := filepath.Join(sp, "nvidia", "cuda_nvcc")
	touch(t, filepath.Join(nvcc, "bin", "ptxas"), "x")
	if got := cudaDataDir(cuda13); got != nvcc {
		t.Errorf("cudaDataDir = %q, want %q", got, nvcc)
	}
	if got := cudaDataDir(goxla); got != "" {
		t.Errorf("cudaDataDir of a go-xla plugin without NVIDIA packages = %q", got)
	}
}

// go-xla's installer (layerscope setup-backend) puts the CUDA plugin in go-xla/nvidia/, beside the
// NVIDIA packages whose cu13/ folder holds ptxas; the CPU plugin goes in go-xla/ with a link to it.
func TestFindInstalledPlugins(t *testing.T) {
	home := isolatePluginSearch(t)
	withCPUPluginSearch(t)
	goxla := filepath.Join(home, ".local", "lib", "go-xla")
	cuda := touch(t, filepath.Join(goxla, "nvidia", "pjrt_c_api_cuda_plugin.so"), "x")
	cu13 := filepath.Join(goxla, "nvidia", "cu13")
	touch(t, filepath.Join(cu13, "bin", "ptxas"), "x")
	cpu := touch(t, filepath.Join(goxla, "pjrt_c_api_cpu_v0.83.3_plugin.so"), "x")
	older := touch(t, filepath.Join(goxla, "pjrt_c_api_cpu_v0.83.1_plugin.so"), "x")
	if err := os.Symlink(filepath.Base(older), filepath.Join(goxla, cpuPluginLink)); err != nil {
		t.Fatal(err)
	}
	if got := findCUDAPlugins(); strings.Join(got, "\n") != cuda {
		t.Errorf("CUDA plugins found: %q, want %q", got, cuda)
	}
	if got := cudaDataDir(cuda); got != cu13 {
		t.Errorf("cudaDataDir = %q, want %q", got, cu13)
	}
	// The link names the version the installer installed last: it comes first.
	want := []string{older, cpu}
	if got := findCPUPlugins(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("CPU plugins found: %q, want %q", got, want)
	}
}

// Each choice tries its backends in order: auto the GPU, then the XLA CPU plugin, then pure Go; gpu the
// CUDA plugins alone; cpu the XLA CPU plugin, then pure Go. $LAYERSCOPE_PJRT_PLUGIN goes first in the
// list its file name puts it in.
func TestCandidatesOrder(t *testing.T) {
	if !xlaBuilt {
		t.Skip("built without cgo: no PJRT plugin loads (TestNoCgoBackends covers that build)")
	}
	home := isolatePluginSearch(t)
	withCPUPluginSearch(t)
	goxla := filepath.Join(home, ".local", "lib", "go-xla")
	cuda := touch(t, filepath.Join(goxla, "pjrt_c_api_cuda_plugin.so"), "x")
	cpu := touch(t, filepath.Join(goxla, "pjrt_c_api_cpu_v0.83.3_plugin.so"), "x")
	if err := os.Symlink(filepath.Base(cpu), filepath.Join(goxla, cpuPluginLink)); err != nil {
		t.Fatal(err)
	}
	libPath := filepath.Join(home, "lib")
	cpuOnPath := touch(t, filepath.Join(libPath, cpuPluginLink), "x")
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", libPath)
	mine := touch(t, filepath.Join(home, "my_cpu_plugin.so"), "x")
	t.Setenv(pluginEnv, mine)
	for _, tc := range []struct {
		choice string
		want   []string
	}{
		{BackendAuto, []string{"CUDA PJRT plugin " + cuda, "XLA CPU plugin " + mine, "XLA CPU plugin " + cpuOnPath, "XLA CPU plugin " + cpu, "pure Go backend"}},
		{"", []string{"CUDA PJRT plugin " + cuda, "XLA CPU plugin " + mine, "XLA CPU plugin " + cpuOnPath, "XLA CPU plugin " + cpu, "pure Go backend"}},
		{BackendGPU, []string{"CUDA PJRT plugin " + cuda}},
		{BackendCPU, []string{"XLA CPU plugin " + mine, "XLA CPU plugin " + cpuOnPath, "XLA CPU plugin " + cpu, "pure Go backend"}},
	} {
		cands, err := candidates(tc.choice)
		if err != nil {
			t.Fatalf("%q: %v", tc.choice, err)
		}
		var got []string
		for _, c := range cands {
			got = append(got, c.label)
		}
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%q tries:\n%s\nwant:\n%s", tc.choice, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}
	// Without any plugin, cpu and auto are the pure Go backend alone.
	isolatePluginSearch(t)
	for _, choice := range []string{BackendAuto, BackendCPU} {
		if cands, err := candidates(choice); err != nil || len(cands) != 1 || cands[0].label != "pure Go backend" {
			t.Errorf("%q without plugins: %d candidates, %v", choice, len(cands), err)
		}
	}
}

func TestGPUWithoutPlugin(t *testing.T) {
	if !xlaBuilt {
		t.Skip("built without cgo: no PJRT plugin loads (TestNoCgoBackends covers that build)")
	}
	isolatePluginSearch(t)
	if found := findCUDAPlugins(); len(found) > 0 {
		t.Fatalf("the isolated search found %s", found[0])
	}
	if _, err := candidates(BackendGPU); err == nil || !strings.Contains(err.Error(), "no CUDA PJRT plugin found") {
		t.Errorf("error %v", err)
	}
}

// A plugin that cannot load (here not even a shared library) is reported and the run goes on on the
// pure Go backend; asked for the GPU alone, the run fails with one line that says why.
func TestBrokenPluginFallsBack(t *testing.T) {
	if !xlaBuilt {
		t.Skip("built without cgo: no PJRT plugin loads (TestNoCgoBackends covers that build)")
	}
	home := isolatePluginSearch(t)
	bad := touch(t, filepath.Join(home, "broken_cuda_plugin.so"), "not an ELF file")
	t.Setenv(pluginEnv, bad)
	m := openRandom(t, tinyLlamaConfig(), "F32", nil, nil)
	tokens := randomTokens(1, 4, 64)
	res, err := Run(context.Background(), m, tokens, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Backend != "go" || len(res.Notes) == 0 || !strings.Contains(res.Notes[0], bad) ||
		!strings.Contains(res.Notes[0], "falling back to the pure Go backend") {
		t.Errorf("backend %s, notes %q", res.Backend, res.Notes)
	}
	t.Logf("note: %s", res.Notes[0])
	_, err = Run(context.Background(), m, tokens, Options{Backend: BackendGPU})
	if err == nil || !strings.Contains(err.Error(), bad) || strings.Contains(err.Error(), "\n") {
		t.Errorf("gpu error: %v", err)
	}
	t.Logf("error: %v", err)
}

// A CPU plugin that cannot load falls back to the pure Go backend with a note, for --backend cpu and
// for auto alike.
func TestBrokenCPUPluginFallsBack(t *testing.T) {
	if !xlaBuilt {
		t.Skip("built without cgo: no PJRT plugin loads (TestNoCgoBackends covers that build)")
	}
	home := isolatePluginSearch(t)
	withCPUPluginSearch(t)
	bad := touch(t, filepath.Join(home, ".local", "lib", "go-xla", cpuPluginLink), "not an ELF file")
	m := openRandom(t, tinyLlamaConfig(), "F32", nil, nil)
	tokens := randomTokens(1, 4, 64)
	for _, choice := range []string{BackendCPU, BackendAuto} {
		res, err := Run(context.Background(), m, tokens, Options{Backend: choice})
		if err != nil {
			t.Fatalf("%s: %v", choice, err)
		}
		if res.Backend != "go" || res.DType != FP32 || len(res.Notes) != 1 || strings.Contains(res.Notes[0], "\n") ||
			!strings.Contains(res.Notes[0], "XLA CPU plugin "+bad+": cannot load it") ||
			!strings.HasSuffix(res.Notes[0], "; falling back to the pure Go backend") {
			t.Errorf("%s: backend %s, dtype %s, notes %q", choice, res.Backend, res.DType, res.Notes)
			continue
		}
		t.Logf("%s: note: %s", choice, res.Notes[0])
	}
}

func TestCPUDeviceName(t *testing.T) {
	const path = "/home/ada/.local/lib/go-xla/pjrt_c_api_cpu_v0.83.3_plugin.so"
	want := "XLA CPU, 16 cores (CPU PJRT, " + path + ")"
	if got := cpuDeviceName(path, 16); got != want {
		t.Errorf("cpuDeviceName = %q, want %q", got, want)
	}
	d := &device{name: cpuDeviceName(path, 16), kind: "xla"}
	for _, tc := range []struct {
		choice string
		want   string
		note   string
	}{{"", FP32, ""}, {FP32, FP32, ""}, {BF16, BF16, ""}, {FP16, FP16, "slow on the XLA CPU"}} {
		dt, note, err := dtypeFor(tc.choice, d)
		if err != nil || dtypeName(dt) != tc.want || (tc.note == "") != (note == "") || !strings.Contains(note, tc.note) {
			t.Errorf("dtype %q on the XLA CPU: %s, note %q, %v", tc.choice, dtypeName(dt), note, err)
		}
	}
}

func TestDeviceName(t *testing.T) {
	for in, want := range map[string]string{
		"TFRT_GPU_0 id=0 NVIDIA H100 80GB HBM3, compute capability 9.0 [processId=0]": "NVIDIA H100 80GB HBM3",
		"cpu:0 [processId=0]": "cpu:0 [processId=0]",
	} {
		if got := deviceName(in); got != want {
			t.Errorf("deviceName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNvidiaModel(t *testing.T) {
	dir := t.TempDir()
	touch(t, filepath.Join(dir, "0000:19:00.0", "information"), "Model: \t\t NVIDIA H200\nIRQ:   1\n")
	if got := nvidiaModel(dir); got != "NVIDIA H200" {
		t.Errorf("nvidiaModel = %q", got)
	}
	if got := nvidiaModel(filepath.Join(dir, "none")); got != "" {
		t.Errorf("nvidiaModel of a missing folder = %q", got)
	}
}

func TestCUDAXLAFlags(t *testing.T) {
	for _, c := range []struct{ flags, nvcc, want string }{
		{"", "", "--xla_gpu_enable_triton_gemm=false"},
		{"", "/env/nvidia/cu13", "--xla_gpu_cuda_data_dir=/env/nvidia/cu13 --xla_gpu_enable_triton_gemm=false"},
		{"--xla_gpu_enable_triton_gemm=true", "", "--xla_gpu_enable_triton_gemm=true"},
		{"--xla_gpu_cuda_data_dir=/mine", "/env/nvidia/cu13", "--xla_gpu_cuda_data_dir=/mine --xla_gpu_enable_triton_gemm=false"},
	} {
		if got := cudaXLAFlags(c.flags, c.nvcc); got != c.want {
			t.Errorf("cudaXLAFlags(%q, %q) = %q, want %q", c.flags, c.nvcc, got, c.want)
		}
	}
}
