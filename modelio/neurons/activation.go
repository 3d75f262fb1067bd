package neurons

import (
	"context"
	"fmt"
	"math"

	"github.com/layerscope/layerscope/modelio"
)

// ScoreActivations scores every MLP neuron of m with Activation or Hybrid, given norms[i][j], the
// activation norm of neuron j of unit i of MLPUnits(m) (compute.Session.NeuronActivations measures
// them). Hybrid reads the weights as Score does, block by block, for its static half:
//
//	hybrid_j = (ppm(gate_j)/(max ppm(gate) + 1e-8) + ppm(up_j)/(… up) + ppm(down column j)/(… down)) × norm_j
//
// as optipfair's compute_neuron_pair_importance_maw_hybrid, with ppm(v) = max v + |min v|. A classic
// MLP has two terms: its input weights with their bias, and its output weights (docs/PRUNING.md).
func ScoreActivations(ctx context.Context, m *modelio.Model, method Method, norms [][]float64, progress func(done, total int)) (*Scores, error) {
	if !method.NeedsActivations() {
		return nil, fmt.Errorf("method %s scores from the weights alone: use Score", method)
	}
	units, err := modelio.MLPUnits(m)
	if err != nil {
		return nil, err
	}
	if len(norms) != len(units) {
		return nil, fmt.Errorf("%s: %d MLPs, activations of %d", m.Name, len(units), len(norms))
	}
	for i, u := range units {
		if int64(len(norms[i])) != u.Width {
			return nil, fmt.Errorf("%s: %s has %d neurons, %d activations", m.Name, u.Path, u.Width, len(norms[i]))
		}
	}
	s := &Scores{Method: method, Units: units, Score: make([][]float64, len(units))}
	if method == Activation {
		for i := range units {
			s.Score[i] = append([]float64(nil), norms[i]...)
		}
		return s, nil
	}
	if !m.HasWeights() {
		return nil, fmt.Errorf("%s has no weights: the hybrid score needs the .safetensors files", m.Name)
	}
	err = streamUnits(ctx, m, units, true, progress, func(i int, u modelio.MLPUnit, files *weightFiles) error {
		a, b, n, err := unitStats(m, files, u, PPM)
		if err != nil {
			return err
		}
		s.Bytes += n
		terms := []*stats{a, b}
		if u.Kind != modelio.MLPClassic { // GLU: gate, up, and down's columns
			t, err := modelio.UnitTensor(m, u.Down.Weight())
			if err != nil {
				return err
			}
			x, err := files.matrix(t)
			if err != nil {
				return err
			}
			s.Bytes += x.size
			d := newStats(int(u.Width), PPM)
			if err := feedCols(d, x, int(u.Hidden), int(u.Width)); err != nil {
				return err
			}
			terms = append(terms, d)
		}
		structural := make([]float64, u.Width)
		for _, st := range terms {
			ptp := make([]float64, u.Width)
			top := math.Inf(-1)
			for j := range ptp {
				ptp[j] = st.max[j] + math.Abs(st.min[j])
				top = max(top, ptp[j])
			}
			for j := range ptp {
				structural[j] += ptp[j] / (top + 1e-8)
			}
		}
		s.Score[i] = make([]float64, u.Width)
		for j := range structural {
			s.Score[i][j] = structural[j] * norms[i][j]
			if math.IsNaN(s.Score[i][j]) || math.IsInf(s.Score[i][j], 0) {
				return fmt.Errorf("%s: %s: neuron %d's hybrid score is %v: its weights or activations hold NaN or infinite values", m.Name, u.Path, j, s.Score[i][j])
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}
