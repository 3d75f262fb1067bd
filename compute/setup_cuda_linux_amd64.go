package compute

import "github.com/gomlx/go-xla/pkg/installer"

// cudaPlatform is "": go-xla's CUDA installer, like the wheels it unpacks, is for Linux x86-64.
const cudaPlatform = ""

// installCUDA installs the latest jax-cuda13-pjrt plugin into dir/nvidia/ with the NVIDIA libraries it
// needs beside it (and links to libcublas in dir/.., where the plugin looks for them), as go-xla's own
// auto-install does. Downloads go to temporary files, not to a cache: the libraries are large.
func installCUDA(dir string, v installer.VerbosityLevel) error {
	return installer.CudaInstall("cuda13", "latest", dir, false, v)
}
