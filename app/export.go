package app

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
)

// exportItem is File > Export: the current view as PNG at 1×, 2× (Ctrl+E) or 4×, or as SVG.
func (w *Window) exportItem() *fyne.MenuItem {
	it := fyne.NewMenuItem("Export", nil)
	it.ChildMenu = fyne.NewMenu("",
		item("PNG (1×)…", nil, func() { w.export("png", 1) }),
		item("PNG (2×)…", ctrl(fyne.KeyE), func() { w.export("png", 2) }),
		item("PNG (4×)…", nil, func() { w.export("png", 4) }),
		item("SVG…", nil, func() { w.export("svg", 1) }),
	)
	it.Disabled = len(w.models) == 0
	return it
}

// export asks where to save the current view (the folds, the theme and the models on screen, as the
// window draws them) and writes it off the UI goroutine.
func (w *Window) export(format string, scale float64) {
	d := w.view.Diagram()
	if d == nil || len(w.models) == 0 {
		w.banner.show("Nothing to export: open a model first.")
		return
	}
	w.askSavePath("Export the view", exportName(w.models[0].Name, len(w.models), format, scale), "."+format, func(path string) {
		w.status.SetText("Exporting " + filepath.Base(path) + "…")
		go func() {
			err := writeFileAtomic(path, func(wr io.Writer) error { return d.Encode(wr, format, scale) })
			fyne.Do(func() {
				if err != nil {
					w.banner.show(fmt.Sprintf("%s: %v", path, err))
					return
				}
				msg := "Exported " + path
				if format == "png" {
					msg += fmt.Sprintf(" (%.0f × %.0f pixels)", d.Width*scale, d.Height*scale)
				}
				w.status.SetText(msg)
			})
		}()
	})
}

// exportName suggests a file name: "llama-3.2-1b@2x.png", "llama-3.2-1b-and-2-more.svg".
func exportName(first string, n int, format string, scale float64) string {
	base := strings.NewReplacer("/", "_", "\\", "_", " ", "_").Replace(first)
	if n > 1 {
		base += fmt.Sprintf("-and-%d-more", n-1)
	}
	if format == "png" && scale != 1 {
		base += fmt.Sprintf("@%gx", scale)
	}
	return base + "." + format
}

// modelFolderHolding returns the folder of an open model that path lies in, or "".
func (w *Window) modelFolderHolding(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	if r, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		abs = filepath.Join(r, filepath.Base(abs))
	}
	for _, m := range w.models {
		if m.Path == "" {
			continue // a gallery model has no folder
		}
		dir := m.Path
		if info, err := os.Stat(dir); err == nil && !info.IsDir() {
			dir = filepath.Dir(dir)
		}
		if r, err := filepath.EvalSymlinks(dir); err == nil {
			dir = r
		}
		rel, err := filepath.Rel(dir, abs)
		if err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return dir
		}
	}
	return ""
}
