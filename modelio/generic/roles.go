package generic

import (
	"strings"

	"github.com/layerscope/layerscope/modelio/arch"
)

// maxRouterExperts bounds the output width of a projection named "gate" that is read as a MoE router
// when no experts list says how many experts there are: DeepSeek-V3 routes among 256, and a GLU gate is
// wider than its input, never this narrow.
const maxRouterExperts = 512

// section is the part of a block a leaf sits in, from the names of its containers.
type section uint8

const (
	sectionNone section = iota
	sectionAttention
	sectionMLP
)

// sectionOf reads a container name: self_attn, attention → attention; mlp, ffn, feed_forward,
// block_sparse_moe, experts → MLP.
func sectionOf(name string) section {
	n := strings.ToLower(name)
	switch {
	case strings.Contains(n, "attn"), strings.Contains(n, "attention"):
		return sectionAttention
	case strings.Contains(n, "mlp"), strings.Contains(n, "ffn"), strings.Contains(n, "feed_forward"),
		strings.Contains(n, "feedforward"), strings.Contains(n, "moe"), strings.Contains(n, "expert"):
		return sectionMLP
	}
	return sectionNone
}

// scope is what assignRoles knows about a module's surroundings.
type scope struct {
	inBlock bool
	section section
	parent  *arch.Module
}

// assignRoles gives roles to the leaves under m by their names, then to the containers that hold
// them: attention for q/k/v/o, MLP for gate/up/down, MoE for a router. Roles already set (blocks,
// experts, the base model) are kept.
func assignRoles(m *arch.Module, name string, parent *arch.Module, inBlock bool) {
	assign(m, name, scope{parent: parent, inBlock: inBlock})
}

func assign(m *arch.Module, name string, sc scope) {
	if len(m.Children) == 0 {
		if m.Role == arch.RoleNone {
			m.Role = leafRole(m, name, sc)
		}
		return
	}
	inner := scope{inBlock: sc.inBlock || m.Role == arch.RoleBlock, section: sc.section, parent: m}
	if s := sectionOf(name); s != sectionNone {
		inner.section = s
	}
	if m.Role == arch.RoleExpert {
		inner.section = sectionMLP
	}
	for _, c := range m.Children {
		assign(c.Module, c.Name, inner)
	}
	if m.Role != arch.RoleNone || sc.parent == nil {
		return
	}
	attn, mlp, router := false, false, false
	for _, c := range m.Children {
		switch c.Module.Role {
		case arch.RoleQ, arch.RoleK, arch.RoleV, arch.RoleQKV, arch.RoleO:
			attn = true
		case arch.RoleGate, arch.RoleUp, arch.RoleDown, arch.RoleGateUp:
			mlp = true
		case arch.RoleRouter:
			router = true
		}
	}
	switch {
	case router:
		m.Role = arch.RoleMoE
	case attn:
		m.Role = arch.RoleAttention
	case mlp:
		m.Role = arch.RoleMLP
	}
}

// leafRole reads a leaf's role from its name, its kind and where it sits.
func leafRole(m *arch.Module, name string, sc scope) arch.Role {
	n := strings.ToLower(name)
	switch m.Op {
	case arch.OpEmbedding:
		switch {
		case sc.inBlock, strings.Contains(n, "type"):
			return arch.RoleNone
		case n == "wpe", strings.Contains(n, "pos"):
			return arch.RolePosEmbedding
		}
		return arch.RoleTokenEmbedding
	case arch.OpLayerNorm, arch.OpRMSNorm:
		switch {
		case sc.inBlock:
			return arch.RoleNorm
		case isFinalNormName(n):
			return arch.RoleFinalNorm
		}
		return arch.RoleNone
	case arch.OpLinear, arch.OpConv1D:
		if !sc.inBlock && isLMHeadName(n) {
			return arch.RoleLMHead
		}
		return projectionRole(m, n, sc)
	}
	return arch.RoleNone
}

// projectionRole reads the role of a Linear or Conv1D from the names transformers' families use.
func projectionRole(m *arch.Module, n string, sc scope) arch.Role {
	switch n {
	case "q_proj", "q", "query", "wq", "q_lin":
		return arch.RoleQ
	case "k_proj", "k", "key", "wk", "k_lin":
		return arch.RoleK
	case "v_proj", "v", "value", "wv", "v_lin":
		return arch.RoleV
	case "qkv", "qkv_proj", "query_key_value", "c_attn", "wqkv":
		return arch.RoleQKV
	case "o_proj", "out_proj", "o", "out_lin":
		return arch.RoleO
	case "gate_proj", "w1":
		return arch.RoleGate
	case "up_proj", "w3", "fc1", "c_fc", "dense_h_to_4h", "fc_in":
		return arch.RoleUp
	case "down_proj", "w2", "fc2", "dense_4h_to_h", "fc_out":
		return arch.RoleDown
	case "gate_up_proj":
		return arch.RoleGateUp
	case "router":
		return arch.RoleRouter
	case "gate":
		if isRouter(m, sc.parent) {
			return arch.RoleRouter
		}
		return arch.RoleGate
	case "wo":
		// T5's MLP names its output wo too; Meta's Llama uses it for attention.
		if sc.section == sectionMLP {
			return arch.RoleDown
		}
		return arch.RoleO
	case "c_proj", "dense", "proj", "out":
		switch sc.section {
		case sectionAttention:
			return arch.RoleO
		case sectionMLP:
			if n == "c_proj" {
				return arch.RoleDown
			}
		case sectionNone:
			// GPT-2 style names without an attn/mlp container: the sibling tells which c_proj it is.
			if n == "c_proj" && sc.parent != nil {
				switch {
				case sc.parent.Child("c_attn") != nil:
					return arch.RoleO
				case sc.parent.Child("c_fc") != nil:
					return arch.RoleDown
				}
			}
		}
	}
	return arch.RoleNone
}

// isRouter reports whether a projection named gate routes among experts: its width is the number of
// experts beside it, or, without an experts list, a small count narrower than its input.
func isRouter(m *arch.Module, parent *arch.Module) bool {
	if parent != nil {
		for _, c := range parent.Children {
			if c.Module.Op == arch.OpList && isExpertsName(c.Name) {
				return int64(len(c.Module.Children)) == m.Out
			}
		}
	}
	return m.Out <= maxRouterExperts && m.Out < m.In
}

func isEmbeddingName(n string) bool {
	return strings.Contains(n, "embed") || n == "wte" || n == "wpe"
}

func isLMHeadName(n string) bool {
	return n == "lm_head" || n == "embed_out" || n == "output"
}

func isFinalNormName(n string) bool {
	switch n {
	case "norm", "ln_f", "final_layernorm", "final_layer_norm", "norm_f", "final_norm":
		return true
	}
	return false
}

func isExpertsName(n string) bool { return strings.ToLower(n) == "experts" }
