package arch

import (
	"fmt"
	"sort"

	"github.com/layerscope/layerscope/modelio/config"
)

// Family turns a config.json of one model_type into the module tree transformers builds.
type Family interface {
	// Build returns the causal-LM module tree and the hyper-parameters, from config.json alone.
	// Errors quote the Hugging Face key ("hidden_size (100) must be divisible by num_attention_heads (3)").
	Build(cfg *config.Config) (*Spec, error)
}

// Spec is what a family builds from a config.
type Spec struct {
	Family string  // model_type, "llama"
	Root   *Module // the causal-LM class (LlamaForCausalLM), the class architectures[0] names
	// BasePath is the child of Root that AutoModel builds on its own ("model" or "transformer").
	BasePath string
	Hyper    Hyper
	// Notes are remarks about the config worth showing (a class transformers would substitute, an
	// ignored key), in plain words.
	Notes []string
}

// Base returns the base model (LlamaModel), the class that AutoModel builds.
func (s *Spec) Base() *Module { return s.Root.Find(s.BasePath) }

var registry = map[string]Family{}

// Register makes a family available under a config.json model_type. A duplicate name panics at start.
func Register(modelType string, f Family) {
	if _, dup := registry[modelType]; dup {
		panic(fmt.Sprintf("arch: family %q registered twice", modelType))
	}
	registry[modelType] = f
}

// Lookup returns the family registered for model_type.
func Lookup(modelType string) (Family, bool) {
	f, ok := registry[modelType]
	return f, ok
}

// ModelTypes lists the registered model_type names, sorted.
func ModelTypes() []string {
	out := make([]string, 0, len(registry))
	for k := range registry {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
