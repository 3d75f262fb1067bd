package app

import (
	"fmt"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/facts"
	"github.com/layerscope/layerscope/render"
)

// selectionPanel shows the selected part of the stack: its path, class and widths, the blocks it stands
// for, its parameters and dtype, and its tensors with their shapes.
type selectionPanel struct {
	content fyne.CanvasObject
	box     *fyne.Container
	title   *widget.Label
	lines   *widget.Label
	tensors *readOnlyText
	// numbers are the block numbers the stack shows for the model described (a what-if keeps the full
	// model's), nil for 0, 1, ….
	numbers []int
}

func newSelectionPanel(w *Window) *selectionPanel {
	p := &selectionPanel{
		title: widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		lines: widget.NewLabel(""),
		// Read-only text rather than a selectable Label: Tab or a click gives it the focus, and it
		// hands the window's keys on (see keys.go).
		tensors: newReadOnlyText(w, fyne.TextWrapBreak),
	}
	p.title.Wrapping = fyne.TextWrapBreak
	p.lines.Wrapping = fyne.TextWrapWord
	// Tight rows: the panel shares the side with the tabs, and a part's description should fit unscrolled.
	p.box = container.New(layout.NewCustomPaddedVBoxLayout(-theme.Padding()), heading("Selection"), p.title, p.lines, p.tensors)
	p.content = container.NewVScroll(p.box)
	p.clear()
	return p
}

// clear shows the hint that takes the place of a selection.
func (p *selectionPanel) clear() {
	p.title.SetText("Nothing selected")
	p.lines.SetText("Click a bar or a card in the stack, or use the arrow keys, to see its tensors, shapes and parameters.")
	p.tensors.SetText("")
	p.tensors.Hide()
}

// show describes what ref points at in model m.
func (p *selectionPanel) show(m *modelio.Model, ref render.Ref, it *render.Item) {
	title, lines, tensors := describeRef(m, ref)
	if shown := numberedRange(ref, p.numbers); shown != "" {
		plain := blockRange(ref)
		title = strings.Replace(title, plain, shown, 1)
		names := fmt.Sprintf("the names are block %d's", ref.Start)
		for k := range lines {
			lines[k] = strings.Replace(lines[k], plain, shown, 1)
			lines[k] = strings.Replace(lines[k], names, fmt.Sprintf("the names are block %d's", p.numbers[ref.Start]), 1)
		}
		// A part's path and tensors are named as the saved copy names them, its layers renumbered
		// (as transformers would print it): say so where the numbers part.
		if ref.What == render.RefPart && p.numbers[ref.Start] != ref.Start {
			lines = append(lines, fmt.Sprintf("named as in the saved copy, whose layers are renumbered 0–%d: block %d is its layer %d",
				len(p.numbers)-1, p.numbers[ref.Start], ref.Start))
		}
	}
	if title == "" && it != nil {
		title = it.Text
	}
	p.title.SetText(title)
	p.lines.SetText(strings.Join(lines, "\n"))
	p.tensors.SetText(strings.Join(tensors, "\n"))
	p.tensors.Hidden = len(tensors) == 0
	p.box.Refresh()
}

// describeRef returns the title, the lines of description and the tensor lines ("name  [2048, 512]") of
// what ref points at.
func describeRef(m *modelio.Model, ref render.Ref) (title string, lines, tensors []string) {
	a := m.Arch
	switch ref.What {
	case render.RefModel:
		title = m.Name
		lines = append(lines, a.Class+" · "+facts.Commas(m.Spec.Root.NumParams())+" parameters",
			fmt.Sprintf("%d blocks of %s", len(a.Blocks), blockClass(a)))
	case render.RefCard:
		b := block(a, ref.Start)
		if b == nil {
			return "", nil, nil
		}
		title = blockRange(ref) + " · " + b.Class
		each := ""
		if ref.End > ref.Start {
			each = " each"
		}
		lines = append(lines, facts.Commas(b.Params)+" parameters"+each)
		if b.Attention != "" {
			l := b.Attention + " attention"
			if b.Window > 0 {
				l += fmt.Sprintf(", window %d tokens", b.Window)
			}
			lines = append(lines, l)
		}
		var parts []string
		for _, pt := range b.Parts {
			parts = append(parts, partSummary(&pt))
		}
		if b.Experts != nil {
			parts = append(parts, expertsSummary(b.Experts))
		}
		tensors = parts
	case render.RefExperts:
		b := block(a, ref.Start)
		if b == nil || b.Experts == nil {
			return "", nil, nil
		}
		e := b.Experts
		title = fmt.Sprintf("%d experts · %s", e.Count, blockRange(ref))
		lines = append(lines, expertsSummary(e), facts.Commas(e.Params)+" parameters in all the experts of one block")
		if !e.Uniform {
			lines = append(lines, "the experts differ in size")
		}
		for _, pt := range e.Expert {
			tensors = append(tensors, partSummary(&pt))
		}
	case render.RefPart:
		pt := findPart(a, ref)
		if pt == nil {
			return ref.Path, nil, nil
		}
		title = pt.Path
		lines = append(lines, partClass(pt))
		if ref.Start >= 0 {
			l := blockRange(ref)
			if ref.End > ref.Start {
				l += fmt.Sprintf(" (%d×; the names are block %d's)", ref.End-ref.Start+1, ref.Start)
			}
			lines = append(lines, l)
		}
		params := facts.Commas(pt.Params) + " parameters"
		if ref.End > ref.Start {
			params += " each"
		}
		if pt.Tied {
			params = "tied: reuses the token embedding matrix, no parameters of its own"
		}
		dtype := pt.DType
		if dtype == "" {
			dtype = "not stored (config only)"
		}
		lines = append(lines, params, "dtype "+dtype)
		for _, t := range pt.Tensors {
			tensors = append(tensors, t.Name+"\n    "+shape(t.Shape))
		}
	}
	return title, lines, tensors
}

func block(a *arch.Architecture, i int) *arch.Block {
	if i < 0 || i >= len(a.Blocks) {
		return nil
	}
	return &a.Blocks[i]
}

// findPart finds the part a Ref names by its path: in the blocks it covers (block Start first), then
// among the parts outside the blocks.
func findPart(a *arch.Architecture, ref render.Ref) *arch.Part {
	if b := block(a, ref.Start); b != nil {
		for i := range b.Parts {
			if b.Parts[i].Path == ref.Path {
				return &b.Parts[i]
			}
		}
		if b.Experts != nil {
			for i := range b.Experts.Expert {
				if b.Experts.Expert[i].Path == ref.Path {
					return &b.Experts.Expert[i]
				}
			}
		}
	}
	for i := range a.Embeddings {
		if a.Embeddings[i].Path == ref.Path {
			return &a.Embeddings[i]
		}
	}
	for _, p := range []*arch.Part{a.FinalNorm, a.LMHead} {
		if p != nil && p.Path == ref.Path {
			return p
		}
	}
	for i := range a.Other {
		if a.Other[i].Path == ref.Path {
			return &a.Other[i]
		}
	}
	for bi := range a.Blocks { // a path of another block than Start: search them all
		for i := range a.Blocks[bi].Parts {
			if a.Blocks[bi].Parts[i].Path == ref.Path {
				return &a.Blocks[bi].Parts[i]
			}
		}
	}
	return nil
}

// numberedRange is blockRange with the blocks' numbers as the stack shows them, "" without numbers.
func numberedRange(ref render.Ref, numbers []int) string {
	if numbers == nil || ref.Start < 0 || ref.End >= len(numbers) || ref.End < ref.Start {
		return ""
	}
	var runs []string
	for _, r := range facts.Runs(numbers[ref.Start : ref.End+1]) {
		runs = append(runs, blockSpanText(r[0], r[1]))
	}
	if ref.End == ref.Start {
		return "block " + runs[0]
	}
	return "blocks " + strings.Join(runs, ", ")
}

func blockSpanText(a, b int) string {
	if a == b {
		return strconv.Itoa(a)
	}
	return fmt.Sprintf("%d–%d", a, b)
}

func blockRange(ref render.Ref) string {
	if ref.End > ref.Start {
		return fmt.Sprintf("blocks %d–%d", ref.Start, ref.End)
	}
	return fmt.Sprintf("block %d", ref.Start)
}

func blockClass(a *arch.Architecture) string {
	if len(a.Blocks) == 0 {
		return "none"
	}
	return a.Blocks[0].Class
}

// partClass writes a part as its class with its widths: "Linear(2048 → 512) · no bias".
func partClass(p *arch.Part) string {
	switch p.Role {
	case arch.RoleNorm, arch.RoleFinalNorm:
		return fmt.Sprintf("%s(%d)", p.Class, p.Out)
	case arch.RoleTokenEmbedding, arch.RolePosEmbedding:
		return fmt.Sprintf("%s(%d, %d): %d rows of %d", p.Class, p.In, p.Out, p.In, p.Out)
	}
	bias := " · no bias"
	if p.Bias {
		bias = " · with bias"
	}
	return fmt.Sprintf("%s(%d → %d)%s", p.Class, p.In, p.Out, bias)
}

// partSummary is one line per part for a card: "self_attn.q_proj  2048 → 2048".
func partSummary(p *arch.Part) string {
	switch p.Role {
	case arch.RoleNorm, arch.RoleFinalNorm:
		return fmt.Sprintf("%s  %s(%d)", p.Name, p.Class, p.Out)
	}
	return fmt.Sprintf("%s  %d → %d", p.Name, p.In, p.Out)
}

func expertsSummary(e *arch.Experts) string {
	if e.TopK > 0 {
		return fmt.Sprintf("%d experts, top-%d chosen per token", e.Count, e.TopK)
	}
	return fmt.Sprintf("%d experts", e.Count)
}

// shape writes a tensor shape as PyTorch does: [2048, 512].
func shape(s []int64) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.FormatInt(d, 10)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// factsPanel shows the key facts of one model: the headline numbers, the architecture's traits with
// the sentence that explains each, the parameter split, memory, pruning hints, warnings and notes.
type factsPanel struct {
	content fyne.CanvasObject
	box     *fyne.Container
	scroll  *container.Scroll
}

func newFactsPanel() *factsPanel {
	p := &factsPanel{box: container.NewVBox()}
	p.scroll = container.NewVScroll(p.box)
	p.content = p.scroll
	return p
}

// show fills the panel from m; nil empties it. comparing adds a line saying the panel follows the
// selected column.
func (p *factsPanel) show(m *modelio.Model, comparing bool) {
	p.box.RemoveAll()
	if m == nil {
		p.box.Add(muted("No model open."))
		p.box.Refresh()
		return
	}
	f := m.Facts()

	name := widget.NewLabelWithStyle(f.Name, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	name.SizeName = theme.SizeNameSubHeadingText
	name.Wrapping = fyne.TextWrapBreak
	class := f.Class
	if f.BaseClass != "" {
		class += " · base " + f.BaseClass
	}
	p.box.Add(name)
	p.box.Add(muted(class))
	if comparing {
		p.box.Add(muted("Comparing: click a column of the stack to show its facts here."))
	}

	bf16 := f.Memory.BF16.Human
	p.box.Add(container.NewGridWithColumns(3,
		stat(facts.ShortCount(f.Parameters.Total), "parameters"),
		stat(strconv.Itoa(len(m.Arch.Blocks)), "blocks"),
		stat(bf16, "in bf16"),
	))

	p.box.Add(section("Architecture"))
	var rows []fyne.CanvasObject
	for _, c := range f.Characteristics {
		val := widget.NewLabelWithStyle(c.Value, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		val.Wrapping = fyne.TextWrapWord
		expl := mutedText(c.Explanation, theme.SizeNameCaptionText, true)
		// The explanation hugs its value: a negative gap cancels most of the two widgets' inner padding.
		rows = append(rows, key(strings.ReplaceAll(c.Key, "_", " ")),
			container.New(layout.NewCustomPaddedVBoxLayout(-2*theme.Padding()), val, expl))
	}
	p.box.Add(container.New(layout.NewFormLayout(), rows...))

	p.box.Add(section("Parameters"))
	pa := f.Parameters
	rows = nil
	share := func(label string, n int64) {
		v := facts.Commas(n)
		if pa.Total > 0 {
			v += fmt.Sprintf("   %.1f%%", 100*float64(n)/float64(pa.Total))
		}
		rows = append(rows, key(label), value(v))
	}
	share("embeddings", pa.Embeddings)
	share("attention", pa.Attention)
	share("mlp", pa.MLP)
	share("norms", pa.Norms)
	if pa.TiedEmbeddings {
		rows = append(rows, key("lm_head"), value("tied to the token embedding"))
	} else {
		share("lm_head", pa.LMHead)
	}
	if pa.Other != 0 {
		share("other", pa.Other)
	}
	if pa.Active != pa.Total {
		share("active", pa.Active)
	}
	rows = append(rows, key("total"), value(facts.Commas(pa.Total)))
	p.box.Add(container.New(layout.NewFormLayout(), rows...))

	p.box.Add(section("Memory"))
	rows = []fyne.CanvasObject{
		key("fp32"), value(f.Memory.FP32.Human), key("bf16"), value(f.Memory.BF16.Human),
		key("int8"), value(f.Memory.Int8.Human), key("int4"), value(f.Memory.Int4.Human),
	}
	if s := f.Memory.Stored; s != nil {
		rows = append(rows, key("stored"), value(s.Human))
	}
	if q := f.Quantization; q != nil {
		rows = append(rows, key("quantized"), value(q.Summary()),
			key("bits/weight"), value(strconv.FormatFloat(q.BitsPerWeight, 'f', 2, 64)))
		if len(q.Skipped) > 0 {
			rows = append(rows, key("kept full"), wrapped(strings.Join(q.Skipped, ", ")))
		}
	}
	p.box.Add(container.New(layout.NewFormLayout(), rows...))

	if len(f.PruningHints) > 0 {
		p.box.Add(section("Pruning"))
		rows = nil
		for _, h := range f.PruningHints {
			rows = append(rows, key(h.Kind), wrapped(h.Text))
		}
		p.box.Add(container.New(layout.NewFormLayout(), rows...))
	}
	if len(f.Warnings) > 0 || len(m.Notes) > 0 {
		p.box.Add(section("Warnings and notes"))
		for _, w := range f.Warnings {
			p.box.Add(iconLine(theme.WarningIcon(), w))
		}
		for _, n := range m.Notes {
			p.box.Add(iconLine(theme.InfoIcon(), n))
		}
	}
	p.box.Refresh()
	p.scroll.ScrollToTop()
}

func stat(big, caption string) fyne.CanvasObject {
	v := widget.NewLabelWithStyle(big, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	v.SizeName = theme.SizeNameSubHeadingText
	c := mutedText(caption, theme.SizeNameCaptionText, false)
	return container.New(layout.NewCustomPaddedVBoxLayout(-theme.Padding()*2), v, c)
}

// section starts a part of a panel: a rule, then its heading.
func section(title string) fyne.CanvasObject {
	return container.NewVBox(widget.NewSeparator(), heading(title))
}

// heading is a small capitalised title in the accent colour.
func heading(title string) *widget.Label {
	l := widget.NewLabelWithStyle(strings.ToUpper(title), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	l.SizeName = theme.SizeNameCaptionText
	l.Importance = widget.HighImportance
	return l
}

func key(s string) fyne.CanvasObject { return mutedText(s, theme.SizeNameText, false) }

func value(s string) fyne.CanvasObject {
	return widget.NewLabelWithStyle(s, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
}

func wrapped(s string) fyne.CanvasObject {
	l := widget.NewLabel(s)
	l.Wrapping = fyne.TextWrapWord
	return l
}

func muted(s string) fyne.CanvasObject { return mutedText(s, theme.SizeNameText, true) }

// mutedText is secondary text in the muted colour, wrapping at word boundaries when wrap is set.
func mutedText(s string, size fyne.ThemeSizeName, wrap bool) *widget.RichText {
	rt := widget.NewRichText(&widget.TextSegment{Text: s, Style: widget.RichTextStyle{ColorName: colorMuted, SizeName: size}})
	if wrap {
		rt.Wrapping = fyne.TextWrapWord
	}
	return rt
}

func iconLine(icon fyne.Resource, s string) fyne.CanvasObject {
	return container.NewBorder(nil, nil, container.NewVBox(widget.NewIcon(icon)), nil, wrapped(s))
}
