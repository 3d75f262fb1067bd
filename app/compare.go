package app

import (
	"fmt"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/facts"
	"github.com/layerscope/layerscope/modelio/gallery"
)

// comparePanel is the Compare tab: the models side by side, each removable, and a table of how they
// differ in the numbers a lecturer compares first.
type comparePanel struct {
	w       *Window
	content fyne.CanvasObject
	box     *fyne.Container
}

func newComparePanel(w *Window) *comparePanel {
	p := &comparePanel{w: w, box: container.NewVBox()}
	p.content = container.NewVScroll(p.box)
	return p
}

// diffRow is one line of the summary: a label and one value per model.
type diffRow struct {
	label  string
	values []string
}

// summary computes the rows of the difference table: layers, hidden size, heads and their GQA ratio,
// head dim, the MLP kind and its expansion ratio, vocabulary, context length, positional encoding, norm,
// tied embeddings, and parameters per block and in all. Values are short, so five columns fit the panel.
func summary(models []*modelio.Model) []diffRow {
	rows := []diffRow{{label: "layers"}, {label: "hidden size"}, {label: "heads q:kv"}, {label: "GQA ratio"},
		{label: "mlp"}, {label: "expansion"}, {label: "parameters"}, {label: "head dim"}, {label: "vocabulary"},
		{label: "context"}, {label: "positions"}, {label: "norm"}, {label: "tied embed."}, {label: "per block"}}
	for _, m := range models {
		f := m.Facts()
		char := map[string]string{}
		for _, c := range f.Characteristics {
			char[c.Key] = c.Value
		}
		layers := char[facts.KeyLayers]
		if layers == "" {
			layers = strconv.Itoa(len(m.Arch.Blocks))
		}
		h := m.Spec.Hyper
		heads, ratio := "—", "—"
		if h.Heads > 0 && h.KVHeads > 0 {
			heads = fmt.Sprintf("%d:%d", h.Heads, h.KVHeads)
			ratio = fmt.Sprintf("%s:1", strconv.FormatFloat(float64(h.Heads)/float64(h.KVHeads), 'f', -1, 64))
		}
		// The facts' MLP value is "GLU 4.00×" or "classic 4.00×": the kind, then the expansion.
		kind, expansion, _ := strings.Cut(char[facts.KeyMLP], " ")
		add := func(i int, v string) { rows[i].values = append(rows[i].values, orDash(v)) }
		add(0, layers)
		add(1, char[facts.KeyHiddenSize])
		add(2, heads)
		add(3, ratio)
		add(4, kind)
		add(5, expansion)
		add(6, facts.ShortCount(f.Parameters.Total))
		add(7, char[facts.KeyHeadDim])
		add(8, shortCount(int64(h.Vocab)))
		add(9, shortCount(int64(h.MaxPositions)))
		add(10, char[facts.KeyPositional])
		add(11, char[facts.KeyNorm])
		add(12, char[facts.KeyTiedEmbeddings])
		var block int64 // the largest block: MoE and dense blocks differ
		for _, b := range m.Arch.Blocks {
			block = max(block, b.Params)
		}
		add(13, shortCount(block))
	}
	return rows
}

// shortCount is facts.ShortCount, or "" for an unknown 0.
func shortCount(n int64) string {
	if n <= 0 {
		return ""
	}
	return facts.ShortCount(n)
}

// odd reports which values of a row stand out: all where they all differ, else those that differ
// from the value most models share (GLU, GLU, classic, GLU: only classic).
func (r diffRow) odd() []bool {
	count := map[string]int{}
	for _, v := range r.values {
		count[v]++
	}
	// The common value is the one most share, and only where no other is as common (2 + 2 + 1: none).
	common, most, ties := "", 1, 0
	for v, n := range count {
		switch {
		case n > most:
			common, most, ties = v, n, 0
		case n == most:
			ties++
		}
	}
	out := make([]bool, len(r.values))
	for i, v := range r.values {
		out[i] = common == "" || ties > 0 || v != common
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// cell is one cell of the difference table, cut short with an ellipsis where the column is narrow.
func cell(s string, bold, muted bool) *widget.RichText {
	style := widget.RichTextStyle{TextStyle: fyne.TextStyle{Bold: bold}}
	if muted {
		style.ColorName = colorMuted
	}
	rt := widget.NewRichText(&widget.TextSegment{Text: s, Style: style})
	rt.Truncation = fyne.TextTruncateEllipsis
	return rt
}

// same reports whether every value of a row is equal.
func (r diffRow) same() bool {
	for _, v := range r.values {
		if v != r.values[0] {
			return false
		}
	}
	return true
}

// show lists the models and their differences.
func (p *comparePanel) show(models []*modelio.Model) {
	p.box.RemoveAll()
	var add *keyButton
	add = newKeyButton(p.w, "Add to comparison", theme.ContentAddIcon(), func() { p.w.popUpAddMenu(add) })
	if len(models) >= maxCompare {
		add.Disable()
	}
	if len(models) < 2 {
		p.box.Add(wrapped("Compare two to five models side by side, on one width scale: drop several model folders on " +
			"the window at once, or add models one by one."))
		p.box.Add(container.NewHBox(add))
		p.box.Refresh()
		return
	}

	p.box.Add(section("Differences"))
	// The labels in their own column, the values in equal columns beside them: a grid of equal cells
	// would make every column as wide as the widest label and push the panel wide with five models.
	// Headed by the models' names (cut short in narrow columns; the list below has them whole).
	labels := container.NewVBox(cell("", false, false))
	values := container.NewGridWithColumns(len(models))
	for _, m := range models {
		values.Add(cell(m.Name, true, false))
	}
	for _, r := range summary(models) {
		l := cell(r.label, false, true)
		l.Truncation = fyne.TextTruncateOff // the label column sizes itself to its labels
		labels.Add(l)
		for i, odd := range r.odd() {
			values.Add(cell(r.values[i], odd, !odd)) // alike: recede; different: stand out
		}
	}
	p.box.Add(container.NewBorder(nil, nil, labels, nil, values))
	p.box.Add(muted("Bold: a value that differs from the others. The bars share one width scale across the columns."))
	p.box.Add(section("Models"))
	for i, m := range models {
		i := i
		rm := newKeyButton(p.w, "", theme.CancelIcon(), func() { p.w.removeModel(i) })
		rm.Importance = widget.LowImportance
		name := widget.NewLabel(strconv.Itoa(i+1) + "   " + m.Name)
		name.Truncation = fyne.TextTruncateEllipsis
		if e, ok := gallery.Find(m.Name); ok && m.Path == "" {
			name.SetText(strconv.Itoa(i+1) + "   " + e.ID)
		}
		p.box.Add(container.NewBorder(nil, nil, nil, rm, name))
	}
	p.box.Add(container.NewHBox(add))

	p.box.Refresh()
}
