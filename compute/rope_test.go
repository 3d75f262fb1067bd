package compute

import (
	"math"
	"path/filepath"
	"testing"
)

// The inverse frequencies and attention scaling of every fixture's RoPE kinds equal the buffers
// transformers built (expected.json notes.rope_buffers): llama3 scaling, longrope with Phi-3's short
// factors and sqrt(1+ln(s)/ln(orig)), Gemma 3's local and global bases, partial rotary.
func TestRopeMatchesTransformers(t *testing.T) {
	for _, family := range fixtureFamilies {
		if family == "gpt2" || family == "opt" { // learned positions
			continue
		}
		t.Run(family, func(t *testing.T) {
			f := loadFixture(t, family)
			var exp struct {
				Notes struct {
					Rope map[string]any `json:"rope_buffers"`
				} `json:"notes"`
			}
			readJSON(t, filepath.Join(fixtureRoot, family, "expected.json"), &exp)
			p, err := forwards[family](f.model)
			if err != nil {
				t.Fatal(err)
			}
			buffers := map[string]int{"model.rotary_emb.inv_freq": 0}
			switch family {
			case "gemma3_text":
				buffers = map[string]int{"model.rotary_emb.full_attention_inv_freq": 0, "model.rotary_emb.sliding_attention_inv_freq": 1}
			case "gpt_neox":
				buffers = map[string]int{"gpt_neox.rotary_emb.inv_freq": 0}
			}
			for name, kind := range buffers {
				r, err := ropeFor(p.ropes[kind], 24)
				if err != nil {
					t.Fatal(err)
				}
				want := exp.Notes.Rope[name].([]any)
				if len(want) != len(r.invFreq) {
					t.Fatalf("%s: %d frequencies, transformers %d", name, len(r.invFreq), len(want))
				}
				for i, w := range want {
					if got := float64(r.invFreq[i]); math.Abs(got-w.(float64)) > 1e-6*w.(float64) {
						t.Errorf("%s[%d] = %g, transformers %g", name, i, got, w)
					}
				}
				if s, ok := exp.Notes.Rope["model.rotary_emb.attention_scaling"].(float64); ok && math.Abs(r.scale-s) > 1e-9 {
					t.Errorf("attention scaling %g, transformers %g", r.scale, s)
				}
			}
		})
	}
}

// Phi-3's longrope switches to the long factors past original_max_position_embeddings (64 here).
func TestLongropeLongFactors(t *testing.T) {
	f := loadFixture(t, "phi3")
	p, err := forwards["phi3"](f.model)
	if err != nil {
		t.Fatal(err)
	}
	short, _ := ropeFor(p.ropes[0], 64)
	long, _ := ropeFor(p.ropes[0], 65)
	// inv_freq[i] = 1 / (factor[i] · base^(2i/dim)); the last factors are 1.5 (short) and 3.0 (long).
	if got := float64(short.invFreq[5] / long.invFreq[5]); math.Abs(got-2) > 1e-6 {
		t.Errorf("short/long ratio of the last frequency %g, want 3.0/1.5", got)
	}
}
