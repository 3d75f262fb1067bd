package app

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/layerscope/layerscope/internal/atomicfile"
)

// prefSaveFolder is the folder of the last file saved, where the next save dialog starts.
const prefSaveFolder = "saveFolder"

// askSavePath asks, in one dialog, for a folder (the last one used, or the home folder, with Choose… to
// change it) and a file name, checks the path and calls save with it. Enter in the name saves.
//
// Fyne's own save dialog opens the chosen file for writing, truncating it, before its callback runs:
// a file picked by mistake inside a model folder (config.json, say) would already be emptied when
// Layerscope got to refuse it. Asking for the folder and the name in fields of its own lets
// Layerscope refuse a path inside an open model's folder, and ask before replacing a file, before
// anything is written.
func (w *Window) askSavePath(title, name, ext string, save func(path string)) {
	dir := w.app.Preferences().String(prefSaveFolder)
	if st, err := os.Stat(dir); dir == "" || err != nil || !st.IsDir() {
		dir, _ = os.UserHomeDir()
	}
	where := widget.NewLabel(dir)
	where.Truncation = fyne.TextTruncateEllipsis
	entry := newKeyEntry(w, false)
	entry.SetText(name)
	choose := newKeyButton(w, "Choose…", theme.FolderOpenIcon(), nil)
	choose.OnTapped = func() {
		d := dialog.NewFolderOpen(func(u fyne.ListableURI, err error) {
			if err == nil && u != nil {
				dir = u.Path()
				where.SetText(dir)
			}
		}, w.win)
		if l, err := storage.ListerForURI(storage.NewFileURI(dir)); err == nil {
			d.SetLocation(l)
		}
		d.Resize(dialogSize(w.win))
		d.Show()
	}
	items := []*widget.FormItem{
		widget.NewFormItem("Folder", container.NewBorder(nil, nil, nil, choose, where)),
		widget.NewFormItem("File name", entry),
	}
	form := dialog.NewForm(title, "Save", "Cancel", items, func(ok bool) {
		if !ok {
			return
		}
		path, err := w.checkSavePath(dir, entry.Text, ext)
		if err != nil {
			w.banner.show(err.Error())
			return
		}
		w.app.Preferences().SetString(prefSaveFolder, dir)
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
	entry.OnSubmitted = func(string) { form.Submit() }
	form.Resize(fyne.NewSize(min(560, w.win.Canvas().Size().Width*0.9), form.MinSize().Height))
	form.Show()
	w.win.Canvas().Focus(entry)
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
