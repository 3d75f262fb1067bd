package app

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/gallery"
	"github.com/layerscope/layerscope/modelio/hub"
)

// busyDelay is how long a load runs before the progress indicator appears: a gallery model opens in a
// few milliseconds, and a bar that flashes for one frame only distracts.
const busyDelay = 150 * time.Millisecond

// dropped opens what was dropped on the window: one folder, config.json or .safetensors file shows that
// model; several show them side by side (up to maxCompare). Several files from one folder (the shards of
// one checkpoint, or its config.json with them) are that folder's one model.
func (w *Window) dropped(_ fyne.Position, uris []fyne.URI) {
	var paths []string
	for _, u := range uris {
		if u != nil && u.Path() != "" {
			paths = append(paths, u.Path())
		}
	}
	if paths = modelsOf(paths); len(paths) == 0 {
		return
	}
	w.open(paths, false)
}

// modelsOf turns dropped paths into the models they name: files that share a folder with another
// dropped file become that folder, once, in the order first dropped.
func modelsOf(paths []string) []string {
	files := map[string]int{}
	for _, p := range paths {
		if info, err := os.Stat(p); err == nil && !info.IsDir() {
			files[filepath.Dir(p)]++
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, p := range paths {
		if info, err := os.Stat(p); err == nil && !info.IsDir() && files[filepath.Dir(p)] > 1 {
			p = filepath.Dir(p)
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// open loads models off the UI goroutine and shows them: in place of the models on screen, or added to
// them (add) for a comparison. The window stays responsive; a load that takes longer than busyDelay
// shows a progress indicator. Errors appear in the banner, one line each.
func (w *Window) open(paths []string, add bool) {
	have := 0
	if add {
		have = len(w.models)
	}
	if have+len(paths) > maxCompare {
		keep := max(0, maxCompare-have)
		w.banner.show(fmt.Sprintf("Layerscope compares up to %d models side by side; %d of the %d given were left out.",
			maxCompare, len(paths)-keep, len(paths)))
		paths = paths[:keep]
		if len(paths) == 0 {
			return
		}
	} else {
		w.banner.hide()
	}

	w.loadSeq++
	seq := w.loadSeq
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = shortPath(p)
	}
	w.busyLabel.SetText("Opening " + strings.Join(names, ", ") + "…")
	timer := time.AfterFunc(busyDelay, func() {
		fyne.Do(func() {
			if seq == w.loadSeq {
				w.busy.Show()
			}
		})
	})

	w.loads.Add(1)
	go func() {
		models := make([]*modelio.Model, 0, len(paths))
		var errs []string
		for _, p := range paths {
			m, err := modelio.OpenProgress(p, func(pr hub.Progress) {
				fyne.Do(func() {
					if seq == w.loadSeq {
						w.busyLabel.SetText(pr.String()) // headers arriving from the Hub
					}
				})
			})
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			models = append(models, m)
		}
		timer.Stop()
		fyne.Do(func() {
			defer w.loads.Done()
			if seq != w.loadSeq {
				return // a newer load replaced this one
			}
			w.busy.Hide()
			w.loaded(paths, models, errs, add)
		})
	}()
}

// loaded shows the result of a load on the UI goroutine.
func (w *Window) loaded(paths []string, models []*modelio.Model, errs []string, add bool) {
	switch len(errs) {
	case 0:
	case 1:
		w.banner.show(errs[0])
	default:
		w.banner.show(fmt.Sprintf("%s (and %d more that did not open)", errs[0], len(errs)-1))
	}
	for _, p := range paths {
		if isFile(p) {
			w.recent.Add(p)
		}
	}
	for _, m := range models {
		if m.Remote {
			w.recent.Add(m.Path) // hf:ORG/NAME[@REVISION], however it was typed; a typo is not kept
		}
	}
	if len(models) == 0 {
		if len(w.models) == 0 {
			w.show(nil) // the empty state, with the banner saying why
		}
		return
	}
	if add {
		models = append(append([]*modelio.Model(nil), w.models...), models...)
	} else {
		w.focus = 0
	}
	w.show(models)
}

// removeModel takes model i out of the comparison.
func (w *Window) removeModel(i int) {
	if i < 0 || i >= len(w.models) || len(w.models) == 1 {
		return
	}
	models := append(append([]*modelio.Model(nil), w.models[:i]...), w.models[i+1:]...)
	if w.focus >= i && w.focus > 0 {
		w.focus--
	}
	w.show(models)
}

// openFolderDialog is File > Open Folder…
func (w *Window) openFolderDialog() { w.folderDialog(false) }

func (w *Window) folderDialog(add bool) {
	d := dialog.NewFolderOpen(func(u fyne.ListableURI, err error) {
		if err != nil {
			w.banner.show(err.Error())
			return
		}
		if u != nil {
			w.open([]string{u.Path()}, add)
		}
	}, w.win)
	w.startIn(d)
	d.Resize(dialogSize(w.win))
	d.Show()
}

// fileDialog is File > Open File…: a config.json or a .safetensors file.
func (w *Window) fileDialog(add bool) {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil {
			w.banner.show(err.Error())
			return
		}
		if r == nil {
			return
		}
		path := r.URI().Path()
		r.Close() // modelio reads the file itself (the headers through mmap)
		w.open([]string{path}, add)
	}, w.win)
	d.SetFilter(storage.NewExtensionFileFilter([]string{".json", ".safetensors", ".gguf"}))
	w.startIn(d)
	d.Resize(dialogSize(w.win))
	d.Show()
}

// startIn points a file dialog at the folder of the most recent model, where the next one likely is.
func (w *Window) startIn(d interface{ SetLocation(fyne.ListableURI) }) {
	var local []string
	for _, p := range w.recent.List() {
		if !hub.IsRef(p) {
			local = append(local, p)
		}
	}
	if len(local) == 0 {
		return
	}
	dir := filepath.Dir(strings.TrimSuffix(local[0], string(filepath.Separator)))
	if l, err := storage.ListerForURI(storage.NewFileURI(dir)); err == nil {
		d.SetLocation(l)
	}
}

// dialogSize is most of the window: Fyne's default file dialog is too small to read a model folder in.
func dialogSize(win fyne.Window) fyne.Size {
	s := win.Canvas().Size()
	return fyne.NewSize(max(600, s.Width*0.8), max(420, s.Height*0.8))
}

// isFile reports whether p names something on disk (a folder or a file), as opposed to a gallery name.
func isFile(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// shortPath names a path for the progress line: the folder's name, or a gallery name as given.
func shortPath(p string) string {
	if hub.IsRef(p) && !isFile(p) {
		return p
	}
	if e, ok := gallery.Find(p); ok && !isFile(p) {
		return e.Name
	}
	return filepath.Base(strings.TrimSuffix(p, string(filepath.Separator)))
}

// waitLoads blocks until every load and cache scan started so far has been shown (tests).
func (w *Window) waitLoads() { w.loads.Wait() }
