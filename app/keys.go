package app

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// The window's keys must work whatever has the focus. Fyne 2.7's desktop driver (glfw's
// processKeyPressed) hands a key without a modifier to the focused widget, and to the canvas's
// OnTypedKey only when nothing has the focus; a shortcut needs a modifier and goes to the main menu,
// then to a focused widget that is Shortcutable, and to the canvas's shortcuts only after that. A tick
// box, a dropdown or an entry takes the focus on a tap, and from then on swallowed F5, the arrows and
// Esc. Tab reaches every focusable widget, buttons too (Space presses one), and a selectable Label's
// text, whose focus is an internal object no wrapper can reach. So every widget of the window that can
// take the focus is one of the small types below, which offer a key to the window first and keep the
// rest: entries, tick boxes, dropdowns, buttons (also the folds' headers and the tree's switch), and
// read-only text in place of the selectable labels. TestKeysWorkAtEveryTabStop walks the focus chain.

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

// keyButton is a button that lets every key of the window through; Space still presses it.
type keyButton struct {
	widget.Button
	w *Window
}

func newKeyButton(w *Window, label string, icon fyne.Resource, tapped func()) *keyButton {
	b := &keyButton{w: w}
	b.Text, b.Icon, b.OnTapped = label, icon, tapped
	b.ExtendBaseWidget(b)
	return b
}

// TypedKey is part of fyne.Focusable.
func (b *keyButton) TypedKey(ev *fyne.KeyEvent) {
	if b.w == nil || !b.w.windowKey(ev, keysChoice) {
		b.Button.TypedKey(ev)
	}
}

// readOnlyText is text to read, select and copy, never to edit: an Entry that refuses edits, in full
// contrast (a disabled Entry greys its text, which a projector washes out), and that lets every key
// of the window through, the arrows too, since there is nothing to type. It takes the place of a
// selectable Label, whose focus is an object of Fyne's own that keeps every key. The text sizes it:
// the scroll around it, if any, scrolls.
type readOnlyText struct {
	widget.Entry
	w *Window
}

func newReadOnlyText(w *Window, wrap fyne.TextWrap) *readOnlyText {
	t := &readOnlyText{w: w}
	t.MultiLine = true
	t.Wrapping = wrap
	t.Scroll = fyne.ScrollNone
	t.TextStyle = fyne.TextStyle{Monospace: true}
	t.ExtendBaseWidget(t)
	return t
}

// TypedRune is part of fyne.Focusable: nothing is typed into read-only text.
func (t *readOnlyText) TypedRune(rune) {}

// TypedKey is part of fyne.Focusable: the window's keys, and the ones that move without editing.
func (t *readOnlyText) TypedKey(ev *fyne.KeyEvent) {
	if t.w != nil && t.w.windowKey(ev, keysChoice) {
		return
	}
	switch ev.Name {
	case fyne.KeyHome, fyne.KeyEnd, fyne.KeyPageUp, fyne.KeyPageDown:
		t.Entry.TypedKey(ev)
	}
}

// TypedShortcut is part of fyne.Shortcutable: copy and select all, never cut, paste or undo (the
// context menu comes here too).
func (t *readOnlyText) TypedShortcut(sc fyne.Shortcut) {
	if t.w != nil && t.w.windowShortcut(sc) {
		return
	}
	switch sc.(type) {
	case *fyne.ShortcutCopy, *fyne.ShortcutSelectAll:
		t.Entry.TypedShortcut(sc)
	}
}

// AcceptsTab is part of fyne.Tabbable: Tab moves on, as from any other widget.
func (t *readOnlyText) AcceptsTab() bool { return false }

// AcceptsTab is part of fyne.Tabbable: Tab leaves a multi-line entry too (pasted prose needs no tab
// characters), so the focus chain goes on past it.
func (e *keyEntry) AcceptsTab() bool { return false }

// switchButtons is a choice of two or three shown as buttons side by side, the chosen one
// highlighted: the tree panel's "Causal LM | Base model". Fyne's RadioGroup would do, but its items
// take the focus and keep every key.
type switchButtons struct {
	content   *fyne.Container
	buttons   []*keyButton
	Selected  string
	OnChanged func(string)
}

func newSwitchButtons(w *Window, options []string, changed func(string)) *switchButtons {
	s := &switchButtons{content: container.NewHBox(), OnChanged: changed}
	for _, o := range options {
		o := o
		b := newKeyButton(w, o, nil, func() { s.SetSelected(o) })
		s.buttons = append(s.buttons, b)
		s.content.Add(b)
	}
	return s
}

// SetSelected chooses an option and calls OnChanged when it changed.
func (s *switchButtons) SetSelected(o string) {
	if o == s.Selected {
		return
	}
	s.Selected = o
	for _, b := range s.buttons {
		imp := widget.LowImportance
		if b.Text == o {
			imp = widget.HighImportance
		}
		if b.Importance != imp {
			b.Importance = imp
			b.Refresh()
		}
	}
	if s.OnChanged != nil {
		s.OnChanged(o)
	}
}

// Enable and Disable act on every button.
func (s *switchButtons) Enable() {
	for _, b := range s.buttons {
		b.Enable()
	}
}

func (s *switchButtons) Disable() {
	for _, b := range s.buttons {
		b.Disable()
	}
}

// fold is a section whose content shows or hides under a header button: the Importance tab's
// settings. Fyne's Accordion would do, but its header is a Button of its own that keeps every key.
type fold struct {
	content *fyne.Container
	header  *keyButton
	body    fyne.CanvasObject
	Title   string
	// onToggle is called after the body showed or hid, to lay the panel out again.
	onToggle func()
}

func newFold(w *Window, body fyne.CanvasObject, onToggle func()) *fold {
	f := &fold{body: body, onToggle: onToggle}
	f.header = newKeyButton(w, "", theme.MenuExpandIcon(), func() {
		if f.body.Visible() {
			f.Close()
		} else {
			f.Open()
		}
	})
	f.header.Alignment = widget.ButtonAlignLeading
	f.header.Importance = widget.LowImportance
	body.Hide()
	f.content = container.NewVBox(f.header, body)
	return f
}

// Open shows the body.
func (f *fold) Open() {
	f.body.Show()
	f.header.SetIcon(theme.MenuDropDownIcon())
	f.changed()
}

// Close hides the body.
func (f *fold) Close() {
	f.body.Hide()
	f.header.SetIcon(theme.MenuExpandIcon())
	f.changed()
}

// Refresh shows the title.
func (f *fold) Refresh() { f.header.SetText(f.Title) }

func (f *fold) changed() {
	f.content.Refresh()
	if f.onToggle != nil {
		f.onToggle()
	}
}

// keySlider is a slider that keeps its arrows (they move it) and lets the window's other keys through.
type keySlider struct {
	widget.Slider
	w *Window
}

func newKeySlider(w *Window, lo, hi float64) *keySlider {
	s := &keySlider{w: w}
	s.Min, s.Max, s.Step = lo, hi, 1
	s.ExtendBaseWidget(s)
	return s
}

// TypedKey is part of fyne.Focusable.
func (s *keySlider) TypedKey(ev *fyne.KeyEvent) {
	if s.w == nil || !s.w.windowKey(ev, keysTyping) {
		s.Slider.TypedKey(ev)
	}
}
