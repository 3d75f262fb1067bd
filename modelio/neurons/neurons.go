// Package neurons scores the neurons of a model's MLPs from the weights alone, for width pruning, and
// chooses how many each MLP keeps, as optipfair (peremartra/optipfair, pruning/mlp_glu.py) defines
// both. Scores are computed block by block over the safetensors files: the weights are read once,
// front to back, a chunk of rows at a time per core, and never held beyond the chunk.
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

	"github.com/layerscope/layerscope/modelio"
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
	err = streamUnits(ctx, m, units, false, progress, func(i int, u modelio.MLPUnit, files *weightFiles) error {
		a, b, n, err := unitStats(m, files, u, method)
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

// streamUnits opens m's weight files and calls score on each unit in turn, block by block, the
// next unit's tensors (with a GLU's down_proj when down) already asked of the disk: ctx cancels
// between units, and progress (when not nil) hears the blocks done and in all.
func streamUnits(ctx context.Context, m *modelio.Model, units []modelio.MLPUnit, down bool, progress func(done, total int),
	score func(i int, u modelio.MLPUnit, files *weightFiles) error) error {
	files, err := openFiles(m.Weights)
	if err != nil {
		return err
	}
	defer files.close()
	blocks := units[len(units)-1].Block + 1
	if progress != nil {
		progress(0, blocks)
	}
	sizes := make([]int64, len(units)) // bytes asked of the disk per unit
	next, pending := 0, int64(0)       // the next unit to ask for; bytes asked, not yet scored
	for i, u := range units {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Up to prefetchBytes of the coming units' weights on their way, the next unit's at least.
		for next < len(units) && (next <= i+1 || pending < prefetchBytes) {
			sizes[next] = files.prefetch(m, readTensors(units[next], down))
			pending += sizes[next]
			next++
		}
		pending -= sizes[i]
		if err := score(i, u, files); err != nil {
			return err
		}
		if progress != nil && (i == len(units)-1 || units[i+1].Block != u.Block) {
			progress(u.Block+1, blocks)
		}
	}
	return nil
}

// prefetchBytes bounds the weights asked of the disk ahead of the scoring: enough to keep a disk
// busy while a few units are scored, little enough not to push them out of a small page cache.
const prefetchBytes = 256 << 20

// readTensors names the tensors a unit's scores read: a GLU's gate and up weights (Phi-3's fused
// gate_up), with down's when down (the hybrid score); a classic MLP's fc1 weight and bias, and fc2.
func readTensors(u modelio.MLPUnit, down bool) []string {
	var names []string
	switch u.Kind {
	case modelio.MLPGLU:
		names = []string{u.Gate.Weight(), u.Up.Weight()}
	case modelio.MLPFusedGLU:
		names = []string{u.GateUp.Weight()}
	case modelio.MLPClassic:
		names = []string{u.Up.Weight(), u.Down.Weight()}
		if u.Up.Bias {
			names = append(names, u.Up.BiasName())
		}
		return names
	}
	if down {
		names = append(names, u.Down.Weight())
	}
	return names
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
func unitStats(m *modelio.Model, files *weightFiles, u modelio.MLPUnit, method Method) (a, b *stats, read int64, err error) {
	width := int(u.Width)
	a, b = newStats(width, method), newStats(width, method)
	tensor := func(name string, want ...int64) (matrix, error) {
		t, err := modelio.UnitTensor(m, name)
		if err != nil {
			return matrix{}, err
		}
		if !sameShape(t.Shape, want) {
			return matrix{}, fmt.Errorf("%s: %s has shape %v, want %v", m.Name, t.Name, t.Shape, want)
		}
		x, err := files.matrix(t)
		if err != nil {
			return matrix{}, err
		}
		read += x.size
		return x, nil
	}
	H := u.Hidden
	switch u.Kind {
	case modelio.MLPGLU:
		gd, err := tensor(u.Gate.Weight(), u.Width, H)
		if err != nil {
			return nil, nil, 0, err
		}
		ud, err := tensor(u.Up.Weight(), u.Width, H)
		if err != nil {
			return nil, nil, 0, err
		}
		if err := feedRows(width, int(H), rowsInto{a, gd}, rowsInto{b, ud}); err != nil {
			return nil, nil, 0, err
		}
	case modelio.MLPFusedGLU:
		d, err := tensor(u.GateUp.Weight(), 2*u.Width, H)
		if err != nil {
			return nil, nil, 0, err
		}
		if err := feedRows(width, int(H), rowsInto{a, d.half(0)}, rowsInto{b, d.half(1)}); err != nil {
			return nil, nil, 0, err
		}
	case modelio.MLPClassic:
		if u.Up.Conv1D {
			d, err := tensor(u.Up.Weight(), H, u.Width)
			if err != nil {
				return nil, nil, 0, err
			}
			if err := feedCols(a, d, int(H), width); err != nil {
				return nil, nil, 0, err
			}
		} else {
			d, err := tensor(u.Up.Weight(), u.Width, H)
			if err != nil {
				return nil, nil, 0, err
			}
			if err := feedRows(width, int(H), rowsInto{a, d}); err != nil {
				return nil, nil, 0, err
			}
		}
		if u.Up.Bias {
			d, err := tensor(u.Up.BiasName(), u.Width)
			if err != nil {
				return nil, nil, 0, err
			}
			if err := feedCols(a, d, 1, width); err != nil {
				return nil, nil, 0, err
			}
		}
		if u.Down.Conv1D {
			d, err := tensor(u.Down.Weight(), u.Width, H)
			if err != nil {
				return nil, nil, 0, err
			}
			if err := feedRows(width, int(H), rowsInto{b, d}); err != nil {
				return nil, nil, 0, err
			}
		} else {
			d, err := tensor(u.Down.Weight(), H, u.Width)
			if err != nil {
				return nil, nil, 0, err
			}
			if err := feedCols(b, d, int(H), width); err != nil {
				return nil, nil, 0, err
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

func plain(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
