package app

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/widget"

	"github.com/layerscope/layerscope/internal/atomicfile"
)

// askSavePath asks for a folder, then a file name, checks the path and calls save with it.
//
// Fyne's own save dialog opens the chosen file for writing, truncating it, before its callback runs:
// a file picked by mistake inside a model folder (config.json, say) would already be emptied when
// Layerscope got to refuse it. Asking for the folder and the name separately lets Layerscope refuse a
// path inside an open model's folder, and ask before replacing a file, before anything is written.
func (w *Window) askSavePath(title, name, ext string, save func(path string)) {
	folder := dialog.NewFolderOpen(func(dir fyne.ListableURI, err error) {
		if err != nil {
			w.banner.show(err.Error())
			return
		}
		if dir == nil {
			return // cancelled
		}
		entry := widget.NewEntry()
		entry.SetText(name)
		form := dialog.NewForm(title, "Save", "Cancel",
			[]*widget.FormItem{widget.NewFormItem("File name", entry)},
			func(ok bool) {
				if !ok {
					return
				}
				path, err := w.checkSavePath(dir.Path(), entry.Text, ext)
				if err != nil {
					w.banner.show(err.Error())
					return
				}
				if _, err := os.Stat(path); err == nil {
					dialog.ShowConfirm("Replace "+filepath.Base(path)+"?",
						path+" already exists. Replace it?", func(yes bool) {
							if yes {
								save(path)
							}
						}, w.win)
					return
				}
				save(path)
			}, w.win)
		form.Resize(fyne.NewSize(520, form.MinSize().Height))
		form.Show()
	}, w.win)
	if home, err := os.UserHomeDir(); err == nil {
		if l, err := storage.ListerForURI(storage.NewFileURI(home)); err == nil {
			folder.SetLocation(l)
		}
	}
	folder.Resize(dialogSize(w.win))
	folder.Show()
}

// checkSavePath joins a folder and a file name typed by the user, adds ext when the name lacks it, and
// refuses an empty name, a name with a path in it, and a path inside an open model's folder.
func (w *Window) checkSavePath(dir, name, ext string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", fmt.Errorf("no file name given: nothing was saved")
	case strings.ContainsAny(name, `/\`):
		return "", fmt.Errorf("%q: give a file name, not a path (the folder was chosen before)", name)
	}
	if !strings.EqualFold(filepath.Ext(name), ext) {
		name += ext
	}
	path := filepath.Join(dir, name)
	if model := w.modelFolderHolding(path); model != "" {
		return "", fmt.Errorf("%s is inside the model folder %s: Layerscope never writes into a model folder", path, model)
	}
	return path, nil
}

// writeFileAtomic writes a file through a temporary file beside it, renamed into place once complete,
// so a failed export never leaves half a file (or an emptied old one) behind.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	return atomicfile.Write(path, write)
}
