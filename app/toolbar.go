package app

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// toolbarLayout lays the toolbar out as one row, commands on the left and the view's on the right.
// Where the row does not fit (a window below about 950 units, or the presentation's large type on a
// 1024-wide projector) the collapsible buttons hide and the menu button, which offers them all, shows
// in their place, so buttons are never drawn over each other. Its minimum width is the collapsed
// row's, so the toolbar never widens the window.
type toolbarLayout struct {
	left, right []fyne.CanvasObject
	collapsible map[fyne.CanvasObject]bool
	menu        fyne.CanvasObject // the ☰ button: shown when collapsed, or when showMenu says so
	showMenu    func() bool       // true while the main menu bar is hidden (presenting)
	collapsed   bool              // as last laid out, for tests
}

func (l *toolbarLayout) width(all bool, menu bool) float32 {
	pad := theme.Padding()
	w := float32(0)
	n := 0
	for _, objs := range [][]fyne.CanvasObject{l.left, l.right} {
		for _, o := range objs {
			// Hidden objects other than those this layout hides (the busy indicator at rest) take no room.
			if o == l.menu || (!all && l.collapsible[o]) || (!l.collapsible[o] && !o.Visible()) {
				continue
			}
			w += o.MinSize().Width
			n++
		}
	}
	if menu {
		w += l.menu.MinSize().Width
		n++
	}
	return w + float32(n)*pad
}

func (l *toolbarLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	forced := l.showMenu != nil && l.showMenu()
	l.collapsed = size.Width < l.width(true, forced)
	setShown(l.menu, l.collapsed || forced)
	for o := range l.collapsible {
		setShown(o, !l.collapsed)
	}
	pad := theme.Padding()
	h := size.Height
	x := float32(0)
	for _, o := range l.left {
		if !o.Visible() {
			continue
		}
		w := o.MinSize().Width
		o.Move(fyne.NewPos(x, (h-o.MinSize().Height)/2))
		o.Resize(fyne.NewSize(w, o.MinSize().Height))
		x += w + pad
	}
	x = size.Width
	for k := len(l.right) - 1; k >= 0; k-- {
		o := l.right[k]
		if !o.Visible() {
			continue
		}
		w := o.MinSize().Width
		x -= w
		o.Move(fyne.NewPos(x, (h-o.MinSize().Height)/2))
		o.Resize(fyne.NewSize(w, o.MinSize().Height))
		x -= pad
	}
}

func (l *toolbarLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	h := float32(0)
	for _, o := range objs {
		h = max(h, o.MinSize().Height)
	}
	return fyne.NewSize(l.width(false, true), h)
}

// setShown shows or hides o, refreshing it only when that changes.
func setShown(o fyne.CanvasObject, on bool) {
	switch {
	case on && !o.Visible():
		o.Show()
	case !on && o.Visible():
		o.Hide()
	}
}

// popUpMainMenu opens the menu button's menu below it: the main menu's File, Edit, View, Compare and
// Help as submenus, which is all the toolbar's collapsed buttons do and more.
func (w *Window) popUpMainMenu(b fyne.CanvasObject) {
	if w.mainMenu == nil {
		return
	}
	var items []*fyne.MenuItem
	for _, m := range w.mainMenu.Items {
		it := fyne.NewMenuItem(m.Label, nil)
		it.ChildMenu = m
		items = append(items, it)
	}
	d := fyne.CurrentApp().Driver()
	pos := d.AbsolutePositionForObject(b).AddXY(0, b.Size().Height)
	widget.ShowPopUpMenuAtPosition(fyne.NewMenu("", items...), w.win.Canvas(), pos)
}
