package compute

import (
	"fmt"
	"math"

	"github.com/layerscope/layerscope/modelio/config"
)

// rope is how one kind of layer rotates positions: the inverse frequencies of the rotated dimensions
// and the scaling transformers applies to cos and sin ("attention_scaling", longrope's
// sqrt(1+ln(s)/ln(orig))). The tables are computed on the host once per run and uploaded.
type rope struct {
	dim     int       // rotated dimensions of a head (RotaryFraction·head_dim, even)
	invFreq []float32 // dim/2 frequencies, float32 as transformers keeps the inv_freq buffer
	scale   float64
}

// ropeConfig is what ropeFor reads: the rope parameters object of the layer kind (transformers 5's
// rope_parameters entry, or transformers 4's rope_scaling) and the config's own keys.
type ropeConfig struct {
	cfg      *config.Config // the whole config.json, for max_position_embeddings and original_max_...
	params   *config.Config // rope_scaling / rope_parameters of this layer kind; nil for plain RoPE
	theta    float64
	headDim  int
	fraction float64 // RotaryFraction; 0 means 1
	maxPos   int
}

// ropeFor computes a layer kind's RoPE for sequences of seqLen tokens, with the scaling its config
// names: default, linear, dynamic (equal to default up to max_position_embeddings, which the input
// never exceeds), llama3 and longrope. Other scalings are an error that quotes the key.
func ropeFor(rc ropeConfig, seqLen int) (rope, error) {
	frac := rc.fraction
	if frac == 0 {
		frac = 1
	}
	// transformers: dim = int(head_dim * partial_rotary_factor)
	dim := int(float64(rc.headDim) * frac)
	dim -= dim % 2
	if dim <= 0 {
		return rope{}, fmt.Errorf("partial_rotary_factor %g leaves no dimension of head_dim %d to rotate", frac, rc.headDim)
	}
	kind := ""
	if rc.params != nil {
		kind = rc.params.String("rope_type", rc.params.String("type", ""))
	}
	inv := make([]float64, dim/2)
	for i := range inv {
		// transformers: 1 / base ** (arange(0, dim, 2).float() / dim), in float32
		inv[i] = 1 / math.Pow(rc.theta, float64(float32(float64(2*i)/float64(dim))))
	}
	r := rope{dim: dim, scale: 1}
	p := rc.params
	switch kind {
	case "", "default", "dynamic":
	case "linear":
		f := p.Float("factor", 1)
		for i := range inv {
			inv[i] /= f
		}
	case "llama3":
		factor := p.Float("factor", 8)
		low, high := p.Float("low_freq_factor", 1), p.Float("high_freq_factor", 4)
		old := p.Float("original_max_position_embeddings", 8192)
		lowWave, highWave := old/low, old/high
		for i, f := range inv {
			f = float64(float32(f))
			wave := 2 * math.Pi / f
			scaled := f
			if wave > lowWave {
				scaled = f / factor
			}
			if !(wave < highWave) && !(wave > lowWave) {
				smooth := (old/wave - low) / (high - low)
				scaled = (1-smooth)*scaled/factor + smooth*scaled
			}
			inv[i] = scaled
		}
	case "longrope":
		orig := p.Int("original_max_position_embeddings", rc.cfg.Int("original_max_position_embeddings", 0))
		factor := p.Float("factor", 1)
		if orig > 0 {
			// transformers: Phi-3 keeps the pretrained length apart and scales by the ratio
			factor = float64(rc.maxPos) / float64(orig)
		} else {
			orig = rc.maxPos
		}
		key := "short_factor"
		if seqLen > orig {
			key = "long_factor"
		}
		ext := p.Floats(key)
		if len(ext) != dim/2 {
			return rope{}, fmt.Errorf("rope %s has %d entries, the rotated head dimensions need %d", key, len(ext), dim/2)
		}
		for i := range inv {
			inv[i] = 1 / (float64(float32(ext[i])) * math.Pow(rc.theta, float64(float32(float64(2*i)/float64(dim)))))
		}
		r.scale = p.Float("attention_factor", 0)
		if r.scale == 0 {
			r.scale = 1
			if factor > 1 {
				r.scale = math.Sqrt(1 + math.Log(factor)/math.Log(float64(orig)))
			}
		}
	default:
		return rope{}, fmt.Errorf("rope_scaling type %q is not supported by the compute engine (default, linear, dynamic, llama3, longrope are)", kind)
	}
	if err := rc.cfg.Err(); err != nil {
		return rope{}, err
	}
	r.invFreq = make([]float32, len(inv))
	for i, f := range inv {
		r.invFreq[i] = float32(f)
	}
	return r, nil
}

// tables returns cos and sin for positions 0..seq-1, [seq, dim] each, laid out as transformers'
// cat(freqs, freqs) for rotate_half, and multiplied by the attention scaling. The angle is the
// float32 product of position and frequency, as torch computes it.
func (r rope) tables(seq int) (cos, sin []float32) {
	cos = make([]float32, seq*r.dim)
	sin = make([]float32, seq*r.dim)
	half := r.dim / 2
	for p := 0; p < seq; p++ {
		for i, f := range r.invFreq {
			a := float64(float32(p) * f)
			c, s := float32(math.Cos(a)*r.scale), float32(math.Sin(a)*r.scale)
			cos[p*r.dim+i], cos[p*r.dim+half+i] = c, c
			sin[p*r.dim+i], sin[p*r.dim+half+i] = s, s
		}
	}
	return cos, sin
}
