//go:build nogui

package main

import "errors"

// openWindow of a headless build (go build -tags nogui): for servers and GPU machines without X11 or
// OpenGL libraries, where only the subcommands are wanted.
func openWindow(string) error {
	return errors.New("this build has no window (built with -tags nogui): use a subcommand, see layerscope help")
}
