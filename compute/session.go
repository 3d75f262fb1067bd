package compute

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/layerscope/layerscope/modelio"
)

// Session keeps what a run costs to set up for the next run in the same process: each backend it
// opened (a CUDA client takes 0.3–0.8 s to open) and the executables compiled on it (one Llama-3.2-1B
// block took about 4 s to compile on an H200, where running all 16 blocks took 0.28 s). A second run
// of the same model with the same batch shape and dtype compiles nothing. The app keeps one session
// for its lifetime; `layerscope importance --repeat` runs in one. Runs of a session take turns; Close
// releases everything.
type Session struct {
	// turn is held for a whole run (and a probe, and Close): a channel rather than a mutex, so a run
	// waiting for the one before it (a cancelled run finishing its block) can itself be cancelled.
	turn    chan struct{}
	devices map[string]*sessionDevice
	closed  bool
}

// sessionDevice is a backend the session opened, or why it did not open (not tried again: a plugin
// that failed to load fails the same way until the process restarts).
type sessionDevice struct {
	dev *device
	err error
}

// keptExecutables is how many compiled executables a device keeps between runs; the least recently
// used go first. A run needs one or two block executables and two head executables.
const keptExecutables = 12

// NewSession returns an empty session: nothing is opened until a run or a probe needs it.
func NewSession() *Session {
	return &Session{turn: make(chan struct{}, 1), devices: map[string]*sessionDevice{}}
}

// take waits for the session's turn, saying so through progress when another run holds it; it
// returns ctx.Err() when ctx ends first.
func (s *Session) take(ctx context.Context, progress func(done, total int, msg string)) error {
	select {
	case s.turn <- struct{}{}:
		return nil
	default:
	}
	if progress != nil {
		progress(0, 0, "waiting for the previous run to finish its block")
	}
	select {
	case s.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Session) done() { <-s.turn }

// Run scores every decoder block of m on tokens, as the package-level Run does, reusing the session's
// opened backends and compiled executables.
func (s *Session) Run(ctx context.Context, m *modelio.Model, tokens [][]int, opts Options) (*Result, error) {
	res, _, err := s.run(ctx, m, tokens, opts, passOptions{})
	return res, err
}

// Close releases every backend the session opened and the executables compiled on them.
func (s *Session) Close() {
	_ = s.take(context.Background(), nil)
	defer s.done()
	for _, sd := range s.devices {
		sd.dev.close()
	}
	s.devices, s.closed = nil, true
}

// open returns candidate c's device, opening it the first time.
func (s *Session) open(c candidate) (*device, error) {
	if sd, ok := s.devices[c.label]; ok {
		return sd.dev, sd.err
	}
	t0 := time.Now()
	dev, err := c.open()
	trace.since("open device", t0)
	if dev != nil {
		dev.graphs = newGraphCache()
	}
	s.devices[c.label] = &sessionDevice{dev: dev, err: err}
	return dev, err
}

// drop closes a device whose run failed: its state is unknown, and the next run opens it afresh.
func (s *Session) drop(c candidate) {
	if sd, ok := s.devices[c.label]; ok {
		sd.dev.close()
		delete(s.devices, c.label)
	}
}

// run is Run that also returns the pass's raw results, which the tests compare with PyTorch's.
func (s *Session) run(ctx context.Context, m *modelio.Model, tokens [][]int, opts Options, po passOptions) (*Result, *passResult, error) {
	start := time.Now()
	if opts.Prune != nil { // evaluate the pruned model without writing it (evaluate.go)
		pm, err := opts.Prune.Apply(m)
		if err != nil {
			return nil, nil, err
		}
		m = pm
	}
	p, st, in, err := setup(m, tokens)
	if err != nil {
		return nil, nil, err
	}
	defer st.Close()
	metrics := opts.Metrics
	if metrics == nil {
		metrics = []Metric{MetricBI, MetricAngular, MetricFlat}
	}
	want := map[Metric]bool{}
	for _, mt := range metrics {
		switch mt {
		case MetricBI, MetricAngular, MetricAblation, MetricFlat:
			want[mt] = true
		default:
			return nil, nil, fmt.Errorf("metric %q: expected bi, angular, ablation or flat", mt)
		}
	}
	po.ablation = want[MetricAblation]
	po.progress = opts.Progress
	switch opts.DType {
	case "", FP16, BF16, FP32:
	default:
		return nil, nil, fmt.Errorf("--dtype %q: expected fp16, bf16 or fp32", opts.DType)
	}
	cands, err := candidates(opts.Backend)
	if err != nil {
		return nil, nil, err
	}

	if err := s.take(ctx, opts.Progress); err != nil {
		return nil, nil, err
	}
	defer s.done()
	if s.closed {
		return nil, nil, errors.New("compute: the session is closed")
	}
	for _, sd := range s.devices {
		if sd.dev != nil {
			sd.dev.graphs.trim(keptExecutables)
		}
	}
	var notes []string
	for ci, c := range cands {
		next := ""
		if ci+1 < len(cands) {
			next = cands[ci+1].label
		}
		dev, err := s.open(c)
		if err != nil {
			if next == "" {
				return nil, nil, err
			}
			notes = append(notes, fmt.Sprintf("%v; falling back to the %s", err, next))
			continue
		}
		pr, dt, runNotes, err := runOnDevice(ctx, p, st, dev, in, opts.DType, po)
		notes = append(notes, runNotes...)
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			s.drop(c)
			if next == "" {
				return nil, nil, fmt.Errorf("%s: %v", dev.name, err)
			}
			notes = append(notes, fmt.Sprintf("%s failed: %v; falling back to the %s", dev.name, err, next))
			continue
		}
		res := scores(pr, p, in, want)
		res.Model, res.Family = m.Name, m.Spec.Family
		res.Backend, res.Device, res.DType = dev.kind, dev.name, dtypeName(dt)
		res.Notes = append(append([]string{}, p.notes...), notes...)
		res.Elapsed = time.Since(start)
		trace.report(res.Elapsed)
		return res, pr, nil
	}
	return nil, nil, errors.New("compute: no backend to run on")
}

// Probe finds the device a run with BackendAuto would start on, as the package-level Probe does, but
// keeps what it opened for the session's runs.
func (s *Session) Probe() Found {
	f := Found{Device: "pure Go", Cores: runtime.GOMAXPROCS(0)}
	cands, _ := candidates(BackendAuto)
	_ = s.take(context.Background(), nil)
	defer s.done()
	if s.closed {
		return f
	}
	for _, c := range cands {
		dev, err := s.open(c)
		if err != nil {
			f.Notes = append(f.Notes, err.Error())
			continue
		}
		return foundOn(dev, f.Notes)
	}
	return f
}

// graphCache holds a device's compiled executables by what they compute (graphKey). A key being
// compiled blocks the other callers asking for it until it is ready, so an executable can be
// compiled in the background while the caller does other work and is picked up when needed.
type graphCache struct {
	mu      sync.Mutex
	entries map[string]*graphEntry
	clock   uint64
	built   int // executables compiled, for the tests
}

type graphEntry struct {
	ready chan struct{}
	g     *Graph
	err   error
	used  uint64
}

func newGraphCache() *graphCache { return &graphCache{entries: map[string]*graphEntry{}} }

// get returns the executable for key, building it with build the first time. A panic in build (GoMLX
// reports errors by panicking) becomes the entry's error.
func (c *graphCache) get(key string, build func() (*Graph, error)) (*Graph, error) {
	c.mu.Lock()
	c.clock++
	if en, ok := c.entries[key]; ok {
		en.used = c.clock
		c.mu.Unlock()
		<-en.ready
		return en.g, en.err
	}
	en := &graphEntry{ready: make(chan struct{}), used: c.clock}
	c.entries[key] = en
	c.built++
	c.mu.Unlock()
	func() {
		defer close(en.ready)
		defer recoverError(&en.err)
		en.g, en.err = build()
	}()
	return en.g, en.err
}

// trim keeps the keep most recently used executables and drops failed ones. It runs between runs,
// when no executable is in use or being compiled.
func (c *graphCache) trim(keep int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]string, 0, len(c.entries))
	for k, en := range c.entries {
		if en.err != nil || en.g == nil {
			delete(c.entries, k)
			continue
		}
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool { return c.entries[keys[a]].used > c.entries[keys[b]].used })
	for _, k := range keys[min(keep, len(keys)):] {
		c.entries[k].g.Finalize()
		delete(c.entries, k)
	}
}

// counts returns how many executables the cache holds and how many it has compiled, for the tests.
func (c *graphCache) counts() (held, built int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries), c.built
}

// close finalizes every executable.
func (c *graphCache) close() {
	c.trim(0)
}

// graphKey is the part of an executable's cache key that a model run fixes: the forward pass (family,
// every hyperparameter the graphs read, the family's variant), the compute dtype and the batch shape.
func graphKey(p *plan, dt dtypes.DType, in *batch) string {
	hyper, _ := json.Marshal(p.hyper)
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%s|%s|%d×%d|", p.m.Spec.Family, hyper, p.variant, dt, in.batch, in.seq)
	for _, rc := range p.ropes {
		fmt.Fprintf(&b, "rope %d;", ropeDim(rc))
	}
	return b.String()
}
