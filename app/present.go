package app

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"

	"github.com/layerscope/layerscope/render"
)

// presentScale is how much larger the presentation theme draws text: ×1.6 turns Fyne's 14-point body text
// into 22 points, about what the back row of a lecture hall reads on a 1280×720 projector.
const presentScale = 1.6

// appTheme is Fyne's default theme with two switches: a fixed light or dark variant (the menu's choice,
// not the desktop's, so the diagram and the panels always agree) and the presentation's large type.
type appTheme struct {
	dark    bool
	present bool
}

var _ fyne.Theme = (*appTheme)(nil)

func (t *appTheme) variant() fyne.ThemeVariant {
	if t.dark {
		return theme.VariantDark
	}
	return theme.VariantLight
}

// accent is the Okabe–Ito blue of the diagram's attention bars, so the selection and the buttons speak
// the diagram's colour language.
var accent = color.NRGBA{R: 0x00, G: 0x72, B: 0xb2, A: 0xff}

// colorMuted names the colour of secondary text (labels of values, explanations): the diagram's own
// muted grey, darker than Fyne's disabled grey, which a projector washes out.
const colorMuted fyne.ThemeColorName = "layerscope-muted"

// Color follows the chosen variant whatever the desktop asks for.
func (t *appTheme) Color(name fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	switch name {
	case colorMuted:
		if t.dark {
			return render.ParseColor(render.Dark.Muted)
		}
		return render.ParseColor(render.Light.Muted)
	case theme.ColorNamePrimary, theme.ColorNameHyperlink, theme.ColorNameFocus:
		if name == theme.ColorNameFocus {
			return color.NRGBA{R: accent.R, G: accent.G, B: accent.B, A: 0x7f}
		}
		if t.dark {
			return color.NRGBA{R: 0x56, G: 0xb4, B: 0xe9, A: 0xff} // Okabe–Ito sky blue: readable on dark
		}
		return accent
	case theme.ColorNameBackground:
		// The panels sit on the diagram's own background colour, so the stack does not float in a box.
		if t.dark {
			return render.ParseColor(render.Dark.Background)
		}
		return render.ParseColor(render.Light.Background)
	}
	return theme.DefaultTheme().Color(name, t.variant())
}

// Font is the default font.
func (t *appTheme) Font(s fyne.TextStyle) fyne.Resource { return theme.DefaultTheme().Font(s) }

// Icon is the default icon.
func (t *appTheme) Icon(n fyne.ThemeIconName) fyne.Resource { return theme.DefaultTheme().Icon(n) }

// Size scales the text sizes by presentScale while presenting; icons and padding grow less, so the
// larger text keeps its proportions without the chrome eating the screen.
func (t *appTheme) Size(name fyne.ThemeSizeName) float32 {
	s := theme.DefaultTheme().Size(name)
	if !t.present {
		return s
	}
	switch name {
	case theme.SizeNameText, theme.SizeNameHeadingText, theme.SizeNameSubHeadingText, theme.SizeNameCaptionText:
		return s * presentScale
	case theme.SizeNameInlineIcon, theme.SizeNamePadding, theme.SizeNameInnerPadding, theme.SizeNameLineSpacing:
		return s * (1 + (presentScale-1)/2)
	}
	return s
}

// diagramTheme is the render theme that matches the window's variant.
func (t *appTheme) diagramTheme() render.Theme {
	if t.dark {
		return render.Dark
	}
	return render.Light
}

// setPresenting switches the large-type theme on or off.
// While presenting, the status line goes too: its hints are for the lecturer's eyes, and its row is
// better spent on the stack.
func (w *Window) setPresenting(on bool) {
	w.theme.present = on
	if on {
		w.statusBar.Hide()
	} else {
		w.statusBar.Show()
	}
	w.applyTheme()
	w.win.Content().Refresh()
	if w.autoFit {
		w.fitNow()
	}
}

// setDark switches between the light and the dark variant, panels and diagram together.
func (w *Window) setDark(on bool) {
	w.theme.dark = on
	w.app.Preferences().SetBool(prefDark, on)
	w.applyTheme()
}

// applyTheme hands a fresh copy of the theme to Fyne (it refreshes every widget only when the theme
// value changes) and redraws the diagram in the matching colours.
func (w *Window) applyTheme() {
	t := *w.theme
	w.theme = &t
	w.app.Settings().SetTheme(w.theme)
	opts := w.view.Options()
	opts.Theme = w.theme.diagramTheme()
	w.view.SetOptions(opts)
	w.refreshMenus()
	w.refreshChrome()
}

// toggleFullScreen enters or leaves full screen (F11).
func (w *Window) toggleFullScreen() { w.win.SetFullScreen(!w.win.FullScreen()) }

// leave is Esc: out of full screen and out of the presentation theme.
func (w *Window) leave() {
	if w.win.FullScreen() {
		w.win.SetFullScreen(false)
	}
	if w.theme.present {
		w.setPresenting(false)
	}
}
