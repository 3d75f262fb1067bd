package compute

// Report is the documented JSON form of a run (docs/IMPORTANCE_JSON.md), which `layerscope importance
// --json` prints and the app's compute panel exports: the run's facts, then one entry per metric with
// one score per block in block order (angular: one entry per span length n, one score per start block).
type Report struct {
	Model     string         `json:"model"`
	Family    string         `json:"family"`
	Blocks    int            `json:"blocks"`
	Backend   string         `json:"backend"`
	Device    string         `json:"device"`
	DType     string         `json:"dtype"`
	Samples   int            `json:"samples"`
	SeqLen    int            `json:"seq_len"`
	Tokens    int            `json:"tokens"`
	Seconds   float64        `json:"seconds"`
	NLL       float64        `json:"nll"`
	NLLTokens int            `json:"nll_tokens"`
	Notes     []string       `json:"notes"`
	Metrics   []ReportMetric `json:"metrics"`
	// RunSeconds is each run's wall time when the command ran several (--repeat); Seconds is the last.
	RunSeconds []float64 `json:"run_seconds,omitempty"`
}

// ReportMetric is one metric's scores in a Report.
type ReportMetric struct {
	Metric string    `json:"metric"`
	N      int       `json:"n,omitempty"`
	Scores []float64 `json:"scores"`
}

// NewReport puts r in the documented form, the metrics in the order bi, angular (n = 1..MaxSpan),
// ablation, flat; only those computed.
func NewReport(r *Result) Report {
	var ms []ReportMetric
	if r.BI != nil {
		ms = append(ms, ReportMetric{Metric: string(MetricBI), Scores: r.BI})
	}
	for n := 1; n <= MaxSpan; n++ {
		if a, ok := r.Angular[n]; ok {
			ms = append(ms, ReportMetric{Metric: string(MetricAngular), N: n, Scores: a})
		}
	}
	if r.Ablation != nil {
		ms = append(ms, ReportMetric{Metric: string(MetricAblation), Scores: r.Ablation})
	}
	if r.Flat != nil {
		ms = append(ms, ReportMetric{Metric: string(MetricFlat), Scores: r.Flat})
	}
	return Report{r.Model, r.Family, r.Blocks, r.Backend, r.Device, r.DType, r.Samples, r.SeqLen, r.Tokens,
		r.Elapsed.Seconds(), r.NLL, r.NLLTokens, append([]string{}, r.Notes...), ms, nil}
}
