package app

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"
)

// The window's keys must work whatever has the focus. Fyne 2.7's desktop driver (glfw's
// processKeyPressed) hands a key without a modifier to the focused widget, and to the canvas's
// OnTypedKey only when nothing has the focus; a shortcut needs a modifier and goes to the main menu,
// then to a focused widget that is Shortcutable, and to the canvas's shortcuts only after that. A tick
// box, a dropdown or an entry takes the focus on a tap, and from then on swallowed F5, the arrows and
// Esc. So the widgets that take the focus on a tap are the small types below, which offer a key to the
// window first and keep the rest; the tree panel's radio group, whose items are Fyne's own, gives the
// focus back when it changes.

// keyRole says how much of the keyboard a focused widget keeps for itself.
type keyRole uint8

const (
	keysTyping keyRole = iota // an entry: it keeps the arrows, +, − and Enter, the window gets F5, F9, F11, Esc
	keysChoice                // a tick box or dropdown: the window gets every key it binds, the widget Space
)

// windowKey runs the window's binding for a key pressed while a widget has the focus, and reports
// whether it was one.
func (w *Window) windowKey(ev *fyne.KeyEvent, role keyRole) bool {
	switch ev.Name {
	case fyne.KeyF5, fyne.KeyF9, fyne.KeyF11, fyne.KeyEscape:
		w.onKey(ev)
		return true
	case fyne.KeyUp, fyne.KeyDown, fyne.KeyLeft, fyne.KeyRight, fyne.KeyReturn, fyne.KeyEnter,
		fyne.KeyPlus, fyne.KeyEqual, fyne.KeyMinus:
		if role == keysTyping {
			return false
		}
		// The key now acts on the stack: the focus goes back to it, so the next key does too.
		w.win.Canvas().Unfocus()
		w.onKey(ev)
		return true
	}
	return false
}

// windowShortcut runs a shortcut of the window (Ctrl+0, Ctrl+=, …) that a focused entry would
// otherwise take, and reports whether it was one. The main menu triggers its own shortcuts first; this
// matters while presenting, when the menu bar is hidden.
func (w *Window) windowShortcut(sc fyne.Shortcut) bool {
	cs, ok := sc.(*desktop.CustomShortcut)
	if !ok {
		return false
	}
	if fn, ok := w.shortcuts[cs.ShortcutName()]; ok {
		fn()
		return true
	}
	return false
}

// keyEntry is an entry that lets the window's function keys and Esc through.
type keyEntry struct {
	widget.Entry
	w *Window
}

func newKeyEntry(w *Window, multiLine bool) *keyEntry {
	e := &keyEntry{w: w}
	e.MultiLine = multiLine
	if multiLine {
		e.Wrapping = fyne.TextWrapWord
	}
	e.ExtendBaseWidget(e)
	return e
}

// TypedKey is part of fyne.Focusable.
func (e *keyEntry) TypedKey(ev *fyne.KeyEvent) {
	if e.w == nil || !e.w.windowKey(ev, keysTyping) {
		e.Entry.TypedKey(ev)
	}
}

// TypedShortcut is part of fyne.Shortcutable.
func (e *keyEntry) TypedShortcut(sc fyne.Shortcut) {
	if e.w == nil || !e.w.windowShortcut(sc) {
		e.Entry.TypedShortcut(sc)
	}
}

// keyCheck is a tick box that lets every key of the window through.
type keyCheck struct {
	widget.Check
	w *Window
}

func newKeyCheck(w *Window, label string, changed func(bool)) *keyCheck {
	c := &keyCheck{w: w}
	c.Text, c.OnChanged = label, changed
	c.ExtendBaseWidget(c)
	return c
}

// TypedKey is part of fyne.Focusable.
func (c *keyCheck) TypedKey(ev *fyne.KeyEvent) {
	if c.w == nil || !c.w.windowKey(ev, keysChoice) {
		c.Check.TypedKey(ev)
	}
}

// keySelect is a dropdown that lets every key of the window through; Space still opens it.
type keySelect struct {
	widget.Select
	w *Window
}

func newKeySelect(w *Window, options []string, changed func(string)) *keySelect {
	s := &keySelect{w: w}
	s.Options, s.OnChanged = options, changed
	s.ExtendBaseWidget(s)
	return s
}

// TypedKey is part of fyne.Focusable.
func (s *keySelect) TypedKey(ev *fyne.KeyEvent) {
	if s.w == nil || !s.w.windowKey(ev, keysChoice) {
		s.Select.TypedKey(ev)
	}
}
