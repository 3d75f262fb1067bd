// Package neurons scores the neurons of a model's MLPs from the weights alone, for width pruning, and
// chooses how many each MLP keeps, as optipfair (peremartra/optipfair, pruning/mlp_glu.py) defines
// both. Scores are computed block by block over the memory-mapped safetensors files: the weights are
// read once, front to back, and nothing larger than a row of them is ever decoded at once.
//
// Neuron j of a GLU MLP owns g, row j of gate_proj, and u, row j of up_proj (Phi-3's fused
// gate_up_proj: rows j and I+j). Its scores:
//
//	ppm (optipfair's MAW):  (max g + |min g|) + (max u + |min u|)
//	vow:                    var(g) + var(u), torch.var's unbiased variance (divides by n−1)
//	pon:                    ‖g‖₁ · ‖u‖₁
//
// A classic MLP (GPT-2, OPT, phi, GPT-NeoX) has no gate: neuron j owns a, its input weights (row j
// of fc1, column j of GPT-2's transposed c_fc) with its bias as one more weight (on a constant input
// of 1), and b, its output weights (column j of fc2, row j of GPT-2's c_proj); the same formulas
// apply with g = a and u = b. optipfair prunes GLU models only; this extension is Layerscope's
// (docs/PRUNING.md). MoE experts are scored each on its own weights, like a dense MLP.
//
// Sums run in float64 (optipfair converts to float32), so rankings can differ from optipfair's only
// between neurons whose scores agree to about seven digits.
package neurons

import (
	"context"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/edsrzf/mmap-go"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/weights"
)

// Method is a static neuron score.
type Method uint8

const (
	PPM Method = iota + 1 // peak-to-peak magnitude: optipfair's MAW, its default
	VOW                   // variance of weights
	PON                   // product of L1 norms
	// Activation is the L2 norm, over calibration tokens, of each neuron's input to down_proj
	// (optipfair's X_d norm), measured by the compute engine: ScoreActivations.
	Activation
	// Hybrid is optipfair's data-driven score: (ppm of gate + of up + of down's column, each divided
	// by its matrix's largest + 1e-8) × the activation norm: ScoreActivations.
	Hybrid
)

// NeedsActivations reports whether a method scores from activations over calibration text.
func (m Method) NeedsActivations() bool { return m == Activation || m == Hybrid }

// DefaultMethod is optipfair's default, and Layerscope's.
const DefaultMethod = PPM

func (m Method) String() string {
	switch m {
	case PPM:
		return "ppm"
	case VOW:
		return "vow"
	case PON:
		return "pon"
	case Activation:
		return "activation"
	case Hybrid:
		return "hybrid"
	}
	return "unknown"
}

// Methods names the methods a user can ask for; "maw" is accepted as ppm's alias. The last two need
// activations over calibration text.
var Methods = []string{"ppm", "vow", "pon", "activation", "hybrid"}

// ParseMethod reads a method name, in any case; "maw" is ppm (optipfair's older name for it).
func ParseMethod(s string) (Method, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "ppm", "maw":
		return PPM, nil
	case "vow":
		return VOW, nil
	case "pon":
		return PON, nil
	case "activation":
		return Activation, nil
	case "hybrid":
		return Hybrid, nil
	}
	return 0, fmt.Errorf("unknown method %q: use ppm (alias maw), vow, pon, activation or hybrid", s)
}

// Scores are one method's scores of every MLP unit of a model.
type Scores struct {
	Method Method
	Units  []modelio.MLPUnit
	Score  [][]float64 // Score[i][j]: neuron j of Units[i]
	Bytes  int64       // bytes of weights read
}

// Score computes method's score of every neuron of every MLP of m, streaming block by block.
// progress, when not nil, is called with the blocks done and in all. ctx cancels between blocks.
func Score(ctx context.Context, m *modelio.Model, method Method, progress func(done, total int)) (*Scores, error) {
	if method.NeedsActivations() {
		return nil, fmt.Errorf("method %s scores from activations: use ScoreActivations", method)
	}
	if method < PPM || method > PON {
		return nil, fmt.Errorf("unknown scoring method %d", method)
	}
	if !m.HasWeights() {
		return nil, fmt.Errorf("%s has no weights (a gallery model or a config.json alone): neuron scores need the .safetensors files", m.Name)
	}
	units, err := modelio.MLPUnits(m)
	if err != nil {
		return nil, err
	}
	s := &Scores{Method: method, Units: units, Score: make([][]float64, len(units))}
	err = streamUnits(ctx, m, units, progress, func(i int, u modelio.MLPUnit, maps *fileMaps) error {
		a, b, n, err := unitStats(m, maps, u, method)
		if err != nil {
			return err
		}
		s.Bytes += n
		s.Score[i] = combine(method, a, b)
		for j, v := range s.Score[i] {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%s: %s: neuron %d's weights hold NaN or infinite values, so its %s score is %v: the checkpoint is broken",
					m.Name, u.Path, j, method, v)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// streamUnits maps m's weight files and calls score on each unit in turn, block by block: ctx
// cancels between units, and progress (when not nil) hears the blocks done and in all.
func streamUnits(ctx context.Context, m *modelio.Model, units []modelio.MLPUnit, progress func(done, total int),
	score func(i int, u modelio.MLPUnit, maps *fileMaps) error) error {
	maps, err := mapFiles(m.Weights)
	if err != nil {
		return err
	}
	defer maps.close()
	blocks := units[len(units)-1].Block + 1
	if progress != nil {
		progress(0, blocks)
	}
	for i, u := range units {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := score(i, u, maps); err != nil {
			return err
		}
		if progress != nil && (i == len(units)-1 || units[i+1].Block != u.Block) {
			progress(u.Block+1, blocks)
		}
	}
	return nil
}

// combine turns the two sides' statistics into one score per neuron.
func combine(method Method, a, b *stats) []float64 {
	out := make([]float64, a.width)
	for j := range out {
		switch method {
		case PPM:
			out[j] = (a.max[j] + math.Abs(a.min[j])) + (b.max[j] + math.Abs(b.min[j]))
		case VOW:
			out[j] = a.variance(j) + b.variance(j)
		case PON:
			out[j] = a.l1[j] * b.l1[j]
		}
	}
	return out
}

// unitStats reads one unit's tensors and returns the statistics of each neuron's two vectors, and
// the bytes read.
func unitStats(m *modelio.Model, maps *fileMaps, u modelio.MLPUnit, method Method) (a, b *stats, read int64, err error) {
	width := int(u.Width)
	a, b = newStats(width, method), newStats(width, method)
	tensor := func(name string, want ...int64) (*weights.Tensor, []byte, error) {
		t, err := modelio.UnitTensor(m, name)
		if err != nil {
			return nil, nil, err
		}
		if !sameShape(t.Shape, want) {
			return nil, nil, fmt.Errorf("%s: %s has shape %v, want %v", m.Name, t.Name, t.Shape, want)
		}
		data, err := maps.bytes(t)
		if err != nil {
			return nil, nil, err
		}
		read += int64(len(data))
		return t, data, nil
	}
	H := u.Hidden
	switch u.Kind {
	case modelio.MLPGLU:
		g, gd, err := tensor(u.Gate.Weight(), u.Width, H)
		if err != nil {
			return nil, nil, 0, err
		}
		up, ud, err := tensor(u.Up.Weight(), u.Width, H)
		if err != nil {
			return nil, nil, 0, err
		}
		if err := feedRows(a, g.DType, gd, width, int(H)); err != nil {
			return nil, nil, 0, fmt.Errorf("%s: %v", g.File, err)
		}
		if err := feedRows(b, up.DType, ud, width, int(H)); err != nil {
			return nil, nil, 0, fmt.Errorf("%s: %v", up.File, err)
		}
	case modelio.MLPFusedGLU:
		gu, d, err := tensor(u.GateUp.Weight(), 2*u.Width, H)
		if err != nil {
			return nil, nil, 0, err
		}
		half := len(d) / 2
		if err := feedRows(a, gu.DType, d[:half], width, int(H)); err != nil {
			return nil, nil, 0, fmt.Errorf("%s: %v", gu.File, err)
		}
		if err := feedRows(b, gu.DType, d[half:], width, int(H)); err != nil {
			return nil, nil, 0, fmt.Errorf("%s: %v", gu.File, err)
		}
	case modelio.MLPClassic:
		if u.Up.Conv1D {
			t, d, err := tensor(u.Up.Weight(), H, u.Width)
			if err != nil {
				return nil, nil, 0, err
			}
			if err := feedCols(a, t.DType, d, int(H), width); err != nil {
				return nil, nil, 0, fmt.Errorf("%s: %v", t.File, err)
			}
		} else {
			t, d, err := tensor(u.Up.Weight(), u.Width, H)
			if err != nil {
				return nil, nil, 0, err
			}
			if err := feedRows(a, t.DType, d, width, int(H)); err != nil {
				return nil, nil, 0, fmt.Errorf("%s: %v", t.File, err)
			}
		}
		if u.Up.Bias {
			t, d, err := tensor(u.Up.BiasName(), u.Width)
			if err != nil {
				return nil, nil, 0, err
			}
			if err := feedCols(a, t.DType, d, 1, width); err != nil {
				return nil, nil, 0, fmt.Errorf("%s: %v", t.File, err)
			}
		}
		if u.Down.Conv1D {
			t, d, err := tensor(u.Down.Weight(), u.Width, H)
			if err != nil {
				return nil, nil, 0, err
			}
			if err := feedRows(b, t.DType, d, width, int(H)); err != nil {
				return nil, nil, 0, fmt.Errorf("%s: %v", t.File, err)
			}
		} else {
			t, d, err := tensor(u.Down.Weight(), H, u.Width)
			if err != nil {
				return nil, nil, 0, err
			}
			if err := feedCols(b, t.DType, d, int(H), width); err != nil {
				return nil, nil, 0, fmt.Errorf("%s: %v", t.File, err)
			}
		}
	}
	return a, b, read, nil
}

func sameShape(got, want []int64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// fileMaps maps a model's safetensors files read-only.
type fileMaps struct{ m map[string]mmap.MMap }

func mapFiles(ws *weights.Set) (*fileMaps, error) {
	fm := &fileMaps{m: map[string]mmap.MMap{}}
	for _, path := range ws.Files {
		f, err := os.Open(path)
		if err != nil {
			fm.close()
			return nil, fmt.Errorf("%s: %v", path, plain(err))
		}
		info, err := f.Stat()
		if err != nil || info.Size() == 0 {
			f.Close()
			if err == nil {
				continue // a tensor pointing into an empty file fails in bytes
			}
			fm.close()
			return nil, fmt.Errorf("%s: %v", path, plain(err))
		}
		mm, err := mmap.Map(f, mmap.RDONLY, 0)
		f.Close()
		if err != nil {
			fm.close()
			return nil, fmt.Errorf("%s: cannot map the file: %v", path, err)
		}
		fm.m[path] = mm
	}
	return fm, nil
}

// bytes returns t's data, a view of the map. A tensor of a narrowed model not yet written (a
// weights.Pick) is refused: its bytes are not where its header says.
func (fm *fileMaps) bytes(t *weights.Tensor) ([]byte, error) {
	if t.Pick != nil {
		return nil, fmt.Errorf("%s is narrowed but not written: score the model before narrowing it, or the written copy", t.Name)
	}
	mm := fm.m[t.File]
	if t.Offset < 0 || t.Size < 0 || t.Offset+t.Size > int64(len(mm)) {
		return nil, fmt.Errorf("%s: tensor %s lies past the end of the file (bytes %d to %d of %d)", t.File, t.Name, t.Offset, t.Offset+t.Size, len(mm))
	}
	return mm[t.Offset : t.Offset+t.Size : t.Offset+t.Size], nil
}

func (fm *fileMaps) close() {
	for path, mm := range fm.m {
		mm.Unmap()
		delete(fm.m, path)
	}
}

func plain(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
