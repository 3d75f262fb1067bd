package app

import (
	"fyne.io/fyne/v2"
	// Fyne 2.7 says nothing of the screen a window opens on; GLFW, which its desktop driver runs on,
	// does. Asked on the main thread once the driver has started, as GLFW requires.
	"github.com/go-gl/glfw/v3.3/glfw"
)

// The first window: 1280×720 (a common projector) where the screen has room, and never more than the
// screen's work area less a margin for the window manager's frame. firstSize, which fits a 1024×768
// screen, is the size until the screen is known.
var (
	preferredSize = fyne.NewSize(1280, 720)
	firstSize     = fyne.NewSize(980, 700)
)

// Room left around the window on a small screen: the frame and title bar of a window manager.
const (
	frameWidth  = 32
	frameHeight = 64
)

// fitToScreen gives the window its first size, then, once the driver runs, the preferred size
// shrunk to the primary monitor's work area.
func fitToScreen(a fyne.App, win fyne.Window) {
	win.Resize(firstSize)
	a.Lifecycle().SetOnStarted(func() {
		// GLFW panics where it has no display or monitor; the first size then stays.
		defer func() { _ = recover() }()
		mon := glfw.GetPrimaryMonitor()
		if mon == nil {
			return
		}
		_, _, pw, ph := mon.GetWorkarea()
		if pw <= 0 || ph <= 0 {
			return
		}
		scale := win.Canvas().Scale()
		if scale <= 0 {
			scale = 1
		}
		win.Resize(screenFit(preferredSize, fyne.NewSize(float32(pw)/scale, float32(ph)/scale)))
	})
}

// screenFit is size shrunk to fit a screen's work area (in Fyne units) with room for a frame.
func screenFit(size, screen fyne.Size) fyne.Size {
	return fyne.NewSize(min(size.Width, screen.Width-frameWidth), min(size.Height, screen.Height-frameHeight))
}
