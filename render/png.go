package render

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// MaxPNGPixels bounds a PNG export: 268 million pixels are a gigabyte of RGBA in memory, and far more
// than any slide (a 4K screen at 2× is 33 million).
const MaxPNGPixels = 1 << 28

// PNG writes the diagram as a PNG at scale pixels per model unit (2 for a sharp export on a 2× screen or
// a slide).
func (d *Diagram) PNG(w io.Writer, scale float64) error {
	if scale <= 0 {
		scale = 1
	}
	// A thousand unfolded blocks at a large scale would ask for gigabytes of pixels: refuse first.
	if wd, ht := math.Ceil(d.Width*scale), math.Ceil(d.Height*scale); wd*ht > MaxPNGPixels {
		return fmt.Errorf("the picture would be %.0f×%.0f pixels, over the %d million a PNG export may take: use a smaller --scale, fold the blocks, or export SVG",
			wd, ht, MaxPNGPixels/1_000_000)
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	return enc.Encode(w, d.Image(scale))
}

// Image rasterises the diagram at scale pixels per model unit: antialiased shapes and text in the Go
// fonts, the ones the layout measured its labels with.
func (d *Diagram) Image(scale float64) *image.RGBA {
	if scale <= 0 {
		scale = 1
	}
	img := image.NewRGBA(image.Rect(0, 0, int(math.Ceil(d.Width*scale)), int(math.Ceil(d.Height*scale))))
	d.Draw(img, scale)
	return img
}

// Draw paints the diagram onto dst at scale pixels per model unit, background first.
func (d *Diagram) Draw(dst *image.RGBA, scale float64) {
	draw.Draw(dst, dst.Bounds(), image.NewUniform(rgba(d.Background)), image.Point{}, draw.Src)
	for i := range d.Items {
		drawItem(dst, &d.Items[i], scale)
	}
}

func drawItem(dst *image.RGBA, it *Item, s float64) {
	if it.Kind == KindText {
		if it.Text != "" && it.Fill != "" {
			drawText(dst, it.Text, it.Size*s, it.Bold, it.X*s, it.Baseline()*s, rgba(it.Fill))
		}
		return
	}
	x, y, w, h, r := it.X*s, it.Y*s, it.W*s, it.H*s, it.Radius*s
	if it.Fill != "" {
		fillRRect(dst, x, y, w, h, r, 0, rgba(it.Fill))
	}
	if it.Stroke == "" {
		return
	}
	sw := math.Max(1, it.StrokeWidth*s)
	c := rgba(it.Stroke)
	if !it.Dashed {
		fillRRect(dst, x, y, w, h, r, sw, c)
		return
	}
	// Dashes along the straight edges; the corners stay open, which reads as one more gap.
	dash, gap := 6*s, 4*s
	edge := func(x0, y0, length float64, horizontal bool) {
		for t := 0.0; t < length; t += dash + gap {
			l := math.Min(dash, length-t)
			if horizontal {
				fillRRect(dst, x0+t, y0-sw/2, l, sw, 0, 0, c)
			} else {
				fillRRect(dst, x0-sw/2, y0+t, sw, l, 0, 0, c)
			}
		}
	}
	edge(x+r, y, w-2*r, true)
	edge(x+r, y+h, w-2*r, true)
	edge(x, y+r, h-2*r, false)
	edge(x+w, y+r, h-2*r, false)
}

// fillRRect paints a rounded rectangle (in pixels) in an opaque colour, antialiased: each pixel's coverage
// is half a pixel minus its distance to the shape, measured from the pixel's centre. With ring > 0 it
// paints the outline instead, ring wide and centred on the edge. Pixels well inside a filled shape take
// the colour directly, so a large card costs about what a plain fill does.
func fillRRect(dst *image.RGBA, x, y, w, h, r, ring float64, c color.RGBA) {
	if w <= 0 || h <= 0 {
		return
	}
	r = math.Max(0, math.Min(r, math.Min(w, h)/2))
	pad := ring/2 + 1
	b := image.Rect(int(math.Floor(x-pad)), int(math.Floor(y-pad)), int(math.Ceil(x+w+pad)), int(math.Ceil(y+h+pad))).Intersect(dst.Bounds())
	if b.Empty() {
		return
	}
	cx, cy, hx, hy := x+w/2, y+h/2, w/2-r, h/2-r
	// dist is the signed distance from a point to the rounded rectangle's edge (negative inside).
	dist := func(px, py float64) float64 {
		qx, qy := math.Abs(px-cx)-hx, math.Abs(py-cy)-hy
		if qx > 0 && qy > 0 { // beside a corner
			return math.Sqrt(qx*qx+qy*qy) - r
		}
		return max(qx, qy) - r
	}
	// The span of a row that is certainly covered (a fill) or certainly clear (inside a ring): pixels at
	// least one pixel inside the straight edges, clear of the corner circles.
	in := 1.0
	if ring > 0 {
		in = ring/2 + 1
	}
	for py := b.Min.Y; py < b.Max.Y; py++ {
		fy := float64(py) + 0.5
		lo, hi := 0, 0 // the skipped span [lo, hi)
		if fy > y+in && fy < y+h-in {
			inset := in
			if dy := math.Max(y+r-fy, fy-(y+h-r)); dy > 0 {
				inset += r - math.Sqrt(math.Max(0, r*r-dy*dy))
			}
			lo, hi = int(math.Ceil(x+inset)), int(math.Floor(x+w-inset))
			lo, hi = max(lo, b.Min.X), min(hi, b.Max.X)
		}
		row := dst.Pix[dst.PixOffset(0, py):]
		for px := b.Min.X; px < b.Max.X; px++ {
			if px == lo && hi > lo {
				if ring == 0 {
					for q := lo; q < hi; q++ {
						row[4*q], row[4*q+1], row[4*q+2], row[4*q+3] = c.R, c.G, c.B, 255
					}
				}
				px = hi - 1
				continue
			}
			d := dist(float64(px)+0.5, fy)
			if ring > 0 {
				d = math.Abs(d) - ring/2
			}
			a := 0.5 - d
			if a <= 0 {
				continue
			}
			blend(row[4*px:4*px+4], c, math.Min(a, 1))
		}
	}
}

// blend paints an opaque colour over a pixel with coverage a.
func blend(p []byte, c color.RGBA, a float64) {
	if a >= 1 {
		p[0], p[1], p[2], p[3] = c.R, c.G, c.B, 255
		return
	}
	mix := func(d, s uint8) uint8 { return uint8(float64(d) + (float64(s)-float64(d))*a + 0.5) }
	p[0], p[1], p[2] = mix(p[0], c.R), mix(p[1], c.G), mix(p[2], c.B)
	p[3] = mix(p[3], 255)
}

// rgba is ParseColor for drawing: the colours are opaque, so straight and premultiplied alpha agree.
func rgba(s string) color.RGBA { return color.RGBA(ParseColor(s)) }

// ParseColor reads the diagram's "#rrggbb" colours; anything else is opaque black. The window's
// widgets use it too, so they and the exporters read a colour alike.
func ParseColor(s string) color.NRGBA {
	c := color.NRGBA{A: 255}
	if len(s) != 7 || s[0] != '#' {
		return c
	}
	hex := func(b byte) uint8 {
		switch {
		case b >= '0' && b <= '9':
			return b - '0'
		case b >= 'a' && b <= 'f':
			return b - 'a' + 10
		case b >= 'A' && b <= 'F':
			return b - 'A' + 10
		}
		return 0
	}
	c.R = hex(s[1])<<4 | hex(s[2])
	c.G = hex(s[3])<<4 | hex(s[4])
	c.B = hex(s[5])<<4 | hex(s[6])
	return c
}

// Text: the Go fonts, parsed once. A face is not safe for concurrent use and rasterises every glyph anew,
// so faces and glyph masks are cached behind one lock.
var (
	fontOnce            sync.Once
	fontRegular, fontBd *opentype.Font
	fontMu              sync.Mutex
	faces               = map[faceKey]*faceCache{}
)

type faceKey struct {
	size64 int32 // size in 1/64 units
	bold   bool
}

type faceCache struct {
	face   font.Face
	glyphs map[rune]*glyph
}

type glyph struct {
	rect image.Rectangle // relative to the dot
	mask *image.Alpha
	adv  fixed.Int26_6
	ok   bool
}

func loadFonts() {
	var err error
	if fontRegular, err = opentype.Parse(goregular.TTF); err != nil {
		panic("render: embedded Go Regular font unreadable: " + err.Error())
	}
	if fontBd, err = opentype.Parse(gobold.TTF); err != nil {
		panic("render: embedded Go Bold font unreadable: " + err.Error())
	}
}

// faceFor returns the cached face of a size; the caller holds fontMu.
func faceFor(size float64, bold bool) *faceCache {
	fontOnce.Do(loadFonts)
	k := faceKey{int32(math.Round(size * 64)), bold}
	if fc, ok := faces[k]; ok {
		return fc
	}
	f := fontRegular
	if bold {
		f = fontBd
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: float64(k.size64) / 64, DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		panic("render: font face: " + err.Error()) // only for a size ≤ 0, which the layout never asks for
	}
	fc := &faceCache{face: face, glyphs: map[rune]*glyph{}}
	faces[k] = fc
	return fc
}

func (fc *faceCache) glyph(r rune) *glyph {
	if g, ok := fc.glyphs[r]; ok {
		return g
	}
	g := &glyph{}
	dr, mask, mp, adv, ok := fc.face.Glyph(fixed.Point26_6{}, r)
	g.adv, g.ok = adv, ok
	if ok && !dr.Empty() {
		// The face reuses its mask buffer: keep a copy.
		a := image.NewAlpha(image.Rect(0, 0, dr.Dx(), dr.Dy()))
		draw.Draw(a, a.Bounds(), mask, mp, draw.Src)
		g.rect, g.mask = dr, a
	}
	fc.glyphs[r] = g
	return g
}

// textWidth measures a line of text at a size in the layout's units, as drawText lays it out.
func textWidth(s string, size float64, bold bool) float64 {
	fontMu.Lock()
	defer fontMu.Unlock()
	fc := faceFor(size, bold)
	var w fixed.Int26_6
	prev := rune(-1)
	for _, r := range s {
		if prev >= 0 {
			w += fc.face.Kern(prev, r)
		}
		w += fc.glyph(r).adv
		prev = r
	}
	return float64(w) / 64
}

// drawText draws a line of text with its left end at x and its baseline at y, in pixels.
func drawText(dst *image.RGBA, s string, size float64, bold bool, x, y float64, c color.RGBA) {
	fontMu.Lock()
	defer fontMu.Unlock()
	fc := faceFor(size, bold)
	src := image.NewUniform(c)
	dot := fixed.Int26_6(math.Round(x * 64))
	base := int(math.Round(y))
	prev := rune(-1)
	for _, r := range s {
		if prev >= 0 {
			dot += fc.face.Kern(prev, r)
		}
		g := fc.glyph(r)
		if g.mask != nil {
			rect := g.rect.Add(image.Pt(dot.Round(), base))
			draw.DrawMask(dst, rect, src, image.Point{}, g.mask, image.Point{}, draw.Over)
		}
		dot += g.adv
		prev = r
	}
}
