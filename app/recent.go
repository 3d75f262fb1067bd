package app

import (
	"path/filepath"

	"fyne.io/fyne/v2"

	"github.com/layerscope/layerscope/modelio/hub"
)

// Preference keys.
const (
	prefRecent = "recent" // a string list, most recent first
	prefDark   = "dark"
)

// maxRecent is how many models File > Open Recent remembers.
const maxRecent = 10

// recentList is the models opened lately, kept in the app's preferences so they survive a restart.
// Gallery models are not recorded: they have their own menu. Hub models are, by their hf: reference.
type recentList struct {
	prefs fyne.Preferences
}

// List returns the remembered paths, most recent first.
func (r recentList) List() []string {
	return r.prefs.StringList(prefRecent)
}

// Add moves path (a file or folder, or a Hub model's hf: reference) to the front, dropping its older
// entry and anything past maxRecent.
func (r recentList) Add(path string) {
	if abs, err := filepath.Abs(path); err == nil && !hub.IsRef(path) {
		path = abs
	}
	list := []string{path}
	for _, p := range r.List() {
		if p != path && len(list) < maxRecent {
			list = append(list, p)
		}
	}
	r.prefs.SetStringList(prefRecent, list)
}

// Remove forgets path (a folder that has since been deleted).
func (r recentList) Remove(path string) {
	var list []string
	for _, p := range r.List() {
		if p != path {
			list = append(list, p)
		}
	}
	r.prefs.SetStringList(prefRecent, list)
}

// Clear forgets every entry.
func (r recentList) Clear() { r.prefs.SetStringList(prefRecent, nil) }
