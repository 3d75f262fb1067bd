package compute

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

// sessionDevices returns the devices a session holds open.
func sessionDevices(s *Session) []*device {
	_ = s.take(context.Background(), nil)
	defer s.done()
	var out []*device
	for _, sd := range s.devices {
		if sd.dev != nil {
			out = append(out, sd.dev)
		}
	}
	return out
}

func TestSessionReusesExecutables(t *testing.T) {
	m := openRandom(t, tinyLlamaConfig(), "BF16", nil, nil)
	tokens := randomTokens(3, 12, 64)
	opts := Options{Backend: BackendCPU, Metrics: AllMetrics}
	alone, err := Run(context.Background(), m, tokens, opts)
	if err != nil {
		t.Fatal(err)
	}

	s := NewSession()
	defer s.Close()
	first, err := s.Run(context.Background(), m, tokens, opts)
	if err != nil {
		t.Fatal(err)
	}
	devs := sessionDevices(s)
	if len(devs) != 1 {
		t.Fatalf("session holds %d devices after a run, want 1", len(devs))
	}
	held, built := devs[0].graphs.counts()
	if held == 0 || built != held {
		t.Fatalf("after the first run: %d executables held, %d built", held, built)
	}
	second, err := s.Run(context.Background(), m, tokens, opts)
	if err != nil {
		t.Fatal(err)
	}
	if d := sessionDevices(s); len(d) != 1 || d[0] != devs[0] {
		t.Errorf("the second run opened another device")
	}
	if _, built2 := devs[0].graphs.counts(); built2 != built {
		t.Errorf("the second run of the same model and batch compiled %d executables, want 0", built2-built)
	}
	for _, r := range []*Result{first, second} {
		if !reflect.DeepEqual(r.BI, alone.BI) || !reflect.DeepEqual(r.Ablation, alone.Ablation) ||
			!reflect.DeepEqual(r.Angular, alone.Angular) || r.NLL != alone.NLL {
			t.Errorf("a session run's scores differ from a run of its own:\n%v %v\n%v %v", r.BI, r.NLL, alone.BI, alone.NLL)
		}
	}

	// Another batch shape is another executable; the first ones stay for the next run.
	if _, err := s.Run(context.Background(), m, randomTokens(2, 7, 64), opts); err != nil {
		t.Fatal(err)
	}
	held3, built3 := devs[0].graphs.counts()
	if built3 <= built || held3 <= held {
		t.Errorf("a new batch shape: %d held, %d built; before %d held, %d built", held3, built3, held, built)
	}
}

func TestSessionKeepsFewExecutables(t *testing.T) {
	m := openRandom(t, tinyLlamaConfig(), "F32", nil, nil)
	s := NewSession()
	defer s.Close()
	for seq := 2; seq < 2+keptExecutables; seq++ {
		if _, err := s.Run(context.Background(), m, randomTokens(1, seq, 64), Options{Backend: BackendCPU}); err != nil {
			t.Fatal(err)
		}
	}
	// A run trims to keptExecutables before it starts and adds its own (one block, one head).
	if held, _ := sessionDevices(s)[0].graphs.counts(); held > keptExecutables+2 {
		t.Errorf("%d executables held, want at most %d", held, keptExecutables+2)
	}
}

func TestSessionProbeKeepsTheDevice(t *testing.T) {
	t.Setenv("LAYERSCOPE_PJRT_PLUGIN", "")
	s := NewSession()
	f := s.Probe()
	if f.GPU || f.Cores == 0 {
		t.Fatalf("probe found %+v on a machine without plugins", f)
	}
	devs := sessionDevices(s)
	if len(devs) != 1 {
		t.Fatalf("probe left %d devices open, want 1", len(devs))
	}
	m := openRandom(t, tinyLlamaConfig(), "F32", nil, nil)
	if _, err := s.Run(context.Background(), m, randomTokens(1, 5, 64), Options{}); err != nil {
		t.Fatal(err)
	}
	if d := sessionDevices(s); len(d) != 1 || d[0] != devs[0] {
		t.Errorf("the run did not use the device the probe opened")
	}
	s.Close()
	if _, err := s.Run(context.Background(), m, randomTokens(1, 5, 64), Options{}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("a run on a closed session: %v", err)
	}
}

// A run that has to wait for the one before it says so, and can be cancelled while it waits.
func TestSessionRunWaitsItsTurn(t *testing.T) {
	m := openRandom(t, tinyLlamaConfig(), "F32", nil, nil)
	s := NewSession()
	defer s.Close()
	if err := s.take(context.Background(), nil); err != nil { // a run in progress
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	waiting := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		_, err := s.Run(ctx, m, randomTokens(1, 5, 64), Options{Backend: BackendCPU, Progress: func(done, total int, msg string) {
			if total == 0 {
				waiting <- msg
			}
		}})
		errc <- err
	}()
	if msg := <-waiting; !strings.Contains(msg, "waiting for the previous run") {
		t.Errorf("progress while waiting: %q", msg)
	}
	cancel()
	if err := <-errc; err != context.Canceled {
		t.Errorf("a run cancelled while waiting returned %v", err)
	}
	s.done() // the earlier run ends
	if _, err := s.Run(context.Background(), m, randomTokens(1, 5, 64), Options{Backend: BackendCPU}); err != nil {
		t.Errorf("the next run: %v", err)
	}
}

// Two models alike in every hyperparameter but a config key the graph reads (Qwen3-MoE's
// norm_topk_prob) do not share executables in a session.
func TestSessionKeysOnFamilyVariant(t *testing.T) {
	cfg := func(norm bool) map[string]any {
		return galleryConfig(t, "Qwen__Qwen3-30B-A3B", map[string]any{"hidden_size": 32, "num_attention_heads": 4,
			"num_key_value_heads": 2, "head_dim": 8, "num_hidden_layers": 1, "vocab_size": 64, "max_position_embeddings": 32,
			"num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 16, "norm_topk_prob": norm})
	}
	tokens := randomTokens(2, 6, 64)
	s := NewSession()
	defer s.Close()
	for _, norm := range []bool{true, false} {
		m := openRandom(t, cfg(norm), "F32", nil, nil)
		alone, err := Run(context.Background(), m, tokens, Options{Backend: BackendCPU})
		if err != nil {
			t.Fatal(err)
		}
		shared, err := s.Run(context.Background(), m, tokens, Options{Backend: BackendCPU})
		if err != nil {
			t.Fatal(err)
		}
		if shared.NLL != alone.NLL {
			t.Errorf("norm_topk_prob %v: NLL %v in the session, %v alone", norm, shared.NLL, alone.NLL)
		}
	}
}
