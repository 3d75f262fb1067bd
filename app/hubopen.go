package app

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/layerscope/layerscope/modelio/hub"
)

// openHubDialog is File > Open from Hub…: a model id (meta-llama/Llama-3.2-1B, with @revision if
// wanted) or its page's URL. Only config.json and the tensor headers are fetched.
func (w *Window) openHubDialog() {
	entry := newKeyEntry(w, false)
	entry.SetPlaceHolder("meta-llama/Llama-3.2-1B")
	items := []*widget.FormItem{widget.NewFormItem("Model", entry)}
	items[0].HintText = "An id (ORG/NAME, or ORG/NAME@revision) or a huggingface.co URL; the weights are not downloaded."
	d := dialog.NewForm("Open from Hugging Face Hub", "Open", "Cancel", items, func(ok bool) {
		if ref := hubRef(entry.Text); ok && ref != "" {
			w.open([]string{ref}, false)
		}
	}, w.win)
	d.Resize(fyne.NewSize(560, d.MinSize().Height))
	d.Show()
	w.win.Canvas().Focus(entry)
}

// hubRef turns what was typed into a Hub reference: a bare id gets the hf: prefix.
func hubRef(text string) string {
	text = strings.TrimSpace(text)
	if text == "" || hub.IsRef(text) {
		return text
	}
	return hub.Prefix + text
}
