package app

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/layerscope/layerscope/compute"
	"github.com/layerscope/layerscope/render"
)

// scoresCSV writes one row per block: its index, every metric the run computed (angular as one column
// per span, empty where a span cannot start), the rank by the metric shown (1 = least important) and
// whether it is marked for removal.
func scoresCSV(res *compute.Result, shown render.Scores) ([]byte, error) {
	type column struct {
		name string
		v    []float64
	}
	var cols []column
	if res.BI != nil {
		cols = append(cols, column{"bi", res.BI})
	}
	for n := 1; n <= compute.MaxSpan; n++ {
		if a, ok := res.Angular[n]; ok {
			cols = append(cols, column{fmt.Sprintf("angular_n%d", n), a})
		}
	}
	if res.Ablation != nil {
		cols = append(cols, column{"delta_nll", res.Ablation})
	}
	if res.Flat != nil {
		cols = append(cols, column{"flat", res.Flat})
	}
	rank := ranks(shown.Values)
	marked := map[int]bool{}
	for _, b := range shown.Candidates {
		marked[b] = true
	}
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	head := []string{"block"}
	for _, c := range cols {
		head = append(head, c.name)
	}
	head = append(head, "rank_by_"+csvName(shown.Metric), "marked")
	cw.Write(head)
	for b := 0; b < res.Blocks; b++ {
		row := []string{strconv.Itoa(b)}
		for _, c := range cols {
			if b < len(c.v) && !math.IsNaN(c.v[b]) {
				row = append(row, strconv.FormatFloat(c.v[b], 'g', -1, 64))
			} else {
				row = append(row, "")
			}
		}
		r := ""
		if rank[b] > 0 {
			r = strconv.Itoa(rank[b])
		}
		row = append(row, r, strconv.FormatBool(marked[b]))
		cw.Write(row)
	}
	cw.Flush()
	return buf.Bytes(), cw.Error()
}

// csvName turns a metric's display name into a column name: "angular n=2" → "angular_n2".
func csvName(s string) string {
	return strings.NewReplacer(" ", "_", "=", "", "Δ", "delta_").Replace(strings.ToLower(s))
}

// ranks returns each score's rank from the lowest (1); 0 for a block without a score.
func ranks(v []float64) []int {
	idx := make([]int, 0, len(v))
	for i, s := range v {
		if !math.IsNaN(s) {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
	out := make([]int, len(v))
	for r, i := range idx {
		out[i] = r + 1
	}
	return out
}

// scoresJSON is the documented JSON of `layerscope importance --json` (docs/IMPORTANCE_JSON.md), with
// what the panel adds: the metric the blocks were ranked and marked by, and the blocks marked.
func scoresJSON(res *compute.Result, shown render.Scores) ([]byte, error) {
	marked := append([]int{}, shown.Candidates...)
	v := struct {
		compute.Report
		RankedBy string `json:"ranked_by"`
		Marked   []int  `json:"marked"`
	}{compute.NewReport(res), shown.Metric, marked}
	data, err := json.MarshalIndent(v, "", "  ")
	return append(data, '\n'), err
}

// export asks where to save the focused model's scores as CSV or JSON, refusing a path inside an open
// model's folder, and writes them.
func (p *importancePanel) export(format string) {
	w := p.w
	m := p.focused()
	r := w.resultFor(m)
	if r == nil {
		return
	}
	shown, ok := w.displayScores(r, p)
	if !ok {
		return
	}
	var data []byte
	var err error
	if format == "csv" {
		data, err = scoresCSV(r.res, shown)
	} else {
		data, err = scoresJSON(r.res, shown)
	}
	if err != nil {
		w.banner.show(err.Error())
		return
	}
	base := strings.NewReplacer("/", "_", "\\", "_", " ", "_").Replace(filepath.Base(m.Name))
	w.askSavePath("Save the scores", base+"-importance."+format, "."+format, func(path string) {
		err := writeFileAtomic(path, func(wr io.Writer) error { _, err := wr.Write(data); return err })
		if err != nil {
			w.banner.show(fmt.Sprintf("%s: %v", path, err))
			return
		}
		w.status.SetText("Saved the scores of " + m.Name + " to " + path)
	})
}
