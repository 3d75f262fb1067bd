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

// viewState is how the stack was shown: kept when the presentation begins, given back when it ends.
type viewState struct {
	autoFit, fitAll bool
	zoom            float32
	offset          fyne.Position
	width           float64 // the layout's width
	side            bool    // the side panel shown
}

// setPresenting switches the presentation on or off. Presenting, the stack is the largest thing on the
// screen: the side panel hides (F9 brings it back), so do the menu bar (the toolbar's ☰ offers the menus)
// and the status line (its hints are for the lecturer's eyes), the diagram takes its tight layout and is
// zoomed to fill the space with the whole stack in view, and the chrome takes the large type. Leaving
// gives back the zoom, the scroll and the side panel as they were.
func (w *Window) setPresenting(on bool) {
	if on == w.theme.present {
		return
	}
	if on {
		w.beforePresent = viewState{autoFit: w.autoFit, fitAll: w.fitAll, zoom: w.view.Zoom(), offset: w.scroll.Offset,
			width: w.view.Options().Width, side: w.sideShown}
	}
	w.theme.present = on
	if w.whatIf != nil {
		w.whatIfBar.text.SetText(w.whatIfBarText())
	}

	if on {
		w.statusBar.Hide()
	} else {
		w.statusBar.Show()
	}
	if before := w.beforePresent; on && w.sideShown {
		w.setSide(false)
	} else if !on && before.side != w.sideShown {
		w.setSide(before.side)
	}
	w.applyTheme()
	w.win.Content().Refresh()
	if on {
		w.autoFit, w.fitAll = true, false
		if w.fitNow() {
			w.revealBars()
		}
		return
	}
	before := w.beforePresent
	w.autoFit, w.fitAll = before.autoFit, before.fitAll
	if w.autoFit {
		w.fitNow()
		return
	}
	w.layoutFor(before.width)
	w.view.SetZoom(before.zoom)
	w.zoomed()
	w.scroll.ScrollToOffset(before.offset)
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
