// Package render turns the architecture description into what people read and see, without a GUI
// toolkit: the module-tree text, the diagram layout in model units, and the PNG and SVG exporters.
package render

import "github.com/layerscope/layerscope/modelio/arch"

// ModuleTree returns exactly what PyTorch's print(model) shows for m: arch.Repr, which modelio uses
// too (to fold identical blocks), so it lives below both.
func ModuleTree(m *arch.Module) string { return arch.Repr(m) }
