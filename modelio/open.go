// Package modelio opens models: a Hugging Face model folder, a config.json, a single .safetensors file,
// or a gallery name. It reads config.json and only the headers of the safetensors files, and returns
// the architecture description that every other part of Layerscope draws, prints or runs.
package modelio

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/config"
	"github.com/layerscope/layerscope/modelio/facts"
	"github.com/layerscope/layerscope/modelio/family/hfconfig"
	"github.com/layerscope/layerscope/modelio/gallery"
	"github.com/layerscope/layerscope/modelio/generic"
	"github.com/layerscope/layerscope/modelio/gguf"
	"github.com/layerscope/layerscope/modelio/printable"
	"github.com/layerscope/layerscope/modelio/quant"
	"github.com/layerscope/layerscope/modelio/weights"
)

// Model is an opened model.
type Model struct {
	// Name is what a person calls it: the gallery short name, the Hugging Face id of a cache
	// snapshot, or the folder name.
	Name string
	// Path is the folder or file opened; "" for a gallery model.
	Path   string
	Config *config.Config // nil when the folder has only weights
	Spec   *arch.Spec     // the module tree, resized from the weights where they exist
	Arch   *arch.Architecture
	// Weights holds the tensor headers; nil when there are none (a gallery model, a bare config.json).
	Weights *weights.Set
	// Warnings are disagreements between config.json and the weights, and tensors nothing reads.
	Warnings []string
	// Notes are remarks on the config worth knowing (an unused key, remote code not needed).
	Notes []string
	// Generic is true when the family is unknown and the description was grouped from tensor names.
	Generic bool
	// Remote is true for a model on the Hub (Path "hf:org/name"), read by its headers: its weights are
	// not on this machine. Commit is the Hub commit it was read at.
	Remote bool
	Commit string
	// Quant is how the weights are quantized (see quantized.go) (bitsandbytes, GPTQ, AWQ, or a GGUF file's types); nil
	// for full-precision weights.
	Quant *quant.Scheme
	// GGUF is true when the model was read from a GGUF file (see gguf.go).
	GGUF bool

	// The fields below are set only on a pruned model from RemoveBlocks (see prune.go).

	// Removed lists the blocks taken out, as the opened model numbered them, ascending.
	Removed []int
	// SourceLayer maps each block of this model to its block in the opened model: block i was
	// SourceLayer[i] there, and its tensors still lie in the opened model's files under that index.
	SourceLayer []int
	// SourceParams is the parameter count of the opened model, so "parameters saved" needs no second
	// model: SourceParams - Spec.Root.NumParams().
	SourceParams int64
	// ConfigEdits are the config.json keys the pruning sets, in order; a pruned copy's config.json is
	// the source's with these applied (package modelio/prune).
	ConfigEdits []ConfigEdit
	// Narrowed lists the MLP widths a width pruning (NarrowMLP) changed, from the opened model's.
	Narrowed   []WidthChange
	sourceName string // the opened model's Name, before the " − blocks ..." suffix
}

// Open opens path: a model folder, a config.json, a .safetensors file, a .gguf file (or a folder
// holding one), a gallery name, or a model on the Hugging Face Hub (hf:org/name, hf:org/name@revision,
// or its page's URL), read by its headers.
// Errors are one line naming the file and what is wrong. Nothing is ever written.
func Open(path string) (*Model, error) {
	if isHubRef(path) {
		return openHub(context.Background(), path, nil)
	}
	info, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if e, ok := gallery.Find(path); ok {
				return openGallery(e)
			}
			if _, lerr := os.Lstat(path); lerr == nil {
				return nil, fmt.Errorf("%s: broken symbolic link", path)
			}
			return nil, fmt.Errorf("%s: no such file or folder, and no gallery model of that name (see: layerscope gallery)", path)
		}
		return nil, fmt.Errorf("%s: %v", path, plainError(err))
	}
	if info.IsDir() {
		return openFolder(path, path)
	}
	switch {
	case strings.HasSuffix(path, ".safetensors"):
		return openSafetensorsFile(path)
	case gguf.IsGGUFName(path):
		return openGGUF(path)
	case strings.HasSuffix(path, ".json"):
		m, err := openFolderWithConfig(filepath.Dir(path), path)
		if err != nil {
			return nil, err
		}
		return m, nil
	}
	return nil, fmt.Errorf("%s: not a model folder, config.json, .safetensors or .gguf file", path)
}

func openGallery(e gallery.Entry) (*Model, error) {
	cfg, err := config.Parse(e.ID+" (gallery) config.json", e.Config())
	if err != nil {
		return nil, err
	}
	return describe(&Model{Name: e.Name, Config: cfg})
}

func openFolder(dir, display string) (*Model, error) {
	cfgPath := filepath.Join(dir, "config.json")
	if _, err := os.Stat(cfgPath); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %v", cfgPath, plainError(err))
		}
		cfgPath = ""
	}
	return openFolderWithConfig(dir, cfgPath)
}

func openFolderWithConfig(dir, cfgPath string) (*Model, error) {
	m := &Model{Name: displayName(dir), Path: dir}
	if cfgPath != "" {
		m.Path = cfgPath
		cfg, err := config.ReadFile(cfgPath)
		if err != nil {
			return nil, err
		}
		m.Config = cfg
	}
	ws, err := weights.ReadFolder(dir)
	if err != nil {
		return nil, err
	}
	if ws == nil {
		// A folder of GGUF files (an Ollama export, a llama.cpp download) and no safetensors.
		if p, found, err := gguf.FindInFolder(dir); err != nil {
			return nil, err
		} else if found {
			return openGGUF(p)
		}
	}
	if cfgPath == "" {
		m.Path = dir
		if ws == nil {
			return nil, fmt.Errorf("%s: no config.json and no .safetensors files: not a model folder", dir)
		}
	}
	m.Weights = ws
	return describe(m)
}

func openSafetensorsFile(path string) (*Model, error) {
	ws, err := weights.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	m := &Model{Name: displayName(dir), Path: path, Weights: ws}
	if cfgPath := filepath.Join(dir, "config.json"); fileExists(cfgPath) {
		cfg, err := config.ReadFile(cfgPath)
		if err != nil {
			return nil, err
		}
		m.Config = cfg
	}
	return describe(m)
}

// describe builds the spec from the family (or from tensor names when the family is unknown),
// reconciles it with the weights and derives the architecture.
func describe(m *Model) (*Model, error) {
	var fam arch.Family
	modelType := ""
	if m.Config != nil {
		modelType = m.Config.String("model_type", "")
		hfconfig.CheckSizes(m.Config) // before any module tree is built from the sizes
		if err := m.Config.Err(); err != nil {
			return nil, err
		}
		fam, _ = arch.Lookup(modelType)
	}
	if fam == nil {
		if m.Weights == nil {
			if modelType == "" {
				return nil, fmt.Errorf("%s: model_type is missing, and there are no weights to describe the model from", m.Config.Path)
			}
			return nil, fmt.Errorf("%s: model_type %q is not a family Layerscope knows (%s), and there are no weights to describe it from",
				m.Config.Path, modelType, strings.Join(arch.ModelTypes(), ", "))
		}
		q, err := m.readQuant()
		if err != nil {
			return nil, err
		}
		spec, err := generic.Build(m.Config, q.Logical(m.Weights))
		if err != nil {
			return nil, err
		}
		m.Spec, m.Generic = spec, true
		m.takeQuant(q, spec.Root)
	} else {
		spec, err := fam.Build(m.Config)
		if err != nil {
			return nil, err
		}
		m.Spec = spec
		if want := m.Config.Strings("architectures"); len(want) > 0 && want[0] != spec.Root.Class {
			m.Warnings = append(m.Warnings, fmt.Sprintf("config.json names %s; Layerscope shows %s, the causal-LM class of %s", want[0], spec.Root.Class, modelType))
		}
		if m.Weights != nil {
			q, err := m.readQuant()
			if err != nil {
				return nil, err
			}
			q.Prepare(spec.Root)
			w, placed := arch.Reconcile(spec.Root, q.Lookup(m.lookup))
			stored := make(map[string]bool, len(placed))
			for name := range placed {
				stored[m.TensorName(name)] = true
			}
			placed = stored
			m.Warnings = append(m.Warnings, w...)
			for _, name := range q.Placed() {
				placed[name] = true
			}
			m.takeQuant(q, spec.Root)
			m.Warnings = append(m.Warnings, unplaced(m.Weights, placed, spec.Root.Class)...)
		}
	}
	if arch.Overflows(m.Spec.Root.NumParams()) {
		return nil, fmt.Errorf("%s: its sizes make more parameters than a 64-bit count holds: not a real model", m.source())
	}
	m.Notes = m.Spec.Notes
	m.Arch = arch.Describe(m.Spec)
	return m, nil
}

// source names what m was opened from, for errors: its config.json, else its folder or file.
func (m *Model) source() string {
	if m.Config != nil {
		return m.Config.Path
	}
	return m.Path
}

// TensorName returns the name under which m's weights store the parameter that the module tree calls
// name: name itself, or name without the base model's prefix where the checkpoint was saved from the
// base model, as openai-community/gpt2 stores wte.weight and h.0.attn.c_attn.weight for
// transformer.wte.weight, and facebook/opt-* store decoder.layers.0.fc1.weight for
// model.decoder.layers.0.fc1.weight (transformers' from_pretrained strips base_model_prefix the same
// way). Everything that reads tensors by their module-tree name (the description, the compute
// engine) goes through it, so they agree on what is missing. Without weights it returns name.
func (m *Model) TensorName(name string) string {
	if m.Weights == nil {
		return name
	}
	if _, ok := m.Weights.Tensors[name]; ok {
		return name
	}
	if base := m.Spec.BasePath; base != "" {
		if bare, ok := strings.CutPrefix(name, base+"."); ok {
			if _, ok := m.Weights.Tensors[bare]; ok {
				return bare
			}
		}
	}
	return name
}

func (m *Model) lookup(name string) ([]int64, string, bool) {
	t, ok := m.Weights.Tensors[m.TensorName(name)]
	if !ok {
		return nil, "", false
	}
	return t.Shape, t.DType, true
}

var layerIndex = regexp.MustCompile(`\.\d+\.`)

// unplaced reports the tensors no module reads, grouped by their name with layer indices hidden.
func unplaced(ws *weights.Set, placed map[string]bool, class string) []string {
	groups := map[string]int{}
	var order []string
	for _, name := range ws.Names {
		if placed[name] {
			continue
		}
		g := printable.String(layerIndex.ReplaceAllString(name, ".N."))
		if groups[g] == 0 {
			order = append(order, g)
		}
		groups[g]++
	}
	var out []string
	for _, g := range order {
		if n := groups[g]; n > 1 {
			out = append(out, fmt.Sprintf("%d tensors %s in the weights are not part of %s", n, g, class))
		} else {
			out = append(out, fmt.Sprintf("tensor %s in the weights is not part of %s", g, class))
		}
	}
	return append(out, ws.Warnings...)
}

// displayName names a folder as a person would: the Hugging Face id for a cache snapshot
// (…/models--org--name/snapshots/<hash>), else the folder's own name.
func displayName(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	parts := strings.Split(filepath.ToSlash(abs), "/")
	for i := len(parts) - 1; i >= 0; i-- {
		if strings.HasPrefix(parts[i], "models--") && i+1 < len(parts) && parts[i+1] == "snapshots" {
			return strings.Replace(strings.TrimPrefix(parts[i], "models--"), "--", "/", 1)
		}
	}
	return filepath.Base(abs)
}

func fileExists(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir()
}

// plainError strips Go's "op path:" wrapping where the caller already names the path.
func plainError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Gallery lists the embedded models' short names.
func Gallery() []string {
	var out []string
	for _, e := range gallery.All() {
		out = append(out, e.Name)
	}
	sort.Strings(out)
	return out
}

// HasWeights reports whether m was opened with .safetensors files: what computing, pruning and
// copying need (a gallery model, a lone config.json or a model on the Hub has none).
func (m *Model) HasWeights() bool { return m.Weights != nil && len(m.Weights.Files) > 0 && !m.Remote }

// Facts computes the key facts, with the warnings of opening attached.
func (m *Model) Facts() *facts.Facts {
	var stored int64
	var dtypes map[string]int64
	if m.Weights != nil {
		dtypes = map[string]int64{}
		for _, t := range m.Weights.Tensors {
			stored += t.Size
			dtypes[t.DType]++
		}
	}
	// A what-if without some blocks names its blocks with the opened model's numbers, as the stack does.
	f := facts.ComputeNumbered(m.Name, m.Spec, m.Arch, stored, dtypes, m.SourceLayer)
	f.Quantization = m.quantFacts(stored, f.Parameters.Total)
	f.Warnings = append(f.Warnings, m.Warnings...)
	return f
}
