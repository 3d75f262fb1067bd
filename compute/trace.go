package compute

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// phaseTimes adds up where a run spends its time (opening the device, compiling, uploading, running
// blocks, the head), for the performance notes. LAYERSCOPE_TRACE=1 prints the table on stderr at the
// end of a run; otherwise it costs a clock read per phase.
type phaseTimes struct {
	mu    sync.Mutex
	total map[string]time.Duration
	count map[string]int
}

var trace = &phaseTimes{total: map[string]time.Duration{}, count: map[string]int{}}

// since adds the time since start to phase.
func (p *phaseTimes) since(phase string, start time.Time) {
	d := time.Since(start)
	p.mu.Lock()
	p.total[phase] += d
	p.count[phase]++
	p.mu.Unlock()
}

// report prints and resets the table when LAYERSCOPE_TRACE is set.
func (p *phaseTimes) report(elapsed time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if os.Getenv("LAYERSCOPE_TRACE") != "" {
		names := make([]string, 0, len(p.total))
		for k := range p.total {
			names = append(names, k)
		}
		sort.Slice(names, func(a, b int) bool { return p.total[names[a]] > p.total[names[b]] })
		var b strings.Builder
		fmt.Fprintf(&b, "trace: run %s\n", elapsed.Round(time.Millisecond))
		for _, k := range names {
			fmt.Fprintf(&b, "trace: %-22s %9s  ×%d\n", k, p.total[k].Round(time.Millisecond), p.count[k])
		}
		fmt.Fprint(os.Stderr, b.String())
	}
	p.total, p.count = map[string]time.Duration{}, map[string]int{}
}
