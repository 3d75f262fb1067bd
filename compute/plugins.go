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
//   - $LAYERSCOPE_PJRT_PLUGIN: a plugin file, the user's explicit choice (unless it names a CPU plugin);
//   - every folder of $PJRT_PLUGIN_LIBRARY_PATH, then ~/.local/lib/go-xla and /usr/local/lib/go-xla, and
//     their nvidia/ subfolders (go-xla's installer, which `layerscope setup-backend cuda` runs, puts
//     pjrt_c_api_cuda_plugin.so in go-xla/nvidia/, beside the NVIDIA libraries it loads);
//   - Python environments with pip's jax-cuda12-pjrt or jax-cuda13-pjrt:
//     site-packages/jax_plugins/xla_cuda*/xla_cuda_plugin.so, whose RPATH finds the NVIDIA libraries
//     of the same environment (site-packages/nvidia/...).
//
// XLA CPU plugins are looked for at $LAYERSCOPE_PJRT_PLUGIN when its file name says cpu, then in the
// same folders as pjrt_c_api_cpu_plugin.so (the link go-xla's installer makes to the version it
// installed, pjrt_c_api_cpu_v0.83.3_plugin.so) and pjrt_c_api_cpu_*.so.
const pluginEnv = "LAYERSCOPE_PJRT_PLUGIN"

// pluginList collects plugin files by absolute, symlink-free path, in the order found, without
// duplicates. It only looks at files: nothing is loaded.
type pluginList struct {
	paths []string
	seen  map[string]bool
}

func (l *pluginList) add(p string) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	if info, err := os.Stat(abs); err != nil || info.IsDir() || l.seen[abs] {
		return
	}
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	l.seen[abs] = true
	l.paths = append(l.paths, abs)
}

// addGlob adds the files matching pattern, in reverse name order: a newer version (xla_cuda13,
// pjrt_c_api_cpu_v0.90) sorts after an older one.
func (l *pluginList) addGlob(pattern string) {
	matches, _ := filepath.Glob(pattern)
	for i := len(matches) - 1; i >= 0; i-- {
		l.add(matches[i])
	}
}

// isCPUPlugin reports whether a plugin's file name says it is an XLA CPU plugin.
func isCPUPlugin(path string) bool {
	return strings.Contains(strings.ToLower(filepath.Base(path)), "cpu")
}

// pluginDirs lists the folders where go-xla's installer, or a person following its layout, puts
// plugins: $PJRT_PLUGIN_LIBRARY_PATH, ~/.local/lib/go-xla and /usr/local/lib/go-xla.
func pluginDirs(home string) []string {
	var dirs []string
	if v := os.Getenv("PJRT_PLUGIN_LIBRARY_PATH"); v != "" {
		for _, d := range filepath.SplitList(v) {
			if d != "" {
				dirs = append(dirs, d)
			}
		}
	}
	if home != "" {
		dirs = append(dirs, goXLADir(home))
	}
	if searchSystemFolders {
		dirs = append(dirs, "/usr/local/lib/go-xla")
	}
	return dirs
}

// searchSystemFolders lets the search look outside the user's own places ($LAYERSCOPE_PJRT_PLUGIN,
// $PJRT_PLUGIN_LIBRARY_PATH, the home folder, $VIRTUAL_ENV): /usr/local/lib/go-xla, the system's and
// /opt's Python environments, python3's own list. The tests switch it off, to find only the files
// they make on a machine that has a plugin installed system-wide.
var searchSystemFolders = true

// goXLADir is the user's go-xla folder, where `layerscope setup-backend` installs.
func goXLADir(home string) string {
	return filepath.Join(home, ".local", "lib", "go-xla")
}

// findCUDAPlugins returns the absolute paths of the CUDA plugins found, best first, without
// duplicates. It only looks at files: nothing is loaded.
func findCUDAPlugins() []string {
	var l pluginList
	if p := os.Getenv(pluginEnv); p != "" && !isCPUPlugin(p) {
		l.add(p)
	}
	home, _ := os.UserHomeDir()
	for _, d := range pluginDirs(home) {
		for _, dir := range []string{d, filepath.Join(d, "nvidia")} {
			for _, pattern := range []string{"pjrt_c_api_cuda*.so", "*cuda*plugin*.so"} {
				l.addGlob(filepath.Join(dir, pattern))
			}
		}
	}
	for _, sp := range sitePackages(home) {
		l.addGlob(filepath.Join(sp, "jax_plugins", "xla_cuda*", "xla_cuda_plugin.so"))
	}
	return l.paths
}

// searchCPUPlugins switches the XLA CPU plugin search on; the package's tests switch it off (see
// backend_test.go), since they expect BackendCPU to be the pure Go backend.
var searchCPUPlugins = true

// findCPUPlugins returns the absolute paths of the XLA CPU plugins found, best first, without
// duplicates. It only looks at files: nothing is loaded.
func findCPUPlugins() []string {
	if !searchCPUPlugins {
		return nil
	}
	var l pluginList
	if p := os.Getenv(pluginEnv); p != "" && isCPUPlugin(p) {
		l.add(p)
	}
	home, _ := os.UserHomeDir()
	for _, d := range pluginDirs(home) {
		l.add(filepath.Join(d, cpuPluginLink))
		l.addGlob(filepath.Join(d, "pjrt_c_api_cpu_*.so"))
	}
	return l.paths
}

// cpuPluginLink is the name go-xla's installer links to the CPU plugin version it installed.
const cpuPluginLink = "pjrt_c_api_cpu_plugin.so"

// sitePackages lists the Python site-packages folders worth searching: system ones under /usr, the
// environments under /opt (conda, venvs), the user's ~/.local, $VIRTUAL_ENV, and what python3 itself
// reports when it is installed.
func sitePackages(home string) []string {
	var patterns []string
	if searchSystemFolders {
		for _, root := range []string{"/usr/lib", "/usr/local/lib", "/opt/*/lib", "/opt/*/*/lib", "/opt/*/envs/*/lib"} {
			patterns = append(patterns, root+"/python3*/site-packages", root+"/python3*/dist-packages")
		}
		patterns = append(patterns, "/usr/lib/python3/dist-packages")
	}
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
	if searchSystemFolders {
		for _, d := range pythonSitePackages() {
			addDir(d)
		}
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

// cudaDataDir returns the folder of NVIDIA packages beside a CUDA plugin that holds bin/ptxas (and
// nvvm/libdevice), which XLA needs to compile for the GPU, or "" when there is none:
//   - a plugin inside a Python environment (site-packages/jax_plugins/xla_cuda13/xla_cuda_plugin.so):
//     site-packages/nvidia/cuda_nvcc for CUDA 12 wheels, site-packages/nvidia/cu13 for CUDA 13 ones;
//   - a plugin installed by go-xla's installer (go-xla/nvidia/pjrt_c_api_cuda_plugin.so): the same
//     packages unpacked in go-xla/nvidia/ (cu13/ or cuda_nvcc/).
func cudaDataDir(plugin string) string {
	var nvidia string
	switch dir := filepath.Dir(plugin); {
	case filepath.Base(filepath.Dir(dir)) == "jax_plugins":
		nvidia = filepath.Join(filepath.Dir(filepath.Dir(dir)), "nvidia")
	case filepath.Base(dir) == "nvidia":
		nvidia = dir
	default:
		return ""
	}
	matches, _ := filepath.Glob(filepath.Join(nvidia, "*", "bin", "ptxas"))
	if len(matches) == 0 {
		return ""
	}
	return filepath.Dir(filepath.Dir(matches[len(matches)-1])) // cu13 sorts after cuda_nvcc: the newer
}
