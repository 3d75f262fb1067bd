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
	"github.com/layerscope/layerscope/render"
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
// The tests of presenting open several models at once and read what the window shows:
//
//	LAYERSCOPE_TEST_OPEN    models to open side by side in place of the command line's one, separated
//	                        by the OS path-list separator (gallery names or folders)
//
//	LAYERSCOPE_TEST_STATE   a file the app rewrites whenever the zoom is set: the canvas and the
//	                        stack's sizes, the zoom, the smallest bar label in pixels, whether the
//	                        stack is cut off, presenting, the side panel and the toolbar's state
//
// Without LAYERSCOPE_TEST_DROP, LAYERSCOPE_TEST_RUN and LAYERSCOPE_TEST_STATE nothing happens. It is a
// test hook, not a feature.
const (
	envTestOpen     = "LAYERSCOPE_TEST_OPEN"
	envTestState    = "LAYERSCOPE_TEST_STATE"
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

// viewReport is what LAYERSCOPE_TEST_STATE holds.
type viewReport struct {
	Canvas     [2]float32 `json:"canvas"` // the window's canvas, in pixels
	Stack      [2]float32 `json:"stack"`  // the space the stack is drawn in, in pixels
	Diagram    [2]float64 `json:"diagram"`
	Zoom       float32    `json:"zoom"`
	LabelPx    float64    `json:"label_px"` // the smallest bar label, in pixels
	Cut        bool       `json:"cut"`      // the stack does not fit: it scrolls
	Present    bool       `json:"present"`
	Side       bool       `json:"side"`
	MenuBar    bool       `json:"menu_bar"`
	Collapsed  bool       `json:"toolbar_collapsed"`
	Models     int        `json:"models"`
	Selected   bool       `json:"selected"`
	FullScreen bool       `json:"full_screen"`
}

// report measures the view.
func (w *Window) report() viewReport {
	c := w.win.Canvas()
	scale := c.Scale()
	r := viewReport{Canvas: [2]float32{c.Size().Width * scale, c.Size().Height * scale},
		Stack: [2]float32{w.stack.Size().Width * scale, w.stack.Size().Height * scale},
		Zoom:  w.view.Zoom(), Present: w.theme.present, Side: w.sideShown, MenuBar: w.win.MainMenu() != nil,
		Collapsed: w.bar.collapsed, Models: len(w.models), FullScreen: w.win.FullScreen()}
	_, r.Selected = w.view.Selected()
	if d := w.view.Diagram(); d != nil {
		r.Diagram = [2]float64{d.Width, d.Height}
		r.LabelPx = barLabelSize(d) * float64(w.view.Zoom()*scale)
		z := float64(w.view.Zoom())
		r.Cut = d.Width*z > float64(w.stack.Size().Width)+1 || d.Height*z > float64(w.stack.Size().Height)+1
	}
	return r
}

// barLabelSize is the size of the smallest label of a part inside a card, in model units; 0 without one.
func barLabelSize(d *render.Diagram) float64 {
	size := 0.0
	for _, it := range d.Items {
		if it.Kind == render.KindText && it.Ref.What == render.RefPart && it.Ref.Start >= 0 && (size == 0 || it.Size < size) {
			size = it.Size
		}
	}
	return size
}

// testState writes the view's report for the tests of presenting (LAYERSCOPE_TEST_STATE).
func (w *Window) testState() {
	out := os.Getenv(envTestState)
	if out == "" {
		return
	}
	data, err := json.Marshal(w.report())
	if err == nil {
		tmp := out + ".tmp"
		if err = os.WriteFile(tmp, data, 0o644); err == nil {
			err = os.Rename(tmp, out)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "layerscope: test hook:", err)
	}
}

// testOpen returns the models LAYERSCOPE_TEST_OPEN names, or path alone.
func testOpen(path string) []string {
	var out []string
	for _, p := range filepath.SplitList(os.Getenv(envTestOpen)) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return []string{path}
	}
	return out
}
