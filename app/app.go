// Package app is the Fyne desktop application: the window, its menus, drag-and-drop and dialogs.
//
// For now the window shows the key facts and the module tree of one model as text; the drawn block
// stack arrives with the desktop-app issue.
package app

import (
	"fmt"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/gallery"
	"github.com/layerscope/layerscope/render"
)

// ID is the application id, as in FyneApp.toml.
const ID = "io.github.layerscope"

// Run opens the window on path (a folder, file or gallery name; "" for the default gallery model) and
// returns when the window closes.
func Run(path string) error {
	if path == "" {
		path = gallery.Default
	}
	m, err := modelio.Open(path)
	if err != nil {
		return err
	}
	a := fyneapp.NewWithID(ID)
	w := a.NewWindow("Layerscope")
	v := newModelView(w)
	v.show(m)
	w.SetOnDropped(func(_ fyne.Position, uris []fyne.URI) {
		if len(uris) > 0 {
			v.open(uris[0].Path())
		}
	})
	w.SetMainMenu(fyne.NewMainMenu(fyne.NewMenu("File",
		fyne.NewMenuItem("Open Folder…", func() {
			dialog.ShowFolderOpen(func(u fyne.ListableURI, err error) {
				if err == nil && u != nil {
					v.open(u.Path())
				}
			}, w)
		}),
	)))
	w.Resize(fyne.NewSize(1280, 720))
	w.ShowAndRun()
	return nil
}

// modelView shows one model's facts and module tree.
type modelView struct {
	win   fyne.Window
	facts *widget.TextGrid
	tree  *widget.TextGrid
}

func newModelView(w fyne.Window) *modelView {
	v := &modelView{win: w, facts: widget.NewTextGrid(), tree: widget.NewTextGrid()}
	tabs := container.NewAppTabs(
		container.NewTabItem("Key facts", container.NewScroll(v.facts)),
		container.NewTabItem("Module tree", container.NewScroll(v.tree)),
	)
	w.SetContent(tabs)
	return v
}

// open loads a model off the UI goroutine and shows it, or an error dialog in plain words.
func (v *modelView) open(path string) {
	go func() {
		m, err := modelio.Open(path)
		fyne.Do(func() {
			if err != nil {
				dialog.ShowError(err, v.win)
				return
			}
			v.show(m)
		})
	}()
}

func (v *modelView) show(m *modelio.Model) {
	v.win.SetTitle(fmt.Sprintf("Layerscope — %s", m.Name))
	v.facts.SetText(m.Facts().Text())
	v.tree.SetText(render.ModuleTree(m.Spec.Root))
}
