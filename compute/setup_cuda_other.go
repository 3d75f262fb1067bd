//go:build !(linux && amd64)

package compute

import (
	"errors"
	"runtime"

	"github.com/gomlx/go-xla/pkg/installer"
)

// cudaPlatform says why the CUDA plugin does not install here: go-xla's CUDA installer, like the
// wheels it unpacks, is for Linux x86-64.
const cudaPlatform = "the CUDA plugin is built for Linux x86-64 only, not " + runtime.GOOS + "_" + runtime.GOARCH

func installCUDA(string, installer.VerbosityLevel) error {
	return errors.New(cudaPlatform)
}
