package app

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/layerscope/layerscope/modelio/gallery"
)

// ctrl is a shortcut with the platform's command key (Ctrl, or Cmd on macOS).
func ctrl(k fyne.KeyName) fyne.Shortcut {
	return &desktop.CustomShortcut{KeyName: k, Modifier: fyne.KeyModifierShortcutDefault}
}

// bare shows a bare function key beside a menu item. Fyne only triggers menu shortcuts that carry a
// modifier, so the key itself is handled in onKey; the menu just teaches it.
func bare(k fyne.KeyName) fyne.Shortcut { return &desktop.CustomShortcut{KeyName: k} }

func item(label string, sc fyne.Shortcut, fn func()) *fyne.MenuItem {
	it := fyne.NewMenuItem(label, fn)
	it.Shortcut = sc
	return it
}

func checked(it *fyne.MenuItem, on bool) *fyne.MenuItem { it.Checked = on; return it }

func disabled(it *fyne.MenuItem, off bool) *fyne.MenuItem { it.Disabled = off; return it }

// refreshMenus rebuilds the main menu: Open Recent, the cache and the comparison change as models come
// and go, and the View items carry check marks.
func (w *Window) refreshMenus() {
	file := fyne.NewMenu("File",
		item("Open Folder…", ctrl(fyne.KeyO), w.openFolderDialog),
		item("Open File…", nil, func() { w.fileDialog(false) }),
		item("Open from Hub…", nil, w.openHubDialog),
		w.recentItem(),
		w.galleryItem("Gallery", false),
		w.hfItem("Hugging Face Cache", false),
		fyne.NewMenuItemSeparator(),
		w.exportItem(),
	)
	edit := fyne.NewMenu("Edit",
		item("Copy Module Tree", &fyne.ShortcutCopy{}, w.copyShortcut),
		fyne.NewMenuItemSeparator(),
		disabled(item("What If: Remove Blocks…", ctrl(fyne.KeyR), w.removeBlocksDialog), len(w.models) == 0),
		disabled(item("What If: Narrow the MLPs…", ctrl(fyne.KeyM), w.openWidthWhatIf), len(w.models) == 0),
		disabled(item("Back to Full Model", nil, w.leaveWhatIf), w.whatIf == nil),
	)
	nModels := len(w.models)
	view := fyne.NewMenu("View",
		item("Zoom In", ctrl(fyne.KeyEqual), w.zoomIn),
		item("Zoom Out", ctrl(fyne.KeyMinus), w.zoomOut),
		item("Fit", ctrl(fyne.Key0), w.fit),
		checked(item("Unfold All Blocks", nil, w.toggleUnfoldAll), w.view.Options().UnfoldAll),
		fyne.NewMenuItemSeparator(),
		checked(item("Light", nil, func() { w.setDark(false) }), !w.theme.dark),
		checked(item("Dark", nil, func() { w.setDark(true) }), w.theme.dark),
		fyne.NewMenuItemSeparator(),
		checked(item("Presentation", bare(fyne.KeyF5), func() { w.setPresenting(!w.theme.present) }), w.theme.present),
		item("Full Screen", bare(fyne.KeyF11), w.toggleFullScreen),
		checked(item("Side Panel", bare(fyne.KeyF9), w.toggleSide), w.sideShown),
	)
	var removes []*fyne.MenuItem
	for i, m := range w.models {
		i := i
		removes = append(removes, fyne.NewMenuItem(m.Name, func() { w.removeModel(i) }))
	}
	remove := fyne.NewMenuItem("Remove", nil)
	remove.ChildMenu = fyne.NewMenu("", removes...)
	remove.Disabled = nModels < 2
	full := nModels >= maxCompare || nModels == 0
	compare := fyne.NewMenu("Compare",
		disabled(item("Add Folder to Comparison…", ctrl(fyne.KeyK), func() { w.folderDialog(true) }), full),
		disabled(item("Add File to Comparison…", nil, func() { w.fileDialog(true) }), full),
		disabled(w.galleryItem("Add from Gallery", true), full),
		disabled(w.hfItem("Add from Hugging Face Cache", true), full),
		fyne.NewMenuItemSeparator(),
		remove,
		disabled(item("Keep Only the First", nil, func() { w.removeAllBut(0) }), nModels < 2),
	)
	help := fyne.NewMenu("Help",
		item("Keyboard Shortcuts", nil, w.showKeys),
		item("About Layerscope", nil, w.showAbout),
	)
	w.setMainMenu(fyne.NewMainMenu(file, edit, view, compare, help))
}

// setMainMenu shows the menus in the menu bar, or only behind the toolbar's ☰ while presenting (the bar
// would take a line of the projector), and makes their shortcuts the window's, so they work with the
// bar hidden and from a focused entry too.
func (w *Window) setMainMenu(m *fyne.MainMenu) {
	w.mainMenu = m
	w.shortcuts = map[string]func(){}
	var collect func(items []*fyne.MenuItem)
	collect = func(items []*fyne.MenuItem) {
		for _, it := range items {
			if it.ChildMenu != nil {
				collect(it.ChildMenu.Items)
			}
			sc, ok := it.Shortcut.(*desktop.CustomShortcut)
			if !ok || sc.Modifier == 0 || it.Disabled || it.Action == nil {
				continue
			}
			w.shortcuts[sc.ShortcutName()] = it.Action
			w.win.Canvas().AddShortcut(sc, func(fyne.Shortcut) { w.windowShortcut(sc) })
		}
	}
	for _, menu := range m.Items {
		collect(menu.Items)
	}
	if !w.theme.present {
		w.win.SetMainMenu(m)
		return
	}
	w.win.SetMainMenu(nil)
	// Fyne 2.7 lays the content out again when a menu bar comes, not when it goes: give it the bar's
	// room here, where the window is padded as Fyne pads it.
	c := w.win.Canvas()
	size, pos := c.Size(), fyne.NewPos(0, 0)
	if w.win.Padded() {
		p := theme.Padding()
		size, pos = size.SubtractWidthHeight(2*p, 2*p), fyne.NewPos(p, p)
	}
	if content := w.win.Content(); content != nil && size.Width > 0 && size.Height > 0 && content.Size() != size {
		content.Resize(size)
		content.Move(pos)
	}
}

// recentItem is File > Open Recent.
func (w *Window) recentItem() *fyne.MenuItem {
	it := fyne.NewMenuItem("Open Recent", nil)
	var items []*fyne.MenuItem
	for _, p := range w.recent.List() {
		p := p
		items = append(items, fyne.NewMenuItem(p, func() { w.open([]string{p}, false) }))
	}
	if len(items) > 0 {
		items = append(items, fyne.NewMenuItemSeparator(), fyne.NewMenuItem("Clear Recent", func() {
			w.recent.Clear()
			w.refreshMenus()
		}))
	}
	it.ChildMenu = fyne.NewMenu("", items...)
	it.Disabled = len(items) == 0
	return it
}

// galleryItem lists every embedded model by its Hugging Face id.
func (w *Window) galleryItem(label string, add bool) *fyne.MenuItem {
	it := fyne.NewMenuItem(label, nil)
	var items []*fyne.MenuItem
	for _, e := range gallery.All() {
		e := e
		items = append(items, fyne.NewMenuItem(e.ID, func() { w.open([]string{e.Name}, add) }))
	}
	it.ChildMenu = fyne.NewMenu("", items...)
	return it
}

// hfItem lists the models of the local Hugging Face cache.
func (w *Window) hfItem(label string, add bool) *fyne.MenuItem {
	it := fyne.NewMenuItem(label, nil)
	var items []*fyne.MenuItem
	for _, m := range w.hfModels {
		m := m
		items = append(items, fyne.NewMenuItem(m.ID, func() { w.open([]string{m.Path}, add) }))
	}
	if len(items) == 0 {
		items = append(items, disabled(fyne.NewMenuItem("No models in "+hfHubDir(), nil), true))
	}
	items = append(items, fyne.NewMenuItemSeparator(), fyne.NewMenuItem("Scan Again", w.scanHFCacheLater))
	it.ChildMenu = fyne.NewMenu("", items...)
	return it
}

// scanHFCacheLater lists the Hugging Face cache off the UI goroutine (a network home folder can be
// slow) and rebuilds the menus with what it found.
func (w *Window) scanHFCacheLater() {
	w.loads.Add(1)
	go func() {
		found := scanHFCache(hfHubDir())
		fyne.Do(func() {
			defer w.loads.Done()
			w.hfModels = found
			w.refreshMenus()
		})
	}()
}

// addMenu is what "Add to comparison" offers: a folder, a file, a gallery model or a cached one.
func (w *Window) addMenu() *fyne.Menu {
	return fyne.NewMenu("",
		item("Folder…", nil, func() { w.folderDialog(true) }),
		item("File…", nil, func() { w.fileDialog(true) }),
		w.galleryItem("Gallery", true),
		w.hfItem("Hugging Face Cache", true),
	)
}

// popUpAddMenu opens addMenu below the button that asked for it.
func (w *Window) popUpAddMenu(b fyne.CanvasObject) {
	if len(w.models) >= maxCompare {
		w.banner.show("Layerscope compares up to five models side by side: remove one first (Compare > Remove).")
		return
	}
	d := fyne.CurrentApp().Driver()
	pos := d.AbsolutePositionForObject(b).AddXY(0, b.Size().Height)
	widget.ShowPopUpMenuAtPosition(w.addMenu(), w.win.Canvas(), pos)
}

// removeAllBut keeps model i alone on screen.
func (w *Window) removeAllBut(i int) {
	if i < 0 || i >= len(w.models) {
		return
	}
	w.focus = 0
	w.show(w.models[i : i+1])
}

// toggleUnfoldAll draws every block on its own card, or folds identical runs again.
func (w *Window) toggleUnfoldAll() {
	o := w.view.Options()
	o.UnfoldAll = !o.UnfoldAll
	w.view.SetOptions(o)
	if w.autoFit {
		w.fitNow()
	}
	w.refreshMenus()
}

// copyShortcut is Ctrl+C: on the Module tree tab it copies the tree (or the part of it selected); elsewhere
// it copies what a focused widget has selected.
func (w *Window) copyShortcut() {
	if w.tabs.Selected() != nil && w.tabs.Selected().Content == w.tree.content {
		w.tree.copy()
		return
	}
	if f, ok := w.win.Canvas().Focused().(fyne.Shortcutable); ok {
		f.TypedShortcut(&fyne.ShortcutCopy{Clipboard: w.app.Clipboard()})
	}
}

// installKeys wires the keys that work anywhere in the window (when no text field has the focus).
func (w *Window) installKeys() {
	c := w.win.Canvas()
	c.SetOnTypedKey(w.onKey)
	// Menu shortcuts are triggered by the menu; these are the ones not on a menu item.
	c.AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyEqual, Modifier: fyne.KeyModifierShortcutDefault | fyne.KeyModifierShift},
		func(fyne.Shortcut) { w.zoomIn() }) // Ctrl++ on keyboards where + is Shift+=
}

// onKey handles the keys: zoom and the presentation keys here, the selection keys in the view.
func (w *Window) onKey(ev *fyne.KeyEvent) {
	switch ev.Name {
	case fyne.KeyPlus, fyne.KeyEqual:
		w.zoomIn()
	case fyne.KeyMinus:
		w.zoomOut()
	case fyne.KeyF5:
		w.setPresenting(!w.theme.present)
	case fyne.KeyF9:
		w.toggleSide()
	case fyne.KeyF11:
		w.toggleFullScreen()
	case fyne.KeyEscape:
		if w.banner.visible() {
			w.banner.hide()
		}
		w.leave()
	default:
		// Enter may unfold a card: the stack grows at the same zoom and scrolls to the selection
		// (see selected), so the lecturer's zoom stays where it was.
		w.view.HandleKey(ev.Name)
	}
}

func (w *Window) showKeys() {
	keys := [][2]string{
		{"↑ ↓", "move between blocks"},
		{"← →", "move between projections"},
		{"Enter", "unfold or fold the selected card"},
		{"+ −", "zoom in and out (Ctrl+0 fits)"},
		{"F5", "presentation: large type"},
		{"F11", "full screen"},
		{"F9", "show or hide the side panel"},
		{"Esc", "leave full screen and presentation"},
		{"Ctrl+O", "open a folder"},
		{"Ctrl+K", "add a folder to the comparison"},
		{"Ctrl+E", "export PNG at 2×"},
		{"Ctrl+C", "copy the module tree (on its tab)"},
		{"Ctrl+R", "what if: remove blocks (the selected card's by default)"},
	}
	var cells []fyne.CanvasObject
	for _, k := range keys {
		cells = append(cells, widget.NewLabelWithStyle(k[0], fyne.TextAlignTrailing, fyne.TextStyle{Bold: true}), widget.NewLabel(k[1]))
	}
	dialog.ShowCustom("Keyboard shortcuts", "Close", container.New(layout.NewFormLayout(), cells...), w.win)
}

func (w *Window) showAbout() {
	l := widget.NewLabel("Layerscope shows the architecture of transformer language models from their Hugging Face " +
		"folders: the module tree exactly as transformers prints it, the key facts, and the blocks drawn with " +
		"bars as wide as their projections.\n\nDrop a model folder on the window, or pick one from the gallery.")
	l.Wrapping = fyne.TextWrapWord
	d := dialog.NewCustom("About Layerscope", "Close", l, w.win)
	d.Resize(fyne.NewSize(520, 260))
	d.Show()
}
