package compute

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Where CUDA PJRT plugins are looked for, in order:
//   - $LAYERSCOPE_PJRT_PLUGIN: a plugin file, the user's explicit choice;
//   - every folder of $PJRT_PLUGIN_LIBRARY_PATH, then ~/.local/lib/go-xla and /usr/local/lib/go-xla
//     (where go-xla's installer puts pjrt_c_api_cuda_plugin.so);
//   - Python environments with pip's jax-cuda12-pjrt or jax-cuda13-pjrt:
//     site-packages/jax_plugins/xla_cuda*/xla_cuda_plugin.so, whose RPATH finds the NVIDIA libraries
//     of the same environment (site-packages/nvidia/...).
const pluginEnv = "LAYERSCOPE_PJRT_PLUGIN"

// findCUDAPlugins returns the absolute paths of the CUDA plugins found, best first, without
// duplicates. It only looks at files: nothing is loaded.
func findCUDAPlugins() []string {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		abs, err := filepath.Abs(p)
		if err != nil {
			return
		}
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			abs = real
		}
		if info, err := os.Stat(abs); err != nil || info.IsDir() || seen[abs] {
			return
		}
		seen[abs] = true
		out = append(out, abs)
	}
	if p := os.Getenv(pluginEnv); p != "" {
		add(p)
	}
	var dirs []string
	if v := os.Getenv("PJRT_PLUGIN_LIBRARY_PATH"); v != "" {
		dirs = append(dirs, filepath.SplitList(v)...)
	}
	home, _ := os.UserHomeDir()
	if home != "" {
		dirs = append(dirs, filepath.Join(home, ".local", "lib", "go-xla"))
	}
	dirs = append(dirs, "/usr/local/lib/go-xla")
	for _, d := range dirs {
		if d == "" {
			continue
		}
		for _, pattern := range []string{"pjrt_c_api_cuda*.so", "*cuda*plugin*.so"} {
			matches, _ := filepath.Glob(filepath.Join(d, pattern))
			for _, m := range matches {
				add(m)
			}
		}
	}
	for _, sp := range sitePackages(home) {
		// xla_cuda13 before xla_cuda12: Glob sorts, so walk the matches backwards.
		matches, _ := filepath.Glob(filepath.Join(sp, "jax_plugins", "xla_cuda*", "xla_cuda_plugin.so"))
		for i := len(matches) - 1; i >= 0; i-- {
			add(matches[i])
		}
	}
	return out
}

// sitePackages lists the Python site-packages folders worth searching: system ones under /usr, the
// environments under /opt (conda, venvs), the user's ~/.local, $VIRTUAL_ENV, and what python3 itself
// reports when it is installed.
func sitePackages(home string) []string {
	var patterns []string
	for _, root := range []string{"/usr/lib", "/usr/local/lib", "/opt/*/lib", "/opt/*/*/lib", "/opt/*/envs/*/lib"} {
		patterns = append(patterns, root+"/python3*/site-packages", root+"/python3*/dist-packages")
	}
	patterns = append(patterns, "/usr/lib/python3/dist-packages")
	if home != "" {
		patterns = append(patterns, filepath.Join(home, ".local", "lib", "python3*", "site-packages"))
	}
	if venv := os.Getenv("VIRTUAL_ENV"); venv != "" {
		patterns = append(patterns, filepath.Join(venv, "lib", "python3*", "site-packages"))
	}
	var out []string
	seen := map[string]bool{}
	addDir := func(d string) {
		if info, err := os.Stat(d); err == nil && info.IsDir() && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	for _, d := range pythonSitePackages() {
		addDir(d)
	}
	for _, p := range patterns {
		matches, _ := filepath.Glob(p)
		for _, m := range matches {
			addDir(m)
		}
	}
	return out
}

// pythonSitePackages asks python3, when there is one, for its site-packages folders. It gives up
// after a few seconds: a broken interpreter must not stall the start.
func pythonSitePackages() []string {
	py, err := exec.LookPath("python3")
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, "-c",
		"import site\nfor p in site.getsitepackages() + [site.getusersitepackages()]: print(p)").Output()
	if err != nil {
		return nil
	}
	var dirs []string
	for _, line := range strings.Split(string(out), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			dirs = append(dirs, line)
		}
	}
	return dirs
}

// pythonNVCC returns, for a plugin inside a Python environment, the folder of that environment's
// NVIDIA packages that holds bin/ptxas (and nvvm/libdevice), which XLA needs to compile for the GPU:
// site-packages/nvidia/cuda_nvcc for CUDA 12 wheels, site-packages/nvidia/cu13 for CUDA 13 ones. It
// returns "" when there is none.
func pythonNVCC(plugin string) string {
	// .../site-packages/jax_plugins/xla_cuda13/xla_cuda_plugin.so
	if filepath.Base(filepath.Dir(filepath.Dir(plugin))) != "jax_plugins" {
		return ""
	}
	sp := filepath.Dir(filepath.Dir(filepath.Dir(plugin)))
	matches, _ := filepath.Glob(filepath.Join(sp, "nvidia", "*", "bin", "ptxas"))
	if len(matches) == 0 {
		return ""
	}
	return filepath.Dir(filepath.Dir(matches[len(matches)-1])) // cu13 sorts after cuda_nvcc: the newer

}
