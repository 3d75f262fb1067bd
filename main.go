// Command layerscope shows the architecture of transformer language models: with no argument or a model
// path it opens the window; with a subcommand (tree, facts, gallery, ...) it runs headless.
package main

import (
	"os"

	"github.com/layerscope/layerscope/cli"
	_ "github.com/layerscope/layerscope/internal/cleanlocale" // before Fyne reads the locale
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr, openWindow))
}
