package modelio_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/gallery"
)

// galleryCase is one line of testdata/models.json: a model and the facts a user would check.
type galleryCase struct {
	Model  string   `json:"model"`
	Family string   `json:"family"`
	Class  string   `json:"class"`
	Base   string   `json:"base"`
	Params int64    `json:"params"`
	Layers int      `json:"layers"`
	Folds  []string `json:"folds"` // lines the tree must contain, folded as torch folds them
	// DiagramGroups is the number of fold cards in the diagram when it differs from the print's
	// (Gemma 3's sliding and full layers print alike but draw apart).
	DiagramGroups int `json:"diagram_groups"`
}

func loadCases(t *testing.T) []galleryCase {
	t.Helper()
	data, err := os.ReadFile("testdata/models.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []galleryCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

func TestGalleryModels(t *testing.T) {
	cases := loadCases(t)
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.Model] = true
		t.Run(c.Model, func(t *testing.T) {
			m, err := modelio.Open(c.Model)
			if err != nil {
				t.Fatal(err)
			}
			if m.Spec.Family != c.Family || m.Spec.Root.Class != c.Class || m.Spec.Base().Class != c.Base {
				t.Errorf("family/class/base = %s/%s/%s, want %s/%s/%s", m.Spec.Family, m.Spec.Root.Class, m.Spec.Base().Class, c.Family, c.Class, c.Base)
			}
			if got := m.Spec.Root.NumParams(); got != c.Params {
				t.Errorf("parameters = %d, want %d", got, c.Params)
			}
			if got := len(m.Arch.Blocks); got != c.Layers {
				t.Errorf("blocks = %d, want %d", got, c.Layers)
			}
			tree := arch.Repr(m.Spec.Root)
			for _, f := range c.Folds {
				if !strings.Contains(tree, f) {
					t.Errorf("tree lacks %q", f)
				}
			}
			wantGroups := c.DiagramGroups
			if wantGroups == 0 {
				wantGroups = 1
			}
			if got := len(m.Arch.FoldGroups()); got != wantGroups {
				t.Errorf("diagram fold groups = %d, want %d", got, wantGroups)
			}
			if len(m.Warnings) > 0 {
				t.Errorf("unexpected warnings: %q", m.Warnings)
			}
		})
	}
	for _, e := range gallery.All() {
		if !covered[e.Name] {
			t.Errorf("gallery model %s has no line in testdata/models.json", e.Name)
		}
	}
}
