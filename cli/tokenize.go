package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/layerscope/layerscope/modelio/gallery"
	"github.com/layerscope/layerscope/modelio/printable"
	"github.com/layerscope/layerscope/modelio/tokenizer"

	"github.com/layerscope/layerscope/modelio/safefile"
)

// runTokenize shows how a model's tokenizer splits a text: one row per token with its id and piece,
// or, with --json, the plain array of ids (what `importance --tokens` takes per sample).
func runTokenize(env *Env, args []string) error {
	fs := flag.NewFlagSet("tokenize", flag.ContinueOnError)
	textFile := fs.String("text", "", "read the text from FILE instead of the command line")
	asJSON := fs.Bool("json", false, "print a JSON array of ids")
	plain := fs.Bool("plain", false, "add no special tokens (no BOS)")
	fs.SetOutput(io.Discard)
	if err := fs.Parse(reorder(fs, args)); err != nil {
		return errUsage{"tokenize: " + err.Error()}
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return errUsage{"tokenize: expected MODEL and a STRING or --text FILE"}
	}
	model, rest := rest[0], rest[1:]
	var text string
	switch {
	case *textFile != "" && len(rest) > 0:
		return errUsage{"tokenize: give a STRING or --text FILE, not both"}
	case *textFile != "":
		data, err := safefile.ReadFile(*textFile, safefile.MaxTokenizerBytes)
		if err != nil {
			return err
		}
		text = string(data)
	case len(rest) == 1:
		text = rest[0]
	default:
		return errUsage{"tokenize: expected one STRING (quote it) or --text FILE"}
	}
	tok, err := loadTokenizer(model)
	if err != nil {
		return err
	}
	ids, err := tok.Encode(text, !*plain)
	if err != nil {
		return err
	}
	if *asJSON {
		if ids == nil {
			ids = []int{}
		}
		return json.NewEncoder(env.Stdout).Encode(ids)
	}
	pieces := tok.Pieces(ids)
	for i, id := range ids {
		fmt.Fprintf(env.Stdout, "%8d  %s\n", id, visible(pieces[i]))
	}
	fmt.Fprintf(env.Stdout, "%d tokens, %d characters\n", len(ids), len([]rune(text)))
	return nil
}

// loadTokenizer finds tokenizer.json in a model folder, or beside a config.json or .safetensors file.
func loadTokenizer(model string) (*tokenizer.Tokenizer, error) {
	info, err := os.Stat(model)
	if err != nil {
		if _, ok := gallery.Find(model); ok {
			return nil, fmt.Errorf("%s: gallery models carry only config.json, no tokenizer.json: give a model folder", model)
		}
		return nil, fmt.Errorf("%s: %v", model, unwrapPath(err))
	}
	dir := model
	if !info.IsDir() {
		dir = filepath.Dir(model)
	}
	return tokenizer.Load(dir)
}

// visible shows a piece with its spaces and control characters readable: "·the", "\n", "\x1b".
func visible(piece string) string {
	return printable.String(strings.ReplaceAll(piece, " ", "·"))
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
