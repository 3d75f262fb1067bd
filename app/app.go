// Package app is the Fyne desktop application: the window with the drawn block stack, its side panel
// (the selected part, key facts, module tree, comparison), menus, drag-and-drop, dialogs and settings.
//
// The logic it shows lives elsewhere: modelio opens models, render lays out and exports the diagram,
// widgets draws it. This package wires them to a window, keeps slow work off the UI goroutine and
// reaches back to the UI through fyne.Do.
package app

import (
	"fmt"
	"os"

	fyneapp "fyne.io/fyne/v2/app"

	"github.com/layerscope/layerscope/modelio/gallery"
	"github.com/layerscope/layerscope/modelio/hub"
)

// ID is the application id, as in FyneApp.toml.
const ID = "io.github.layerscope"

// Run opens the window on path (a folder, file or gallery name; "" for the default gallery model) and
// returns when the window closes. A path that names nothing at all is reported before any window opens,
// as the other commands do; anything else that goes wrong while opening shows in the window.
func Run(path string) error {
	if path == "" {
		path = gallery.Default
	}
	if _, err := os.Stat(path); err != nil && !hub.IsRef(path) {
		if _, ok := gallery.Find(path); !ok {
			return fmt.Errorf("%s: no such file or folder, and no gallery model of that name (see: layerscope gallery)", path)
		}
	}
	a := fyneapp.NewWithID(ID)
	w := newWindow(a)
	fitToScreen(a, w.win)
	w.win.SetMaster()
	w.testHook() // before the first load, whose end it waits for
	w.open(testOpen(path), false)
	w.win.ShowAndRun()
	return nil
}
