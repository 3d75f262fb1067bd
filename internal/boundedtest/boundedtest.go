// Package boundedtest runs a risky test case (a FIFO that could hang, a gzip bomb or a 1e9-layer
// config that could exhaust memory) in a child process with its memory and time bounded, so that a
// regression fails the test instead of taking the machine down. For tests only.
package boundedtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// childEnv marks the child process, and names the test it runs.
const childEnv = "LAYERSCOPE_BOUNDED_CHILD"

// Limits bound the child: its address space (ulimit -v, in MiB) and its wall time.
type Limits struct {
	MemoryMiB int
	Timeout   time.Duration
}

// Default fits every bounded case of the modelio tests: 2 GiB of address space (a Go test binary
// reserves a few hundred MiB) and a minute, a hundred times what the cases take when they pass.
var Default = Limits{MemoryMiB: 2048, Timeout: time.Minute}

// Run runs body in a child process under lim, and reports there whatever body reports; in the parent
// it fails t if the child fails, crashes, runs out of memory or time. Call it as the whole test:
//
//	func TestFIFO(t *testing.T) { boundedtest.Run(t, boundedtest.Default, func(t *testing.T) { ... }) }
//
// Where ulimit is not available (Windows) body runs in the test process itself.
func Run(t *testing.T, lim Limits, body func(t *testing.T)) {
	t.Helper()
	if os.Getenv(childEnv) == t.Name() || runtime.GOOS == "windows" {
		body(t)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), lim.Timeout)
	defer cancel()
	// The shell sets the limit and then becomes the test binary, which runs this one test. Where the
	// system refuses an address-space limit (macOS), the child runs with the time limit alone.
	script := fmt.Sprintf(`ulimit -v %d 2>/dev/null; exec "$0" -test.run="$1" -test.count=1 -test.v`, lim.MemoryMiB*1024)
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", script, os.Args[0], runPattern(t.Name()))
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name(), "GOMAXPROCS=2")
	out, err := cmd.CombinedOutput()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("still running after %v (a hang?); output:\n%s", lim.Timeout, out)
	}
	if err != nil {
		t.Fatalf("failed in its bounded process (%v, address space %d MiB):\n%s", err, lim.MemoryMiB, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()+" ") {
		t.Fatalf("the bounded process did not run %s:\n%s", t.Name(), out)
	}
}

// runPattern is the -test.run pattern of exactly the test name (subtests hold / between levels).
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}
