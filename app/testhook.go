package app

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/storage"

	"github.com/layerscope/layerscope/compute"
	"github.com/layerscope/layerscope/modelio"
)

// Test hook: X drag-and-drop cannot be scripted reliably, so the test of the real binary
// (TestRealWindow) asks the running app to call its own drop handler, the same function a drop calls.
//
//	LAYERSCOPE_TEST_DROP       paths to drop, separated by the OS path-list separator (":" on Linux);
//	                           dropped once the first model is on screen
//	LAYERSCOPE_TEST_DROP_WAIT  optional: a file whose appearance triggers the drop (the test creates it
//	                           after its first screenshot), polled every 100 ms; without it the drop
//	                           follows one second after the first model shows
//
// The test of a real importance run (TestRealWindowImportance) asks the app to press Run itself:
//
//	LAYERSCOPE_TEST_RUN     set: once the first model is on screen, show the Importance tab and press
//	                        Run on it (the CPU backend, so the result does not depend on the machine)
//	LAYERSCOPE_TEST_SCORES  a file the app writes when the run ends: {"state", "metric", "scores",
//	                        "marked", "problem"}, the scores shown on the stack, in block order
//
// Without LAYERSCOPE_TEST_DROP and LAYERSCOPE_TEST_RUN nothing happens. It is a test hook, not a feature.
const (
	envTestDrop     = "LAYERSCOPE_TEST_DROP"
	envTestDropWait = "LAYERSCOPE_TEST_DROP_WAIT"
	envTestRun      = "LAYERSCOPE_TEST_RUN"
	envTestScores   = "LAYERSCOPE_TEST_SCORES"
)

func (w *Window) testHook() {
	w.testRunHook()
	drop := os.Getenv(envTestDrop)
	if drop == "" {
		return
	}
	var uris []fyne.URI
	for _, p := range filepath.SplitList(drop) {
		if p = strings.TrimSpace(p); p != "" {
			uris = append(uris, storage.NewFileURI(p))
		}
	}
	w.banner.log = true // the test shows the app's stderr when a title does not appear
	wait := os.Getenv(envTestDropWait)
	w.onShown = append(w.onShown, func() {
		if wait == "" {
			time.Sleep(time.Second)
		} else {
			for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				if _, err := os.Stat(wait); err == nil {
					break
				}
			}
		}
		fyne.Do(func() { w.dropped(fyne.NewPos(0, 0), uris) })
	})
}

// testRunHook presses Run on the first model shown and writes what the run showed.
func (w *Window) testRunHook() {
	if os.Getenv(envTestRun) == "" {
		return
	}
	out := os.Getenv(envTestScores)
	w.banner.log = true
	p := w.importance
	p.onFinish = func(state runState, m *modelio.Model) {
		report := struct {
			State   string    `json:"state"`
			Metric  string    `json:"metric,omitempty"`
			Scores  []float64 `json:"scores"`
			Marked  []int     `json:"marked"`
			Problem string    `json:"problem,omitempty"`
		}{State: state.String(), Problem: strings.TrimSpace(p.problem.what + " " + p.problem.next)}
		if r := w.resultFor(m); r != nil && state == stateDone {
			if s, ok := w.displayScores(r, p); ok {
				report.Metric, report.Scores, report.Marked = s.Metric, s.Values, s.Candidates
			}
		}
		if report.Problem != "" {
			fmt.Fprintln(os.Stderr, "layerscope: "+report.Problem)
		}
		data, err := json.Marshal(report)
		if err == nil && out != "" {
			// Written whole, then renamed, so the test never reads half a file.
			tmp := out + ".tmp"
			if err = os.WriteFile(tmp, data, 0o644); err == nil {
				err = os.Rename(tmp, out)
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "layerscope: test hook:", err)
		}
	}
	w.onShown = append(w.onShown, func() {
		fyne.Do(func() {
			for i, t := range w.tabs.Items {
				if t.Content == p.content {
					w.tabs.SelectIndex(i)
				}
			}
			p.backend.SetSelectedIndex(slices.Index(backendValues, compute.BackendCPU))
			p.start()
		})
	})
}
