package render

import (
	"bufio"
	"io"
)

// Encode writes d in format, "svg" or "png" (at scale pixels per model unit), through a buffer: the one
// encoding behind the window's exports and `layerscope diagram`.
func (d *Diagram) Encode(w io.Writer, format string, scale float64) error {
	bw := bufio.NewWriter(w)
	var err error
	if format == "svg" {
		err = d.SVG(bw)
	} else {
		err = d.PNG(bw, scale)
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}
