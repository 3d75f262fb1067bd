//go:build !cgo

package compute

// xlaBuilt is false: go-xla loads PJRT plugins through cgo, so a build without cgo (CGO_ENABLED=0,
// e.g. `go build -tags nogui`) has only the pure Go backend.
const xlaBuilt = false

func openXLA(string) (*device, error)    { return nil, errNoXLA }
func openXLACPU(string) (*device, error) { return nil, errNoXLA }
