//go:build cgo

package compute

import (
	"testing"

	"github.com/gomlx/go-xla/pkg/pjrt"
)

// setup.go pins the CPU plugin version so that a build without cgo compiles; it must stay go-xla's.
func TestCPUPluginVersionIsGoXLAs(t *testing.T) {
	if cpuPluginVersion != pjrt.DefaultCPUVersion {
		t.Errorf("cpuPluginVersion %s, go-xla's pjrt.DefaultCPUVersion %s", cpuPluginVersion, pjrt.DefaultCPUVersion)
	}
}
