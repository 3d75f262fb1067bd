// Package cli runs Layerscope's headless subcommands (tree, facts, gallery, ...). It never imports the
// GUI: main passes in the function that opens the window, so the commands build and test without cgo.
package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/facts"
	"github.com/layerscope/layerscope/modelio/gallery"
	"github.com/layerscope/layerscope/modelio/printable"
	"github.com/layerscope/layerscope/render"
)

// OpenWindow opens the desktop window on a model path or gallery name ("" for the default model).
type OpenWindow func(path string) error

// command is one subcommand.
type command struct {
	name, args, help string
	run              func(env *Env, args []string) error
}

// Env is where a command writes.
type Env struct {
	Stdout, Stderr io.Writer
}

var commands []command

func init() {
	commands = []command{
		{"tree", "[--base] MODEL", "print the module tree exactly as transformers' print(model) shows it", runTree},
		{"facts", "[--json] MODEL", "list parameters, memory and the key characteristics", runFacts},
		{"gallery", "", "list the built-in models (every command accepts their names)", runGallery},
		{"diagram", "MODEL... -o FILE", "draw up to five models side by side to FILE.png or FILE.svg (--scale N, --theme dark); with --remove 3,5 and/or --width 40% [--method] [--divisor] [--beside] one model's what-if, as the window draws it", runDiagram},
		{"importance", "MODEL [--metric bi|angular|ablation|flat|all] [--text FILE|--tokens FILE] [--samples N] [--seq-len N] [--backend auto|gpu|cpu] [--dtype fp16|bf16|fp32] [--repeat N] [--json]",
			"score every decoder block on calibration text (GPU fp16 when usable, else CPU f32)", runImportance},
		{"tokenize", "MODEL [--text FILE] [--json] [--plain] [STRING]", "show the token ids and pieces of a text (the folder needs tokenizer.json)", runTokenize},
		{"setup-backend", "cuda|cpu [--force] [--timeout 15s]", "download a PJRT plugin into ~/.local/lib/go-xla (the only command that downloads)", runSetupBackend},
		{"prune", "MODEL [--remove 3,5] [--width 40% | --expansion 2.4] [--method ppm|vow|pon|activation|hybrid] [--divisor 64] [--text F|--tokens F] -o NEW_FOLDER [--dry-run] [--json]",
			"write a copy of MODEL without the given decoder blocks and/or MLP neurons (never into MODEL)", runPrune},
		{"perplexity", "MODEL [--text FILE|--tokens FILE] [--backend auto|gpu|cpu] [--dtype fp16|bf16|fp32] [--remove 3,5] [--width 40%] [--json]",
			"mean next-token NLL and perplexity; with --remove/--width the pruned model's too, nothing written", runPerplexity},
		{"help", "", "show this help", func(env *Env, _ []string) error { usage(env.Stdout); return nil }},
	}
}

// errUsage marks an error in the command line itself (exit status 2).
type errUsage struct{ msg string }

func (e errUsage) Error() string { return e.msg }

// Main runs Layerscope with os.Args[1:] and returns the exit status. With no argument, or with a
// single argument that is not a subcommand, it opens the window.
func Main(args []string, stdout, stderr io.Writer, open OpenWindow) (status int) {
	defer func() {
		// A bug must not greet a lecturer with a stack trace: report it in one line.
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "layerscope: internal error: %v\n", r)
			status = 3
		}
	}()
	env := &Env{Stdout: stdout, Stderr: stderr}
	if len(args) == 0 {
		return report(env, open(""))
	}
	for _, c := range commands {
		if c.name == args[0] {
			return report(env, c.run(env, args[1:]))
		}
	}
	switch a := args[0]; {
	case a == "-h" || a == "--help" || a == "-help":
		usage(stdout)
		return 0
	case strings.HasPrefix(a, "-"):
		return report(env, errUsage{"unknown flag " + a})
	case len(args) > 1:
		return report(env, errUsage{"unknown command " + a})
	}
	return report(env, open(args[0]))
}

func report(env *Env, err error) int {
	if err == nil {
		return 0
	}
	// Errors quote names from model files: a terminal must not act on the escapes they may hold.
	fmt.Fprintf(env.Stderr, "layerscope: %s\n", printable.String(err.Error()))
	var u errUsage
	if errors.As(err, &u) {
		fmt.Fprintln(env.Stderr, "run 'layerscope help' for usage")
		return 2
	}
	return 1
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Layerscope shows the architecture of transformer language models.")
	fmt.Fprintln(w, "\nUsage:\n  layerscope [MODEL]          open the window (on MODEL, or on "+gallery.Default+")")
	for _, c := range commands {
		fmt.Fprintf(w, "  layerscope %-16s %s\n", strings.TrimSpace(c.name+" "+c.args), c.help)
	}
	fmt.Fprintln(w, "\nMODEL is a model folder (config.json and/or *.safetensors), a config.json, a .safetensors file,")
	fmt.Fprintln(w, "a gallery name such as "+gallery.Default+", or a model on the Hugging Face Hub: hf:ORG/NAME[@REVISION]")
	fmt.Fprintln(w, "or https://huggingface.co/ORG/NAME (its config.json and tensor headers only).")
}

// parse parses flags and requires exactly one positional MODEL argument.
func parse(fs *flag.FlagSet, args []string, what string) (string, error) {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(reorder(fs, args)); err != nil {
		return "", errUsage{fs.Name() + ": " + err.Error()}
	}
	if fs.NArg() != 1 {
		return "", errUsage{fs.Name() + ": expected one " + what + ", got " + fmt.Sprint(fs.NArg())}
	}
	return fs.Arg(0), nil
}

// reorder moves flags after the positional argument to the front, so "tree MODEL --base" works too.
func reorder(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if f := fs.Lookup(name); f != nil && !strings.Contains(name, "=") {
				if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !bf.IsBoolFlag() {
					if i+1 < len(args) {
						flags = append(flags, args[i+1])
						i++
					}
				}
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}

func runTree(env *Env, args []string) error {
	fs := flag.NewFlagSet("tree", flag.ContinueOnError)
	base := fs.Bool("base", false, "print the class AutoModel builds (LlamaModel) instead of the causal LM")
	path, err := parse(fs, args, "MODEL")
	if err != nil {
		return err
	}
	m, err := openModel(env, path)
	if err != nil {
		return err
	}
	root := m.Spec.Root
	if *base {
		if root = m.Spec.Base(); root == nil {
			return fmt.Errorf("%s: no base model to print", m.Name)
		}
	}
	warn(env, m)
	_, err = fmt.Fprintln(env.Stdout, printable.Lines(render.ModuleTree(root)))
	return err
}

func runFacts(env *Env, args []string) error {
	fs := flag.NewFlagSet("facts", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the facts as JSON (documented in docs/FACTS_JSON.md)")
	path, err := parse(fs, args, "MODEL")
	if err != nil {
		return err
	}
	m, err := openModel(env, path)
	if err != nil {
		return err
	}
	f := m.Facts()
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(f)
	}
	_, err = io.WriteString(env.Stdout, printable.Lines(f.Text()))
	return err
}

func warn(env *Env, m *modelio.Model) {
	for _, n := range m.Notes {
		fmt.Fprintln(env.Stderr, "note: "+printable.String(n))
	}
	const most = 12
	for i, w := range m.Warnings {
		if i == most {
			fmt.Fprintf(env.Stderr, "warning: ... and %d more\n", len(m.Warnings)-most)
			break
		}
		fmt.Fprintln(env.Stderr, "warning: "+printable.String(w))
	}
}

func runGallery(env *Env, args []string) error {
	if len(args) > 0 {
		return errUsage{"gallery takes no arguments"}
	}
	for _, e := range gallery.All() {
		m, err := modelio.Open(e.Name)
		if err != nil {
			fmt.Fprintf(env.Stdout, "%-24s %-36s %v\n", e.Name, e.ID, err)
			continue
		}
		fmt.Fprintf(env.Stdout, "%-24s %-36s %-14s %3d layers  %7s parameters\n", e.Name, e.ID, m.Spec.Family,
			len(m.Arch.Blocks), facts.ShortCount(m.Spec.Root.NumParams()))
	}
	return nil
}
