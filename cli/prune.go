package cli

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/facts"
	"github.com/layerscope/layerscope/modelio/printable"
	"github.com/layerscope/layerscope/modelio/prune"
)

// runPrune writes a depth-pruned copy of a model folder: `layerscope prune MODEL --remove 3,5 -o NEW`.
// The copy is opened again afterwards, so the command reports the depth Layerscope (and transformers)
// will see, not the depth it meant to write.
func runPrune(env *Env, args []string) error {
	fs := flag.NewFlagSet("prune", flag.ContinueOnError)
	removeList := fs.String("remove", "", "the blocks to remove, as the model numbers them: 3,5 or 10-12")
	out := fs.String("o", "", "the new folder to write the pruned copy to (it must not exist, or be empty)")
	dryRun := fs.Bool("dry-run", false, "show what the pruned model would be, and write nothing")
	w, calib := widthFlags(fs), calibrationFlags(fs)
	path, err := parse(fs, args, "MODEL")
	if err != nil {
		return err
	}
	if w.given() { // width pruning, with or without --remove: prune_width.go
		return runWidthPrune(env, path, *removeList, *out, *dryRun, w, calib)
	}
	if err := w.withoutWidth(); err != nil {
		return err
	}
	if *removeList == "" {
		return errUsage{"prune: --remove is required: the blocks to remove, e.g. --remove 3,5 (or --width 40% to remove MLP neurons)"}
	}
	remove, err := modelio.ParseBlocks(*removeList)
	if err != nil {
		return errUsage{"prune: --remove: " + err.Error()}
	}
	switch {
	case *out == "" && !*dryRun:
		return errUsage{"prune: -o NEW_FOLDER is required (or --dry-run to write nothing)"}
	case *out != "" && *dryRun:
		return errUsage{"prune: give -o or --dry-run, not both"}
	}

	m, err := openModel(env, path)
	if err != nil {
		return err
	}
	if *out != "" {
		if err := localWeights(m, "prune -o"); err != nil {
			return err
		}
	}
	p, err := modelio.RemoveBlocks(m, remove)
	if err != nil {
		return err
	}
	if *dryRun {
		printPruning(env.Stdout, m, p)
		_, err := fmt.Fprintln(env.Stdout, "nothing written (--dry-run)")
		return err
	}
	for _, s := range prune.Skipped(m) {
		fmt.Fprintln(env.Stderr, "warning: "+printable.String(s))
	}
	bar := newProgressBar(env.Stderr)
	err = prune.Write(m, remove, *out, func(done, total int) { bar.update(done>>20, total>>20, "MiB") })
	bar.done()
	if err != nil {
		return err
	}
	// Open the copy as anyone would: its depth is what was written, not what was meant.
	got, err := modelio.Open(*out)
	if err != nil {
		return fmt.Errorf("wrote %s, but it does not open: %v", *out, err)
	}
	if len(got.Arch.Blocks) != len(p.Arch.Blocks) {
		return fmt.Errorf("wrote %s, but it opens with %d blocks, not %d", *out, len(got.Arch.Blocks), len(p.Arch.Blocks))
	}
	warn(env, got)
	printPruning(env.Stdout, m, p)
	entries, _ := os.ReadDir(*out)
	_, err = fmt.Fprintf(env.Stdout, "wrote:      %s (%d files); it opens with %d blocks\n", *out, len(entries), len(got.Arch.Blocks))
	return err
}

// printPruning says what was removed and what it saves.
func printPruning(w io.Writer, m, p *modelio.Model) {
	before, after := m.Spec.Root.NumParams(), p.Spec.Root.NumParams()
	saved := before - after
	class := ""
	if len(m.Arch.Blocks) > 0 {
		class = " (" + m.Arch.Blocks[0].Class + ")"
	}
	fmt.Fprintf(w, "model:      %s\n", printable.String(m.Name))
	fmt.Fprintf(w, "removed:    %s of %d%s\n", modelio.BlocksPhrase(removedHere(m, p)), len(m.Arch.Blocks), class)
	fmt.Fprintf(w, "depth:      %d → %d blocks\n", len(m.Arch.Blocks), len(p.Arch.Blocks))
	fmt.Fprintf(w, "parameters: %s → %s (%s → %s)\n", facts.Commas(before), facts.Commas(after), facts.ShortCount(before), facts.ShortCount(after))
	fmt.Fprintf(w, "saved:      %s parameters (%.1f%%)\n", facts.Commas(saved), 100*float64(saved)/float64(max(before, 1)))
}

// removedHere lists the removed blocks as m numbers them (m may itself be a pruned model).
func removedHere(m, p *modelio.Model) []int {
	kept := map[int]bool{}
	for _, s := range p.SourceLayer {
		kept[s] = true
	}
	var out []int
	for i := range m.Arch.Blocks {
		src := i
		if m.SourceLayer != nil {
			src = m.SourceLayer[i]
		}
		if !kept[src] {
			out = append(out, i)
		}
	}
	return out
}
