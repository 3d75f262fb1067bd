package app

import (
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/render"
)

// treePanel is the Module tree tab: exactly what transformers' print(model) shows, for the causal-LM
// class or the base model, selectable and copyable.
type treePanel struct {
	w       *Window
	content fyne.CanvasObject
	// text is read-only monospace text in full contrast (a disabled Entry greys it, which a projector
	// washes out), selectable and copied with Ctrl+C; unlike a selectable Label it hands the window's
	// keys on when it has the focus (keys.go).
	text   *readOnlyText
	scroll *container.Scroll
	which  *switchButtons
	// renumbered says, above a what-if's tree, which blocks of the full model are gone: the tree is
	// the saved copy's, whose layers transformers numbers 0…n−1, unlike the stack.
	renumbered *widget.Label
	model      *modelio.Model
	base       bool
}

func newTreePanel(w *Window) *treePanel {
	p := &treePanel{w: w}
	p.text = newReadOnlyText(w, fyne.TextWrapOff)
	p.scroll = container.NewScroll(p.text)
	// The switch names the kinds, not the classes: "Qwen3MoeForCausalLM" beside "Qwen3MoeModel" would
	// make the panel too wide, and the tree's first line names the class anyway.
	p.which = newSwitchButtons(w, []string{optCausal, optBase}, func(s string) {
		if p.model == nil || s == "" {
			return
		}
		p.setBase(s == optBase)
	})
	p.renumbered = widget.NewLabel("")
	p.renumbered.Wrapping = fyne.TextWrapWord
	p.renumbered.Importance = widget.WarningImportance
	p.renumbered.Hide()
	copyBtn := newKeyButton(w, "Copy", theme.ContentCopyIcon(), p.copy)
	p.content = container.NewBorder(
		container.NewVBox(container.NewHBox(p.which.content, layout.NewSpacer(), copyBtn), p.renumbered, widget.NewSeparator()),
		nil, nil, nil, p.scroll)
	return p
}

// The two positions of the switch.
const (
	optCausal = "Causal LM"
	optBase   = "Base model"
)

// show prints m's tree, keeping the base/causal-LM choice.
func (p *treePanel) show(m *modelio.Model) {
	p.model = m
	p.renumbered.Hide()
	if wi := p.w.whatIf; wi != nil && m == wi.pruned && m != nil {
		p.renumbered.SetText(fmt.Sprintf("Layers renumbered 0–%d, as transformers prints the saved copy: %s of %s removed.",
			len(m.Arch.Blocks)-1, modelio.BlocksPhrase(wi.remove), wi.orig.Name))
		p.renumbered.Show()
	}
	if m == nil {
		p.which.Disable()
		p.text.SetText("")
		return
	}
	if m.Spec.Base() == nil {
		p.base = false
		p.which.Disable() // a model without a base class (an unknown family read from tensor names)
	} else {
		p.which.Enable()
	}
	p.setBase(p.base)
}

// setBase switches between the causal-LM class (LlamaForCausalLM) and the base model (LlamaModel).
func (p *treePanel) setBase(base bool) {
	p.base = base
	root, sel := p.model.Spec.Root, optCausal
	if base {
		if b := p.model.Spec.Base(); b != nil {
			root, sel = b, optBase
		}
	}
	if p.which.Selected != sel {
		p.which.SetSelected(sel) // calls back into setBase with the same choice: harmless
	}
	p.text.SetText(render.ModuleTree(root))
	p.scroll.ScrollToTop()
}

// copy puts the selected text, or the whole tree when nothing is selected, on the clipboard.
func (p *treePanel) copy() {
	if p.model == nil {
		return
	}
	s := p.text.SelectedText()
	if s == "" {
		s = p.text.Text
	}
	p.w.app.Clipboard().SetContent(s)
	p.w.status.SetText("Copied the module tree of " + p.model.Name + " to the clipboard")
}
