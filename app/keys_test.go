package app

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
)

// pressKey delivers a key the way Fyne's desktop driver does (see above): a shortcut with a modifier
// to the main menu, the focused widget or the canvas; a bare key to the focused widget, or to the
// canvas when nothing has the focus. Tests use it to press keys as a user would.
func pressKey(w fyne.Window, key fyne.KeyName, mod fyne.KeyModifier) {
	c := w.Canvas()
	ev := &fyne.KeyEvent{Name: key}
	if mod != 0 && mod != fyne.KeyModifierShift {
		sc := &desktop.CustomShortcut{KeyName: key, Modifier: mod}
		if m := w.MainMenu(); m != nil {
			for _, menu := range m.Items {
				if triggerMenuShortcut(sc, menu) {
					return
				}
			}
		}
		if f, ok := c.Focused().(fyne.Shortcutable); ok {
			f.TypedShortcut(sc)
			return
		}
		if sh, ok := c.(fyne.Shortcutable); ok {
			sh.TypedShortcut(sc)
		}
		return
	}
	if f := c.Focused(); f != nil {
		f.TypedKey(ev)
		return
	}
	if fn := c.OnTypedKey(); fn != nil {
		fn(ev)
	}
}

func triggerMenuShortcut(sc fyne.Shortcut, m *fyne.Menu) bool {
	for _, it := range m.Items {
		if it.Shortcut != nil && it.Shortcut.ShortcutName() == sc.ShortcutName() && it.Action != nil {
			it.Action()
			return true
		}
		if it.ChildMenu != nil && triggerMenuShortcut(sc, it.ChildMenu) {
			return true
		}
	}
	return false
}
