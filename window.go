//go:build !nogui

package main

import "github.com/layerscope/layerscope/app"

var openWindow = app.Run
