package prune

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/layerscope/layerscope/modelio/safefile"
	"sync"
)

// A pruned copy is assembled in a hidden folder beside its destination, ".<name>.partial-<random>",
// and renamed into place when complete. While it is written it holds a marker file naming the writing
// process; the marker is what proves a left-over partial (after a kill -9 or a power cut) is
// Layerscope's own, so that the next prune to the same destination may remove it.

// partialMarker is the marker file's name inside a partial folder, and markerMagic its first line.
const (
	partialMarker = ".layerscope-partial"
	markerMagic   = "layerscope prune: a pruned copy being written; removed when complete"
)

// partialPrefix is the name every partial folder of destination abs starts with.
func partialPrefix(abs string) string { return "." + filepath.Base(abs) + ".partial-" }

// makePartial creates the partial folder for abs, with the permissions of a new folder under the
// user's umask (os.Mkdir with 0755, not MkdirTemp's 0700), and writes its marker.
func makePartial(abs string) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	tmp := filepath.Join(filepath.Dir(abs), partialPrefix(abs)+hex.EncodeToString(b[:]))
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return "", err
	}
	marker := fmt.Sprintf("%s\npid %d\n", markerMagic, os.Getpid())
	if err := writeFile(filepath.Join(tmp, partialMarker), []byte(marker)); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	return tmp, nil
}

// removeStalePartials removes the partial folders of abs whose marker proves them Layerscope's and
// whose writer no longer runs. A partial of a prune still running (another window, another terminal)
// is left alone, and so is anything without a marker.
func removeStalePartials(abs string) {
	parent, prefix := filepath.Dir(abs), partialPrefix(abs)
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) || e.Type() != fs.ModeDir {
			continue // a link or a file of that name is not ours
		}
		dir := filepath.Join(parent, e.Name())
		// A marker that is a FIFO or a device, not one of ours, must not hang or flood the next prune.
		data, err := safefile.ReadFile(filepath.Join(dir, partialMarker), 512)
		if err != nil {
			continue
		}
		magic, rest, _ := strings.Cut(string(data), "\n")
		pid, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(rest, "pid ")))
		if magic != markerMagic || err != nil || pid <= 0 || pid == os.Getpid() || !processGone(pid) {
			continue
		}
		os.RemoveAll(dir)
	}
}

// partialGuard removes a partial folder when the process is interrupted (Ctrl-C, SIGTERM) while it
// is written, as git and rsync clean up their temporary files, and then lets the signal end the
// process as it would have.
type partialGuard struct {
	mu      sync.Mutex
	tmp     string
	settled bool // the partial was renamed into place or removed: nothing left to clean
	sigs    chan os.Signal
	stop    chan struct{}
}

func guardPartial(tmp string) *partialGuard {
	g := &partialGuard{tmp: tmp, sigs: make(chan os.Signal, 1), stop: make(chan struct{})}
	signal.Notify(g.sigs, terminatingSignals...)
	go func() {
		select {
		case sig := <-g.sigs:
			g.mu.Lock() // never while the partial is being renamed into place
			if !g.settled {
				// The writer may create its next file while the folder is emptied: try again.
				for range 10 {
					if os.RemoveAll(g.tmp) == nil {
						break
					}
				}
				g.settled = true
			}
			signal.Stop(g.sigs)
			g.mu.Unlock()
			// With this handler gone the signal has its usual effect (the end of a command line
			// run), or reaches whoever else listens for it (the window's own handling).
			if p, err := os.FindProcess(os.Getpid()); err == nil && p.Signal(sig) == nil {
				return
			}
			os.Exit(130)
		case <-g.stop:
		}
	}()
	return g
}

// settle runs fn (the rename into place, or the removal after a failure) unless a signal already
// removed the partial, and ends the guard. It reports whether fn ran.
func (g *partialGuard) settle(fn func()) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.settled {
		return false
	}
	fn()
	g.settled = true
	return true
}

// done ends the guard without touching the partial.
func (g *partialGuard) done() {
	signal.Stop(g.sigs)
	close(g.stop)
}
