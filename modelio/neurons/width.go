package neurons

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/layerscope/layerscope/modelio"
)

// Divisors are the multiples optipfair rounds a kept width to (its expansion_divisor).
var Divisors = []int{32, 64, 128, 256}

// Target is how much to prune: Percent of every MLP's neurons (optipfair's pruning_percentage), or
// the percentage that gives an intermediate size of ExpansionPct % of the hidden size (optipfair's
// expansion_rate, I/H × 100: 400 for Llama-3.2-1B); exactly one is set. Divisor, when not 0, rounds
// the kept width to its nearest multiple.
type Target struct {
	Percent      float64
	ExpansionPct float64
	Divisor      int
}

// KeptCount is how many of width neurons stay when percent of them are removed, as optipfair's
// prune_neuron_pairs counts them: min(int(percent/100 × width), width−1) are removed; with a divisor
// the rest is rounded to its nearest multiple (Python's round: halves to even), and never past width.
// A percent outside (0, 100) and a width that rounds to zero are errors (optipfair accepts 0 and 100
// and raises a rounded zero to 1; Layerscope refuses both: docs/PRUNING.md).
func KeptCount(width int64, percent float64, divisor int) (int64, error) {
	if !(percent > 0 && percent < 100) {
		return 0, fmt.Errorf("--width: %v%% is outside (0, 100): give the share of neurons to remove, e.g. 40%%", percent)
	}
	if divisor != 0 && !slices.Contains(Divisors, divisor) {
		return 0, fmt.Errorf("--divisor: %d is not one of 32, 64, 128, 256", divisor)
	}
	pruned := min(int64(percent/100*float64(width)), width-1)
	k := width - pruned
	if divisor != 0 {
		k = min(int64(math.RoundToEven(float64(k)/float64(divisor)))*int64(divisor), width)
		if k <= 0 {
			return 0, fmt.Errorf("--divisor: %d neurons kept of %d round to 0 as a multiple of %d: prune less or use a smaller divisor",
				width-pruned, width, divisor)
		}
	}
	return k, nil
}

// PercentForExpansion is optipfair's calculate_pruning_percentage_from_expansion_rate: the percentage
// of width that leaves ratePct % of hidden, (1 − (ratePct/100 × hidden)/width) × 100. A target at or
// above the current width is an error.
func PercentForExpansion(width, hidden int64, ratePct float64) (float64, error) {
	if !(ratePct > 0) || math.IsInf(ratePct, 0) {
		return 0, fmt.Errorf("--expansion: %v%% of the hidden size is not a width", ratePct)
	}
	target := ratePct / 100 * float64(hidden)
	if target >= float64(width) {
		return 0, fmt.Errorf("--expansion: %s would not shrink the MLP: it is %s now (%d of hidden %d)",
			Expansion(int64(math.Round(target)), hidden), Expansion(width, hidden), width, hidden)
	}
	return (1 - target/float64(width)) * 100, nil
}

// Expansion writes an MLP's expansion ratio in both conventions of the literature, saying which is
// which: "4.00× (I/H; 300% as (I−H)/H)".
func Expansion(width, hidden int64) string {
	r := float64(width) / float64(max(hidden, 1))
	return fmt.Sprintf("%.2f× (I/H; %.0f%% as (I−H)/H)", r, (r-1)*100)
}

// Widths returns the kept width of every config.json width key of units: the percentage of target
// applied to each key's width. An expansion target is turned into a percentage from the first unit
// (block 0's MLP, or its first expert), as optipfair does, and that percentage applies to all.
func Widths(units []modelio.MLPUnit, t Target) (percent float64, kept map[string]int64, err error) {
	if len(units) == 0 {
		return 0, nil, fmt.Errorf("no MLP to prune")
	}
	percent = t.Percent
	switch {
	case t.Percent != 0 && t.ExpansionPct != 0:
		return 0, nil, fmt.Errorf("give --width or --expansion, not both")
	case t.ExpansionPct != 0:
		if percent, err = PercentForExpansion(units[0].Width, units[0].Hidden, t.ExpansionPct); err != nil {
			return 0, nil, err
		}
	case t.Percent == 0:
		return 0, nil, fmt.Errorf("give --width P%% (the share of neurons to remove) or --expansion R")
	}
	kept = map[string]int64{}
	for _, u := range units {
		if _, done := kept[u.Key]; done {
			continue
		}
		if kept[u.Key], err = KeptCount(u.Width, percent, t.Divisor); err != nil {
			return 0, nil, err
		}
	}
	return percent, kept, nil
}

// Keep returns, for every unit, its k highest-scoring neurons in their original (ascending) order,
// k being kept[unit's key]: torch.topk then sort, as optipfair selects them. Equal scores keep the
// lower index (torch.topk leaves ties unspecified).
func Keep(s *Scores, kept map[string]int64) ([][]int, error) {
	out := make([][]int, len(s.Units))
	for i, u := range s.Units {
		k, ok := kept[u.Key]
		if !ok || k < 1 || k > u.Width {
			return nil, fmt.Errorf("%s: no valid width for %s", u.Path, u.Key)
		}
		out[i] = TopK(s.Score[i], int(k))
	}
	return out, nil
}

// TopK returns the indices of the k largest scores, ascending. NaN scores rank lowest.
func TopK(scores []float64, k int) []int {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		x, y := scores[a], scores[b]
		switch {
		case math.IsNaN(x) && math.IsNaN(y):
			return 0
		case math.IsNaN(x):
			return 1
		case math.IsNaN(y):
			return -1
		}
		return cmp.Compare(y, x)
	})
	top := idx[:k]
	slices.Sort(top)
	return top
}
