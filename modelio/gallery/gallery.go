// Package gallery embeds the config.json files of well-known models, so Layerscope can show an
// architecture with no download: every command accepts their short names (llama-3.2-1b).
package gallery

import (
	"embed"
	"sort"
	"strings"
)

//go:embed configs/*.config.json
var files embed.FS

// Entry is one embedded model.
type Entry struct {
	Name string // short name: "llama-3.2-1b"
	ID   string // Hugging Face id: "meta-llama/Llama-3.2-1B"
	file string
}

// Config returns the embedded config.json bytes.
func (e Entry) Config() []byte {
	data, err := files.ReadFile(e.file)
	if err != nil {
		panic("gallery: embedded file vanished: " + e.file) // impossible: the list is built from the FS
	}
	return data
}

var entries = func() []Entry {
	dir, err := files.ReadDir("configs")
	if err != nil {
		panic(err)
	}
	var out []Entry
	for _, f := range dir {
		stem := strings.TrimSuffix(f.Name(), ".config.json")
		org, model, ok := strings.Cut(stem, "__")
		if !ok {
			continue
		}
		out = append(out, Entry{Name: strings.ToLower(model), ID: org + "/" + model, file: "configs/" + f.Name()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}()

// All lists every embedded model, sorted by short name.
func All() []Entry { return append([]Entry(nil), entries...) }

// Find returns the entry whose short name or Hugging Face id equals name, ignoring case.
func Find(name string) (Entry, bool) {
	for _, e := range entries {
		if strings.EqualFold(name, e.Name) || strings.EqualFold(name, e.ID) {
			return e, true
		}
	}
	return Entry{}, false
}

// Default is the model a first-time user sees.
const Default = "llama-3.2-1b"
