package app

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/facts"
	"github.com/layerscope/layerscope/modelio/prune"
)

// whatIf is a pruned model shown in place of the full one (modelio.RemoveBlocks): its stack, tree and
// facts, with nothing written.
type whatIf struct {
	orig, pruned *modelio.Model
	remove       []int
	width        *widthCut // the MLP neurons kept too, nil for blocks alone (widthwhatif.go)
}

// whatIfBar is the strip above the stack that says a what-if is on screen, with the way to save it
// and the way back.
type whatIfBar struct {
	content *fyne.Container
	text    *widget.Label
	save    *keyButton // disabled where there are no weights to copy (a gallery model)
}

func newWhatIfBar(w *Window) *whatIfBar {
	b := &whatIfBar{text: widget.NewLabel("")}
	b.text.Wrapping = fyne.TextWrapWord
	// The accent blue at a fifth of its strength: information, not an error.
	bg := canvas.NewRectangle(color.NRGBA{R: accent.R, G: accent.G, B: accent.B, A: 0x33})
	bg.CornerRadius = 4
	save := newKeyButton(w, "Save copy…", theme.DocumentSaveIcon(), func() {
		w.saveWhatIfCopy()
	})
	back := newKeyButton(w, "Back to full model", theme.NavigateBackIcon(), w.leaveWhatIf)
	back.Importance = widget.HighImportance
	title := widget.NewLabelWithStyle("WHAT IF", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	b.save = save
	b.content = container.NewStack(bg, container.NewBorder(nil, nil, title, container.NewCenter(container.NewHBox(save, back)), b.text))
	b.content.Hide()
	return b
}

// savings are the pruned model's parameters, how many fewer than the full model's, and that as a
// percentage of the full model's.
func (wi *whatIf) savings() (now, saved int64, share float64) {
	now = wi.pruned.Spec.Root.NumParams()
	before := wi.pruned.SourceParams
	if before == 0 {
		before = wi.orig.Spec.Root.NumParams()
	}
	if before > 0 {
		share = 100 * float64(before-now) / float64(before)
	}
	return now, before - now, share
}

// whatIfText says what the pruned model is and what it saves: "Llama-3.2-1B without blocks 5, 10:
// 14 blocks, 1.12 B parameters, 121 M fewer (9.8%). Nothing is written until you save a copy."
func whatIfText(wi *whatIf) string {
	if wi.width != nil {
		return widthWhatIfText(wi)
	}
	p := wi.pruned
	now, saved, share := wi.savings()
	return fmt.Sprintf("%s without %s: %d blocks, %s parameters, %s fewer (%.1f%%). Nothing is written until you save a copy.",
		wi.orig.Name, modelio.BlocksPhrase(wi.remove), len(p.Arch.Blocks), facts.ShortCount(now), facts.ShortCount(saved), share)
}

// whatIfBarText is what the what-if bar says: whatIfText, or while presenting its headline alone, so
// that the bar takes one line of the large type and the stack keeps the height (the side panel, hidden
// then, holds the rest).
func (w *Window) whatIfBarText() string {
	if w.theme.present {
		return whatIfHeadline(w.whatIf)
	}
	return whatIfText(w.whatIf)
}

// whatIfHeadline says what was pruned and what it saves, briefly: "Llama-3.2-1B without blocks 5, 10,
// intermediate_size 8192 → 4916: 797 M parameters, 439 M fewer (35.5%)."
func whatIfHeadline(wi *whatIf) string {
	now, saved, share := wi.savings()
	var what []string
	if len(wi.remove) > 0 {
		what = append(what, "without "+modelio.BlocksPhrase(wi.remove))
	}
	if c := wi.width; c != nil {
		for _, ch := range c.changes {
			what = append(what, fmt.Sprintf("%s %d → %d", ch.Key, ch.From, ch.To))
		}
	}
	return fmt.Sprintf("%s %s: %s parameters, %s fewer (%.1f%%).", wi.orig.Name, strings.Join(what, ", "),
		facts.ShortCount(now), facts.ShortCount(saved), share)
}

// showWhatIf shows m without the blocks remove in m's place: the stack, the tree and the facts of the
// pruned model, and the bar that says so.
func (w *Window) showWhatIf(m *modelio.Model, remove []int) {
	if m == nil || len(remove) == 0 {
		return
	}
	i := slices.Index(w.models, m)
	if i < 0 && w.whatIf != nil && w.whatIf.orig == m {
		i = slices.Index(w.models, w.whatIf.pruned)
	}
	if i < 0 {
		return
	}
	p, err := modelio.RemoveBlocks(m, remove)
	if err != nil {
		w.banner.show(err.Error())
		return
	}
	if w.width.withBlocksRemoved(m, remove) {
		return // the width what-if on m narrows the model without these blocks (widthwhatif.go)
	}
	models := slices.Clone(w.models)
	models[i] = p
	w.whatIf = &whatIf{orig: m, pruned: p, remove: slices.Clone(remove)}
	w.focus = i
	w.show(models)
	w.status.SetText("What if: " + whatIfText(w.whatIf))
}

// removeBlocksDialog asks which blocks to take out of the model in focus and shows the what-if: the
// pruned stack, tree and facts. It needs no weights and no run, so it works on a gallery model too;
// the selected card's blocks are the suggestion. The entry is checked as it is typed (range, depth).
func (w *Window) removeBlocksDialog() {
	if len(w.models) == 0 {
		return
	}
	m := w.models[min(w.focus, len(w.models)-1)]
	if w.whatIf != nil && m == w.whatIf.pruned {
		m = w.whatIf.orig
	}
	depth := len(m.Arch.Blocks)
	entry := newKeyEntry(w, false)
	entry.SetPlaceHolder("e.g. 3, 5, 10-12")
	switch ref, ok := w.view.Selected(); {
	case w.whatIf != nil && w.whatIf.orig == m:
		entry.SetText(blockList(w.whatIf.remove))
	case ok && ref.Start >= 0 && ref.End >= ref.Start && ref.End < depth:
		entry.SetText(blockSpan(ref.Start, ref.End))
	}
	item := widget.NewFormItem("Blocks", entry)
	hint := fmt.Sprintf("of %s's %d, numbered 0–%d", m.Name, depth, depth-1)
	item.HintText = hint
	// The form shows an entry's error only once it has lost the focus: while typing, the hint line says
	// what is wrong instead, so "16" of 16 blocks is explained, not just refused.
	entry.Validator = func(s string) error {
		blocks, err := modelio.ParseBlocks(s)
		if err == nil {
			_, err = modelio.RemoveBlocks(m, blocks)
		}
		item.HintText = hint
		if err != nil && strings.TrimSpace(s) != "" {
			item.HintText = err.Error()
		}
		return err
	}
	var d *dialog.FormDialog
	// Enter shows the what-if when the blocks are valid, as the Show button does.
	entry.OnSubmitted = func(string) {
		if entry.Validate() == nil && d != nil {
			d.Submit()
		}
	}
	d = dialog.NewForm("What if: remove blocks", "Show", "Cancel", []*widget.FormItem{item}, func(ok bool) {
		if !ok {
			return
		}
		if blocks, err := modelio.ParseBlocks(entry.Text); err == nil {
			w.showWhatIf(m, blocks)
		}
	}, w.win)
	d.Resize(fyne.NewSize(min(560, w.win.Canvas().Size().Width*0.9), 0))
	d.Show()
	w.win.Canvas().Focus(entry)
}

// blockList writes block indices as ParseBlocks reads them, runs as ranges: "3, 10-12".
func blockList(blocks []int) string {
	var parts []string
	for _, r := range facts.Runs(blocks) {
		parts = append(parts, blockSpan(r[0], r[1]))
	}
	return strings.Join(parts, ", ")
}

// blockSpan writes blocks a..b as ParseBlocks reads them: "7" or "10-12".
func blockSpan(a, b int) string {
	if a == b {
		return strconv.Itoa(a)
	}
	return fmt.Sprintf("%d-%d", a, b)
}

// leaveWhatIf puts the full model back.
func (w *Window) leaveWhatIf() {
	wi := w.whatIf
	if wi == nil {
		return
	}
	models := slices.Clone(w.models)
	if i := slices.Index(models, wi.pruned); i >= 0 && slices.Contains(models, wi.orig) {
		models = slices.Delete(models, i, i+1) // the full model stood beside it already
	} else if i >= 0 {
		models[i] = wi.orig
	}
	w.whatIf = nil
	w.width.close()
	w.show(models)
}

// refreshWhatIf shows or hides the bar after the models changed: a what-if whose pruned model left
// the screen is over.
func (w *Window) refreshWhatIf() {
	if w.whatIf != nil && !slices.Contains(w.models, w.whatIf.pruned) {
		w.whatIf = nil
	}
	w.width.refresh()
	if w.whatIf == nil {
		w.whatIfBar.content.Hide()
	} else {
		w.whatIfBar.text.SetText(w.whatIfBarText())
		if o := w.whatIf.orig; o.Path == "" || !o.HasWeights() {
			w.whatIfBar.save.Disable()
		} else {
			w.whatIfBar.save.Enable()
		}
		w.whatIfBar.content.Show()
	}
	if w.banner.parent != nil {
		w.banner.parent.Refresh()
	}
}

// prunedName suggests the new folder's name: "Llama-3.2-1B-without-5-10".
func prunedName(m *modelio.Model, remove []int) string {
	base := filepath.Base(strings.TrimSuffix(modelDir(m), string(filepath.Separator)))
	if base == "." || base == "" || base == string(filepath.Separator) {
		base = strings.NewReplacer("/", "_", " ", "_").Replace(m.Name)
	}
	parts := make([]string, len(remove))
	for i, b := range remove {
		parts[i] = strconv.Itoa(b)
	}
	if len(remove) == 0 {
		return base + widthSuffix(m)
	}
	return base + "-without-" + strings.Join(parts, "-") + widthSuffix(m)
}

// modelDir is the folder a model was opened from ("" for a gallery model).
func modelDir(m *modelio.Model) string {
	if m.Path == "" {
		return ""
	}
	if info, err := os.Stat(m.Path); err == nil && !info.IsDir() {
		return filepath.Dir(m.Path)
	}
	return m.Path
}

// savePrunedDialog asks for a new folder (a parent folder and a name; by default beside the model's
// own) and writes the pruned copy there off the UI goroutine, then opens it.
func (w *Window) savePrunedDialog(m *modelio.Model, remove []int) {
	if m == nil || (len(remove) == 0 && len(m.Narrowed) == 0) {
		return
	}
	if m.Path == "" || !m.HasWeights() {
		w.banner.show(m.Name + " has no weights here (a gallery model or a config.json alone): there is nothing to copy. Open its folder with the .safetensors files.")
		return
	}
	// Where the last save went, as the other save dialogs start; beside the model the first time.
	parent := filepath.Dir(modelDir(m))
	if last := w.app.Preferences().String(prefSaveFolder); last != "" {
		if st, err := os.Stat(last); err == nil && st.IsDir() {
			parent = last
		}
	}
	where := widget.NewLabel(parent)
	where.Truncation = fyne.TextTruncateEllipsis
	name := newKeyEntry(w, false)
	name.SetText(prunedName(m, remove))
	choose := newKeyButton(w, "Choose…", theme.FolderOpenIcon(), nil)
	choose.OnTapped = func() {
		d := dialog.NewFolderOpen(func(u fyne.ListableURI, err error) {
			if err == nil && u != nil {
				parent = u.Path()
				where.SetText(parent)
			}
		}, w.win)
		if l, err := storage.ListerForURI(storage.NewFileURI(parent)); err == nil {
			d.SetLocation(l)
		}
		d.Resize(dialogSize(w.win))
		d.Show()
	}
	intro := widget.NewLabel(copyIntro(m, remove))
	intro.Wrapping = fyne.TextWrapWord
	form := container.New(layout.NewFormLayout(),
		key("In"), container.NewBorder(nil, nil, nil, choose, where),
		key("Name"), name)
	d := dialog.NewCustomConfirm("Save pruned copy", "Save", "Cancel", container.NewVBox(intro, form), func(ok bool) {
		if !ok {
			return
		}
		n := strings.TrimSpace(name.Text)
		if n == "" || strings.ContainsAny(n, `/\`) {
			w.banner.show("Give the new folder a name (without slashes).")
			return
		}
		w.app.Preferences().SetString(prefSaveFolder, parent)
		w.savePruned(m, remove, filepath.Join(parent, n))
	}, w.win)
	name.OnSubmitted = func(string) { d.Confirm() } // Enter saves, as Save does
	d.Resize(fyne.NewSize(min(640, w.win.Canvas().Size().Width*0.9), 0))
	d.Show()
}

// savePruned writes the pruned copy to dst with the toolbar's progress indicator, then opens it.
func (w *Window) savePruned(m *modelio.Model, remove []int, dst string) {
	w.busyLabel.SetText("Saving " + filepath.Base(dst) + "…")
	w.busy.Show()
	w.loads.Add(1)
	go func() {
		pg := &progress{show: func(done, total int, _ string) {
			if total > 0 {
				w.busyLabel.SetText(fmt.Sprintf("Saving %s… %d%%", filepath.Base(dst), 100*done/total))
			}
		}}
		skipped := prune.Skipped(m)
		err := prune.Write(m, remove, dst, func(done, total int) { pg.update(done, total, "") })
		fyne.Do(func() {
			defer w.loads.Done()
			w.busy.Hide()
			if err != nil {
				w.banner.show(err.Error())
				return
			}
			w.status.SetText("Saved the pruned copy to " + dst)
			if len(skipped) > 0 {
				w.banner.show(strings.Join(skipped, "; "))
			}
			w.open([]string{dst}, false)
		})
	}()
}
