package app

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/storage"
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
// Without LAYERSCOPE_TEST_DROP nothing happens. It is a test hook, not a feature.
const (
	envTestDrop     = "LAYERSCOPE_TEST_DROP"
	envTestDropWait = "LAYERSCOPE_TEST_DROP_WAIT"
)

func (w *Window) testHook() {
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
