package modelio

import (
	"path/filepath"
	"strings"

	"github.com/layerscope/layerscope/modelio/gguf"
	"github.com/layerscope/layerscope/modelio/quant"
)

// openGGUF opens a GGUF file (or the first shard of a split one) with the family its architecture
// metadata names, so its stack, tree and facts are those of the safetensors original.
func openGGUF(path string) (*Model, error) {
	f, err := gguf.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return FromGGUF(path, ggufDisplayName(path, f), f)
}

// FromGGUF describes a GGUF header read by the caller (package gguf's ReadFile, or FromParsed for a
// remote file): path is what Model.Path shows, name what a person calls the model.
func FromGGUF(path, name string, f *gguf.File) (*Model, error) {
	m := &Model{Name: name, Path: path, Config: f.Config, Weights: f.Weights, GGUF: true}
	if _, err := describe(m); err != nil {
		return nil, err
	}
	m.Notes = append(append([]string{}, m.Notes...), f.Notes...)
	m.Quant = &quant.Scheme{Method: "gguf", Format: f.FileType}
	return m, nil
}

// ggufDisplayName is general.name when the file has one, else the file name without its shard
// suffix and extension.
func ggufDisplayName(path string, f *gguf.File) string {
	if f.Name != "" {
		return strings.Join(strings.Fields(f.Name), " ")
	}
	base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	if i := strings.LastIndex(base, "-00001-of-"); i > 0 {
		base = base[:i]
	}
	return base
}
