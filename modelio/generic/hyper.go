package generic

import (
	"strconv"
	"strings"

	"github.com/layerscope/layerscope/modelio/arch"
)

// blockFacts are the parts of one block that the hyper-parameters are read from.
type blockFacts struct {
	q, k, up, down, gateUp *arch.Module
	glu                    bool // a gate or gate_up projection
	norms                  []*arch.Module
	qkNorm                 bool
	attnBias, mlpBias      bool
	experts                *arch.Module // the RoleExperts list, when the block is sparse
}

func factsOf(block *arch.Module) blockFacts {
	var f blockFacts
	block.Walk("", func(path string, m *arch.Module) bool {
		if m.Role == arch.RoleExperts {
			if f.experts == nil {
				f.experts = m
			}
			return false
		}
		first := func(p **arch.Module) {
			if *p == nil {
				*p = m
			}
		}
		switch m.Role {
		case arch.RoleQ:
			first(&f.q)
		case arch.RoleK:
			first(&f.k)
		case arch.RoleUp:
			first(&f.up)
		case arch.RoleDown:
			first(&f.down)
		case arch.RoleGateUp:
			first(&f.gateUp)
			f.glu = true
		case arch.RoleGate:
			f.glu = true
		case arch.RoleNorm:
			switch lastName(path) {
			case "q_norm", "k_norm", "q_layernorm", "k_layernorm":
				f.qkNorm = true
			default:
				f.norms = append(f.norms, m)
			}
		}
		switch m.Role {
		case arch.RoleQ, arch.RoleK, arch.RoleV, arch.RoleO, arch.RoleQKV:
			f.attnBias = f.attnBias || m.Bias
		case arch.RoleGate, arch.RoleUp, arch.RoleDown, arch.RoleGateUp:
			f.mlpBias = f.mlpBias || m.Bias
		}
		return true
	})
	return f
}

// intermediate is the MLP width: down's input, else up's output, else half of gate_up's.
func (f blockFacts) intermediate() int {
	switch {
	case f.down != nil:
		return int(f.down.In)
	case f.up != nil:
		return int(f.up.Out)
	case f.gateUp != nil:
		return int(f.gateUp.Out / 2)
	}
	return 0
}

// hyper reads the hyper-parameters that the shapes carry, and the head counts config.json states.
func (b *builder) hyper(root, blocks *arch.Module) arch.Hyper {
	var h arch.Hyper
	var tok, pos, head *arch.Module
	root.Walk("", func(_ string, m *arch.Module) bool {
		if m == blocks {
			return false
		}
		switch {
		case m.Role == arch.RoleTokenEmbedding && tok == nil:
			tok = m
		case m.Role == arch.RolePosEmbedding && pos == nil:
			pos = m
		case m.Role == arch.RoleLMHead && head == nil:
			head = m
		}
		return true
	})
	switch {
	case tok != nil:
		h.Hidden, h.Vocab = int(tok.Out), int(tok.In)
	case head != nil:
		h.Hidden, h.Vocab = int(head.In), int(head.Out)
	}
	// Without an lm_head tensor, transformers ties the head to the embeddings (the only way such a
	// checkpoint can produce logits).
	h.TiedEmbeddings = head == nil && tok != nil
	if pos != nil {
		h.Positional, h.MaxPositions = arch.PosLearned, int(pos.In)
	}

	var first blockFacts
	if blocks != nil {
		h.Layers = len(blocks.Children)
		for i, c := range blocks.Children {
			f := factsOf(c.Module)
			if i == 0 {
				first = f
			}
			if h.Intermediate == 0 && f.intermediate() > 0 {
				h.Intermediate = f.intermediate()
				h.MLP = mlpKind(f)
			}
			if f.experts != nil {
				h.MoELayers++
				if h.Experts == 0 {
					h.Experts = len(f.experts.Children)
					if len(f.experts.Children) > 0 {
						e := factsOf(f.experts.Children[0].Module)
						h.ExpertIntermediate = e.intermediate()
						if h.MLP == "" {
							h.MLP = mlpKind(e)
						}
					}
				}
			}
		}
	}
	if len(first.norms) > 0 {
		h.NormsPerBlock = len(first.norms)
		h.Norm = arch.NormRMS
		if first.norms[0].Op == arch.OpLayerNorm {
			h.Norm = arch.NormLayer
		}
	}
	h.QKNorm, h.AttentionBias, h.MLPBias = first.qkNorm, first.attnBias, first.mlpBias

	if b.cfg == nil {
		return h
	}
	cfg := b.cfg
	h.Heads = cfg.FirstInt(0, "num_attention_heads", "n_head", "num_heads", "n_heads")
	h.KVHeads = cfg.FirstInt(0, "num_key_value_heads", "num_kv_heads", "n_kv_heads", "n_head_kv")
	q, k := first.q, first.k
	if h.KVHeads == 0 && h.Heads > 0 && q != nil && k != nil && q.Out > 0 && int64(h.Heads)*k.Out%q.Out == 0 {
		// k is KVHeads·head_dim wide where q is Heads·head_dim: the ratio is GQA's.
		h.KVHeads = int(int64(h.Heads) * k.Out / q.Out)
	}
	h.HeadDim = cfg.Int("head_dim", 0)
	switch {
	case h.HeadDim != 0 || h.Heads <= 0:
	case q != nil && q.Out%int64(h.Heads) == 0:
		h.HeadDim = int(q.Out) / h.Heads
	case h.Hidden%h.Heads == 0:
		h.HeadDim = h.Hidden / h.Heads
	}
	for _, key := range []string{"hidden_act", "activation_function", "hidden_activation"} {
		if cfg.Has(key) {
			h.Activation = cfg.String(key, "")
			break
		}
	}
	if h.MaxPositions == 0 {
		h.MaxPositions = cfg.FirstInt(0, "max_position_embeddings", "n_positions")
	}
	if h.Positional == "" && cfg.Has("rope_theta") {
		h.Positional, h.RopeTheta = arch.PosRoPE, cfg.Float("rope_theta", 0)
	}
	if h.Experts > 0 {
		h.ExpertsPerToken = cfg.FirstInt(0, "num_experts_per_tok", "num_experts_per_token", "moe_top_k")
		if h.ExpertsPerToken > 0 {
			markTopK(root, h.ExpertsPerToken)
		}
	}
	return h
}

func mlpKind(f blockFacts) arch.MLPKind {
	switch {
	case f.glu:
		return arch.MLPGLU
	case f.up != nil:
		return arch.MLPClassic
	}
	return ""
}

// markTopK records top-k on every MoE module, where the diagram reads it.
func markTopK(root *arch.Module, k int) {
	root.Walk("", func(_ string, m *arch.Module) bool {
		if m.Role == arch.RoleMoE && hasExpertsList(m) {
			m.SetAttr(arch.AttrTopK, strconv.Itoa(k))
		}
		return true
	})
}

func hasExpertsList(m *arch.Module) bool {
	for _, c := range m.Children {
		if c.Module.Role == arch.RoleExperts && strings.EqualFold(c.Name, "experts") {
			return true
		}
	}
	return false
}
