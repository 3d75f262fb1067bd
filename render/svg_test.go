package render_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"testing"

	"github.com/layerscope/layerscope/render"
)

func TestSVGWellFormed(t *testing.T) {
	for _, theme := range []render.Theme{render.Light, render.Dark} {
		models := append(loadAll(t, llama1B, gemma270), moeModel())
		models[0].Name = `Llama <3.2> & "1B"` // names reach the SVG escaped
		d := render.Layout(models, render.Options{Theme: theme})
		var buf bytes.Buffer
		if err := d.SVG(&buf); err != nil {
			t.Fatal(err)
		}
		dec := xml.NewDecoder(&buf)
		counts := map[string]int{}
		var root *xml.StartElement
		for {
			tok, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: SVG is not well-formed: %v", theme.Name, err)
			}
			if se, ok := tok.(xml.StartElement); ok {
				if root == nil {
					root = &se
				}
				counts[se.Name.Local]++
				if se.Name.Local == "rect" {
					for _, a := range se.Attr {
						if a.Name.Local == "class" {
							counts["rect."+a.Value]++
						}
					}
				}
			}
		}
		if root == nil || root.Name.Local != "svg" || root.Name.Space != "http://www.w3.org/2000/svg" {
			t.Fatalf("%s: root element %+v, want svg in the SVG namespace", theme.Name, root)
		}
		want := map[string]int{"text": 0, "rect.card": 0, "rect.bar": 0, "rect.band": 0, "rect.expert": 0, "title": 0}
		for _, it := range d.Items {
			switch {
			case it.Kind == render.KindText:
				want["text"]++
			default:
				want["rect."+it.Kind.String()]++
			}
			if it.Tip != "" {
				want["title"]++
			}
		}
		for k, n := range want {
			if counts[k] != n {
				t.Errorf("%s: %d <%s>, want %d", theme.Name, counts[k], k, n)
			}
		}
		if counts["rect.expert"] < 128 {
			t.Errorf("%s: %d expert boxes, want the MoE's 128", theme.Name, counts["rect.expert"])
		}
	}
}
