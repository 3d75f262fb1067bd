package modelio

import (
	"fmt"
	"math"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/facts"
	"github.com/layerscope/layerscope/modelio/quant"
)

// readQuant reads how m's safetensors are quantized; nil (which every quant.Checkpoint method takes
// as "not quantized") for full-precision weights and for GGUF files, whose types are their own.
func (m *Model) readQuant() (*quant.Checkpoint, error) {
	if m.GGUF || m.Weights == nil {
		return nil, nil
	}
	return quant.Read(m.Config, m.Weights)
}

// takeQuant gives the quantized layers of root transformers' classes and keeps the scheme and the
// disagreements with quantization_config.
func (m *Model) takeQuant(q *quant.Checkpoint, root *arch.Module) {
	if q == nil {
		return
	}
	q.Apply(root, quant.SkipList(m.Config))
	m.Warnings = append(m.Warnings, q.Warnings...)
	if len(q.Layers) > 0 {
		m.Quant = &q.Scheme
	}
}

// ComputeError says in one line why Layerscope cannot run m's weights (a GGUF file, a quantized
// checkpoint), or nil when it can as far as the format goes.
func (m *Model) ComputeError() error {
	switch {
	case m.GGUF:
		return fmt.Errorf("%s is a GGUF file: Layerscope reads its architecture but does not compute with GGUF weights; open the safetensors original to run it", m.Name)
	case m.Quant != nil:
		return fmt.Errorf("%s holds %s weights: Layerscope computes only with full-precision safetensors (F32, F16, BF16); open the unquantized original to run it", m.Name, m.quantFacts(0, 0).Summary())
	}
	return nil
}

// quantFacts is the quantization part of the facts: nil for full-precision weights.
func (m *Model) quantFacts(stored, params int64) *facts.Quantization {
	q := m.Quant
	if q == nil {
		return nil
	}
	f := &facts.Quantization{Method: q.Method, Format: q.Format, Bits: q.Bits, GroupSize: q.GroupSize,
		Skipped: append([]string{}, q.Skipped...)}
	if params > 0 {
		f.BitsPerWeight = math.Round(float64(stored)*8/float64(params)*100) / 100
	}
	return f
}
