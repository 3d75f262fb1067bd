package cli

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/layerscope/layerscope/internal/atomicfile"
	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/neurons"
	"github.com/layerscope/layerscope/render"
)

// maxScale bounds --scale: 8× a 1280-wide diagram is already a 10,000-pixel image.
const maxScale = 8

// runDiagram draws one to five models side by side on one width scale, as the window does, into a PNG
// or SVG file: `layerscope diagram MODEL [MODEL...] -o FILE.png|FILE.svg [--scale N] [--theme light|dark]`.
// With --remove and/or --width it draws one model's what-if, as the window's what-ifs show it (the
// cards keep their block numbers, narrowed bars over dashed outlines of their old widths), with
// --beside the full model next to it: the picture of a pruning for a slide, nothing written but it.
func runDiagram(env *Env, args []string) error {
	fs := flag.NewFlagSet("diagram", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	out := fs.String("o", "", "the file to write: FILE.png or FILE.svg")
	scale := fs.Float64("scale", 1, "pixels per diagram unit for PNG (2 for a sharp slide)")
	theme := fs.String("theme", "light", "light or dark")
	unfold := fs.Bool("unfold", false, "draw one card per block instead of folding identical blocks")
	removeList := fs.String("remove", "", "draw the model without these blocks: 3,5 or 10-12")
	beside := fs.Bool("beside", false, "with --remove or --width: the full model beside the pruned one")
	w, calib := widthFlags(fs), calibrationFlags(fs)
	if err := fs.Parse(reorder(fs, args)); err != nil {
		return errUsage{"diagram: " + err.Error()}
	}
	paths := fs.Args()
	whatIf := *removeList != "" || w.given()
	switch {
	case whatIf && len(paths) > 1:
		return errUsage{fmt.Sprintf("diagram: --remove and --width draw one MODEL's what-if, got %d models", len(paths))}
	case *beside && !whatIf:
		return errUsage{"diagram: --beside draws the full model beside a pruned one: give --remove or --width with it"}
	case *w.asJSON:
		return errUsage{"diagram: --json is prune's: the diagram is a picture"}
	}
	if !w.given() {
		if err := w.withoutWidth(); err != nil {
			return errUsage{"diagram" + strings.TrimPrefix(err.Error(), "prune")}
		}
	}
	switch {
	case len(paths) == 0:
		return errUsage{"diagram: expected one to five MODELs, got none"}
	case len(paths) > 5:
		return errUsage{fmt.Sprintf("diagram: expected one to five MODELs, got %d", len(paths))}
	case *out == "":
		return errUsage{"diagram: -o FILE.png or -o FILE.svg is required"}
	case *scale <= 0 || *scale > maxScale:
		return errUsage{fmt.Sprintf("diagram: --scale must be between 0 and %d, got %g", maxScale, *scale)}
	}
	ext := strings.ToLower(filepath.Ext(*out))
	if ext != ".png" && ext != ".svg" {
		return errUsage{fmt.Sprintf("diagram: %s: the output must end in .png or .svg", *out)}
	}
	var th render.Theme
	switch *theme {
	case "light":
		th = render.Light
	case "dark":
		th = render.Dark
	default:
		return errUsage{fmt.Sprintf("diagram: --theme must be light or dark, got %q", *theme)}
	}
	for _, p := range paths {
		if inside(*out, p) {
			return errUsage{fmt.Sprintf("diagram: %s is inside the model folder %s: Layerscope never writes into a model folder", *out, modelDir(p))}
		}
	}

	var models []render.Model
	if whatIf {
		var err error
		if models, err = whatIfModels(env, paths[0], *removeList, w, calib, *beside); err != nil {
			return err
		}
	} else {
		for _, p := range paths {
			m, err := openModel(env, p)
			if err != nil {
				return err
			}
			warn(env, m)
			models = append(models, render.Model{Name: m.Name, Params: m.Spec.Root.NumParams(), Arch: m.Arch})
		}
	}
	d := render.Layout(models, render.Options{Theme: th, UnfoldAll: *unfold})
	return writeDiagram(d, *out, ext, *scale)
}

// whatIfModels are the pruned model at path (without the blocks in removeList, its MLPs narrowed as w
// says) drawn as the window draws a what-if, and with beside the full model after it.
func whatIfModels(env *Env, path, removeList string, w *widthOptions, calib *calibSource, beside bool) ([]render.Model, error) {
	var remove []int
	if removeList != "" {
		var err error
		if remove, err = modelio.ParseBlocks(removeList); err != nil {
			return nil, errUsage{"diagram: --remove: " + err.Error()}
		}
	}
	var t neurons.Target
	var method neurons.Method
	if w.given() {
		var err error
		if t, method, err = w.target(); err != nil {
			return nil, errUsage{"diagram" + strings.TrimPrefix(err.Error(), "prune")}
		}
		if err := calib.check("diagram"); err != nil {
			return nil, err
		}
	}
	m, err := openModel(env, path)
	if err != nil {
		return nil, err
	}
	warn(env, m)
	d := m
	var numbers []int
	if remove != nil {
		if d, err = modelio.RemoveBlocks(m, remove); err != nil {
			return nil, err
		}
		numbers = modelio.KeptBlocks(len(m.Arch.Blocks), remove)
	}
	p := d
	var former, formerIn map[string]int64
	if w.given() {
		// A model without weights (a gallery name) shows its widths with the first neurons standing
		// in, as prune --dry-run does: the picture is the same whichever neurons stay.
		units, keep, _, _, err := chooseNeurons(env, m, d, t, method, true, calib)
		if err != nil {
			return nil, err
		}
		if p, err = modelio.NarrowMLP(d, keep); err != nil {
			return nil, err
		}
		former, formerIn = modelio.FormerWidths(units)
	}
	models := []render.Model{{Name: p.Name, Params: p.Spec.Root.NumParams(), Arch: p.Arch, Numbers: numbers,
		Former: former, FormerIn: formerIn}}
	if beside {
		models = append(models, render.Model{Name: m.Name, Params: m.Spec.Root.NumParams(), Arch: m.Arch})
	}
	return models, nil
}

// writeDiagram writes d to path through a temporary file beside it, so a failed export never leaves a
// half-written picture where a good one was.
func writeDiagram(d *render.Diagram, path, ext string, scale float64) error {
	err := atomicfile.Write(path, func(w io.Writer) error { return d.Encode(w, strings.TrimPrefix(ext, "."), scale) })
	if err != nil {
		return fmt.Errorf("%s: %v", path, plainErr(err))
	}
	return nil
}

// modelDir is the folder a MODEL argument names: the folder itself, or the folder of a config.json or
// .safetensors file; "" for a gallery name.
func modelDir(model string) string {
	info, err := os.Stat(model)
	if err != nil {
		return ""
	}
	if info.IsDir() {
		return model
	}
	return filepath.Dir(model)
}

// inside reports whether the file out lies in the folder of model (at any depth).
func inside(out, model string) bool {
	dir := modelDir(model)
	if dir == "" {
		return false
	}
	a, err1 := filepath.Abs(out)
	b, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return false
	}
	// Resolve links where they exist, so a link to the model folder is caught too.
	if r, err := filepath.EvalSymlinks(filepath.Dir(a)); err == nil {
		a = filepath.Join(r, filepath.Base(a))
	}
	if r, err := filepath.EvalSymlinks(b); err == nil {
		b = r
	}
	rel, err := filepath.Rel(b, a)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// plainErr strips Go's "op path:" wrapping where the caller already names the path.
func plainErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	if le, ok := err.(*os.LinkError); ok {
		return le.Err
	}
	return err
}
