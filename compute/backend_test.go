package compute

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// isolatePluginSearch points every plugin search path at empty temporary folders.
func isolatePluginSearch(t *testing.T) string {
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
	if got := pythonNVCC(cuda13); got != nvcc {
		t.Errorf("pythonNVCC = %q, want %q", got, nvcc)
	}
	if got := pythonNVCC(goxla); got != "" {
		t.Errorf("pythonNVCC of a go-xla plugin = %q", got)
	}
}

func TestGPUWithoutPlugin(t *testing.T) {
	isolatePluginSearch(t)
	if found := findCUDAPlugins(); len(found) > 0 {
		t.Skipf("a system-wide plugin is installed (%s): the search cannot be isolated from it", found[0])
	}
	if _, err := candidates(BackendGPU); err == nil || !strings.Contains(err.Error(), "no CUDA PJRT plugin found") {
		t.Errorf("error %v", err)
	}
}

// A plugin that cannot load (here not even a shared library) is reported and the run goes on on the
// pure Go backend; asked for the GPU alone, the run fails with one line that says why.
func TestBrokenPluginFallsBack(t *testing.T) {
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
