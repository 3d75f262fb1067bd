// Package widgets holds Layerscope's custom Fyne widgets, starting with DiagramView, the drawn block stack.
//
// The package never imports fyne.io/fyne/v2/app: its tests run on Fyne's headless test driver, without
// cgo or a window.
package widgets
