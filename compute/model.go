package compute

import (
	"fmt"
	"math"
	"sort"
	"strconv"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/config"
	"github.com/layerscope/layerscope/modelio/family/hfconfig"
)

// A family's forward pass lives in compute/<family>.go: it names the tensors of a block (by their
// paths in the module tree that modelio built) and writes the block's graph. Everything else (the
// embeddings, the final norm and LM head, the mask and RoPE tables, streaming, metrics) is shared.

// forwardBuilder builds the forward pass of an opened model.
type forwardBuilder func(m *modelio.Model) (*plan, error)

var forwards = map[string]forwardBuilder{}

// registerForward makes a family's forward pass available under its config.json model_type.
func registerForward(modelType string, b forwardBuilder) {
	if _, dup := forwards[modelType]; dup {
		panic("compute: forward pass registered twice for " + modelType)
	}
	forwards[modelType] = b
}

// Families lists the model_type values the compute engine can run, sorted.
func Families() []string {
	out := make([]string, 0, len(forwards))
	for k := range forwards {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// slot is one weight a graph takes as a parameter.
type slot struct {
	key   string // what the graph calls it: "q", "q.bias", "ln1"
	name  string // the tensor's name as the module tree spells it: model.layers.3.self_attn.q_proj.weight
	shape []int  // what config.json implies
	eps   float64
}

// weightSet is a block's (or the head's) weights inside its graph, by slot key.
type weightSet struct {
	nodes map[string]*Node
	eps   map[string]float64
}

// get returns a weight the graph needs; a missing one is a bug in the family's slot list.
func (w weightSet) get(key string) *Node {
	n, ok := w.nodes[key]
	if !ok {
		panic(fmt.Errorf("compute: block graph asks for weight %q, which its slot list lacks", key))
	}
	return n
}

// opt returns an optional weight (a bias), or nil.
func (w weightSet) opt(key string) *Node { return w.nodes[key] }

// plan is one model's forward pass, as the streaming engine runs it.
type plan struct {
	m      *modelio.Model
	hyper  arch.Hyper
	layers int
	hidden int
	blocks string // the block list's path: "model.layers"

	// blockSlots lists block i's weights in the order its graph takes them.
	blockSlots func(i int) ([]slot, error)
	// block is one decoder block. x: [batch, seq, hidden] → [batch, seq, hidden].
	block func(env *blockEnv, x *Node, w weightSet) *Node

	// ropes are the RoPE kinds of the model (none without RoPE); layerRope[i] picks layer i's.
	ropes     []ropeConfig
	layerRope []int
	// layerWindow is each layer's sliding window in tokens, 0 for full attention.
	layerWindow []int

	// embedName is the token embedding table, posName the learned position table ("" without).
	embedName, posName string
	// position is the row of the position table that token t of a sample with real tokens reads
	// (OPT's offset and padding rule); nil reads row t (GPT-2).
	position func(t, real int) int

	headSlots    []slot // the final norm's weights, and the LM head's bias where it has one
	lmHead       slot   // the LM head's weight [vocab, hidden]: its own, or the embedding table when tied
	headNorm     func(x *Node, w weightSet) *Node
	finalSoftcap float64
	vocab        int

	// notes are said with every run's result: how the family's forward pass departs from the model's
	// own (Mixtral's experts all computed).
	notes []string
	// variant names what a family's graphs read from config.json beyond hyper (Qwen3-MoE's
	// norm_topk_prob), so that executables are not shared across it (graphKey).
	variant string
}

// newPlan fills what every family shares: the sizes, the block list, the embeddings, one RoPE kind,
// each layer's window, and the final norm and LM head read from the roles of the module tree.
func newPlan(m *modelio.Model) (*plan, error) {
	h := m.Spec.Hyper
	p := &plan{m: m, hyper: h, layers: h.Layers, hidden: h.Hidden, vocab: h.Vocab, finalSoftcap: h.FinalLogitSoftcap}
	var final, lmHead, embed, pos string
	m.Spec.Root.Walk("", func(path string, mod *arch.Module) bool {
		switch mod.Role {
		case arch.RoleBlocks:
			p.blocks = path
		case arch.RoleFinalNorm:
			final = path
		case arch.RoleLMHead:
			lmHead = path
		case arch.RoleTokenEmbedding:
			embed = path
		case arch.RolePosEmbedding:
			pos = path
		}
		return true
	})
	if p.blocks == "" || final == "" || lmHead == "" || embed == "" {
		return nil, fmt.Errorf("%s: the module tree lacks a block list, final norm, LM head or embedding", m.Spec.Family)
	}
	p.embedName = embed + ".weight"
	if pos != "" {
		p.posName = pos + ".weight"
	}

	l := p.slotsAt("")
	l.norm("final_norm", final, h.Hidden)
	if l.err != nil {
		return nil, l.err
	}
	p.headSlots = l.slots
	p.lmHead = slot{key: "lm_head", name: lmHead + ".weight", shape: []int{h.Vocab, h.Hidden}}
	head := m.Spec.Root.Find(lmHead)
	if head.Tied {
		p.lmHead.name = p.embedName // tie_word_embeddings: the head reads the embedding table
	}
	if head.Bias {
		// Phi's lm_head has a bias (its own even when the weight is tied); it goes up with the final
		// norm, and the head's graph gathers the slice's entries.
		p.headSlots = append(p.headSlots, slot{key: "lm_head.bias", name: lmHead + ".bias", shape: []int{h.Vocab}})
	}
	finalMod := m.Spec.Root.Find(final)
	p.headNorm = func(x *Node, w weightSet) *Node {
		if finalMod.Op == arch.OpLayerNorm {
			return layerNorm(x, w.get("final_norm"), w.opt("final_norm.bias"), w.eps["final_norm"])
		}
		return rmsNorm(x, w.get("final_norm"), w.eps["final_norm"], false)
	}

	if h.Positional == arch.PosRoPE {
		p.ropes = []ropeConfig{{cfg: m.Config, params: ropeParams(m.Config, "full_attention"), theta: h.RopeTheta,
			headDim: h.HeadDim, fraction: h.RotaryFraction, maxPos: h.MaxPositions}}
	}
	p.layerRope = make([]int, h.Layers)
	p.layerWindow = make([]int, h.Layers)
	for i := range p.layerWindow {
		if h.SlidingWindow > 0 && (h.LayerTypes == nil || h.LayerTypes[i] == "sliding_attention") {
			p.layerWindow[i] = h.SlidingWindow
		}
	}
	return p, nil
}

// newPlanWithActivation is newPlan and the config's activation: how every family's builder starts.
func newPlanWithActivation(m *modelio.Model) (*plan, func(*Node) *Node, error) {
	p, err := newPlan(m)
	if err != nil {
		return nil, nil, err
	}
	act, err := activation(p.hyper.Activation)
	if err != nil {
		return nil, nil, err
	}
	return p, act, nil
}

// ropeParams returns the RoPE scaling object of a layer kind: transformers 4's rope_scaling where the
// config has one, else transformers 5's rope_parameters (per layer kind where it is split).
func ropeParams(cfg *config.Config, layerType string) *config.Config {
	if rs := cfg.Sub("rope_scaling"); rs != nil {
		return rs
	}
	return hfconfig.RopeParameters(cfg, layerType)
}

// blockPath is block i's path in the module tree: "model.layers.3".
func (p *plan) blockPath(i int) string { return p.blocks + "." + strconv.Itoa(i) }

// embed writes the input of block 0 for one sample's tokens (positions 0..len-1, the first real of
// them real tokens, then padding) into out ([len·hidden]), in float32 but rounded as the model's dtype
// would round it: the token embedding rows, scaled by the family's embedding scale (Gemma's
// sqrt(hidden), rounded as transformers stores its normalizer), plus the learned position rows where
// the model has them. The engine calls it from several goroutines at once.
func (p *plan) embed(st *store, tokens []int, real int, round func(float32) float32, out []float32) error {
	H := p.hidden
	if err := st.rows(st.resolve(p.embedName), H, tokens, out); err != nil {
		return err
	}
	if s := p.hyper.EmbeddingScale; s != 0 && s != 1 {
		scale := round(float32(s))
		for i, v := range out {
			out[i] = round(v) * scale
		}
	}
	if p.posName == "" {
		return nil
	}
	positions := make([]int, len(tokens))
	for t := range positions {
		positions[t] = t
		if p.position != nil {
			positions[t] = p.position(t, real)
		}
	}
	pos := make([]float32, len(tokens)*H)
	if err := st.rows(st.resolve(p.posName), H, positions, pos); err != nil {
		return err
	}
	for i := range out {
		out[i] = round(out[i]) + round(pos[i])
	}
	return nil
}

// slotList collects the weights of one block (or of the head) from the module tree: a module the
// tree lacks is an error, a bias is taken where the tree's module has one, a norm's eps is its own.
type slotList struct {
	p      *plan
	prefix string // "model.layers.3."
	slots  []slot
	err    error
}

func (p *plan) slotsAt(prefix string) *slotList { return &slotList{p: p, prefix: prefix} }

func (l *slotList) module(path string) *arch.Module {
	if l.err != nil {
		return nil
	}
	mod := l.p.m.Spec.Root.Find(l.prefix + path)
	if mod == nil {
		l.err = fmt.Errorf("%s%s: not in the module tree of %s", l.prefix, path, l.p.m.Spec.Family)
	}
	return mod
}

func (l *slotList) add(key, name string, shape ...int) {
	l.slots = append(l.slots, slot{key: key, name: name, shape: shape})
}

// linear adds nn.Linear weights: weight [out, in] and, where the module has one, bias [out].
func (l *slotList) linear(key, path string, in, out int) {
	if mod := l.module(path); mod != nil {
		l.add(key, l.prefix+path+".weight", out, in)
		if mod.Bias {
			l.add(key+".bias", l.prefix+path+".bias", out)
		}
	}
}

// conv1D adds GPT-2 Conv1D weights: weight [in, out] and bias [out].
func (l *slotList) conv1D(key, path string, in, out int) {
	if l.module(path) != nil {
		l.add(key, l.prefix+path+".weight", in, out)
		l.add(key+".bias", l.prefix+path+".bias", out)
	}
}

// norm adds an RMSNorm or LayerNorm's weight [dim] (and a LayerNorm's bias), with its eps.
func (l *slotList) norm(key, path string, dim int) {
	mod := l.module(path)
	if mod == nil {
		return
	}
	l.slots = append(l.slots, slot{key: key, name: l.prefix + path + ".weight", shape: []int{dim}, eps: mod.Eps})
	if mod.Op == arch.OpLayerNorm && mod.Bias {
		l.add(key+".bias", l.prefix+path+".bias", dim)
	}
}

// validate checks, from the headers alone, that every weight the forward pass reads exists with the
// shape config.json implies and a float dtype, so a bad folder fails before any compute.
func (p *plan) validate(st *store) error {
	for i := 0; i < p.layers; i++ {
		slots, err := p.blockSlots(i)
		if err != nil {
			return fmt.Errorf("layer %d: %v", i, err)
		}
		for _, s := range slots {
			if _, _, err := st.check(st.resolve(s.name), s.shape); err != nil {
				return fmt.Errorf("layer %d: %v", i, err)
			}
		}
	}
	for _, s := range append(p.headSlots, p.lmHead) {
		if _, _, err := st.check(st.resolve(s.name), s.shape); err != nil {
			return err
		}
	}
	for _, name := range []string{p.embedName, p.posName} {
		if name == "" {
			continue
		}
		if _, _, err := st.check(st.resolve(name), nil); err != nil {
			return err
		}
	}
	if p.posName != "" {
		t := st.set.Tensors[st.resolve(p.posName)]
		if len(t.Shape) != 2 || t.Shape[1] != int64(p.hidden) {
			return fmt.Errorf("%s has shape %v, config.json implies [%d %d]", p.posName, t.Shape, p.hyper.MaxPositions, p.hidden)
		}
	}
	t := st.set.Tensors[st.resolve(p.embedName)]
	if len(t.Shape) != 2 || t.Shape[1] != int64(p.hidden) || t.Shape[0] < int64(p.vocab) {
		return fmt.Errorf("%s has shape %v, config.json implies [%d %d]", p.embedName, t.Shape, p.vocab, p.hidden)
	}
	return nil
}

// resolve returns the name a tensor has in this checkpoint: the module tree's name, or the name
// modelio.Model.TensorName gives it (without the base model's prefix, GPT-2's wte.weight and
// h.0.attn.c_attn.weight), so the engine and the description agree on what is missing.
func (st *store) resolve(name string) string {
	if st.tensorName == nil {
		return name
	}
	return st.tensorName(name)
}

// attnScale is the usual 1/sqrt(head_dim), or Gemma's 1/sqrt(query_pre_attn_scalar).
func attnScale(h arch.Hyper) float64 {
	if h.QueryPreAttnScalar > 0 {
		return 1 / math.Sqrt(h.QueryPreAttnScalar)
	}
	return 1 / math.Sqrt(float64(h.HeadDim))
}
