package render

import (
	"bufio"
	"encoding/xml"
	"io"
	"strconv"
	"strings"
)

// svgFonts is the font stack of exported text: the Go fonts the layout measured with first, then common
// sans-serif fonts that are no wider, so labels stay inside their bars.
const svgFonts = `Go, 'Go Regular', 'Noto Sans', 'DejaVu Sans', Arial, Helvetica, sans-serif`

// SVG writes the diagram as a standalone SVG document in model units. Each item that shows part of a
// model carries its tip as a <title>, which viewers show on hover.
func (d *Diagram) SVG(w io.Writer) error {
	b := bufio.NewWriter(w)
	wd, ht := num(d.Width), num(d.Height)
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" width="` + wd + `" height="` + ht +
		`" viewBox="0 0 ` + wd + " " + ht + `" font-family="` + svgFonts + `" stroke="none">` + "\n")
	b.WriteString(`<rect class="background" width="100%" height="100%" fill="` + attr(d.Background) + `"/>` + "\n")
	for i := range d.Items {
		svgItem(b, &d.Items[i])
	}
	b.WriteString("</svg>\n")
	return b.Flush()
}

func svgItem(b *bufio.Writer, it *Item) {
	if it.Kind == KindText {
		if it.Text == "" {
			return
		}
		b.WriteString(`<text class="text" x="` + num(it.X) + `" y="` + num(it.Baseline()) + `" font-size="` + num(it.Size) +
			`" fill="` + attr(it.Fill) + `" stroke="none"`)
		if it.Bold {
			b.WriteString(` font-weight="bold"`)
		}
		b.WriteString(">")
		xml.EscapeText(b, []byte(it.Text))
		b.WriteString("</text>\n")
		return
	}
	b.WriteString(`<rect class="` + it.Kind.String() + `" x="` + num(it.X) + `" y="` + num(it.Y) +
		`" width="` + num(it.W) + `" height="` + num(it.H) + `"`)
	if it.Radius > 0 {
		r := num(it.Radius)
		b.WriteString(` rx="` + r + `" ry="` + r + `"`)
	}
	fill := it.Fill
	if fill == "" {
		fill = "none"
	}
	b.WriteString(` fill="` + attr(fill) + `"`)
	if it.Stroke != "" {
		sw := it.StrokeWidth
		if sw <= 0 {
			sw = 1
		}
		b.WriteString(` stroke="` + attr(it.Stroke) + `" stroke-width="` + num(sw) + `"`)
		if it.Dashed {
			b.WriteString(` stroke-dasharray="6 4"`)
		}
	} else {
		b.WriteString(` stroke="none"`) // the default, but some renderers (ImageMagick's) outline without it
	}
	if it.Tip == "" {
		b.WriteString("/>\n")
		return
	}
	b.WriteString("><title>")
	xml.EscapeText(b, []byte(it.Tip))
	b.WriteString("</title></rect>\n")
}

// num writes a coordinate with at most two decimals: a hundredth of a unit is below any screen's pixel.
func num(f float64) string {
	s := strconv.FormatFloat(f, 'f', 2, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

func attr(s string) string {
	var sb strings.Builder
	xml.EscapeText(&sb, []byte(s))
	return sb.String()
}
