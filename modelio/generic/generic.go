// Package generic describes a model whose family Layerscope does not know (an unknown model_type, or a
// folder with safetensors files and no config.json) from its tensor names and shapes alone.
//
// The module tree mirrors the dotted tensor names: every dotted prefix is a container, a parent whose
// children are all numbers is a ModuleList, and a module holding only "weight" (and "bias") becomes the
// leaf its shapes imply: Embedding, Linear, Conv1D, LayerNorm or RMSNorm. A tensor that fits none of
// them stays a bare parameter leaf (arch.OpTensor), so the parameter count is exactly the sum of the
// tensors. Roles come from the names transformers' families commonly use (q_proj, c_attn, gate_proj,
// ln_f, lm_head, experts); nothing is guessed that the shapes cannot carry, so the description is
// honest about being grouped rather than known, and says so in Spec.Notes.
package generic

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/config"
	"github.com/layerscope/layerscope/modelio/weights"
)

// rootClass names the root when config.json names no architecture.
const rootClass = "UnknownForCausalLM"

// defaultEps is torch's LayerNorm default, used when config.json gives no norm epsilon.
const defaultEps = 1e-05

// Build groups the tensors of ws into a module tree. cfg may be nil (a folder with weights only); when
// present it gives the root class (architectures[0]), the family name (model_type), norm epsilons and
// the head counts, which tensor shapes cannot tell.
func Build(cfg *config.Config, ws *weights.Set) (*arch.Spec, error) {
	if ws == nil || len(ws.Tensors) == 0 {
		return nil, fmt.Errorf("%s: no tensors in the safetensors files: nothing to describe the model from", folder(cfg, ws))
	}
	b := &builder{cfg: cfg, transposed: hasTransposedWeights(ws)}
	trie := &node{}
	for _, name := range tensorNames(ws) {
		trie.insert(strings.Split(name, "."), ws.Tensors[name])
	}
	// The root is always a container, even when the names have no common prefix (Meta's layers.0...).
	root := b.fill(arch.Container(rootClass, arch.RoleNone), trie, false)
	modelType := ""
	if cfg != nil {
		if archs := cfg.Strings("architectures"); len(archs) > 0 && archs[0] != "" {
			root.Class = archs[0]
		}
		modelType = cfg.String("model_type", "")
		if err := cfg.Err(); err != nil {
			return nil, err
		}
	}

	spec := &arch.Spec{Family: cmp.Or(modelType, "unknown"), Root: root}
	switch {
	case cfg == nil:
		spec.Notes = append(spec.Notes, "no config.json: this description is grouped from the tensor names")
	case modelType == "":
		spec.Notes = append(spec.Notes, "config.json has no model_type: this description is grouped from the tensor names")
	default:
		spec.Notes = append(spec.Notes, fmt.Sprintf("model_type %q is not a family Layerscope knows: this description is grouped from the tensor names", modelType))
	}

	blocksPath, blocks := decoderStack(root)
	if blocks == nil {
		spec.Notes = append(spec.Notes, "no numbered layers in the tensor names: there are no decoder blocks to draw")
	} else {
		blocks.Role = arch.RoleBlocks
		for _, c := range blocks.Children {
			c.Module.Role = arch.RoleBlock
		}
		// The base model is the direct child of the root that holds the blocks (model, transformer,
		// gpt_neox; model for OPT's model.decoder.layers), as AutoModel builds it.
		if top, _, nested := strings.Cut(blocksPath, "."); nested {
			spec.BasePath = top
			if base := root.Child(top); base.Role == arch.RoleNone {
				base.Role = arch.RoleModel
			}
		}
	}
	markExperts(root)
	assignRoles(root, "", nil, false)
	spec.Hyper = b.hyper(root, blocks)
	if err := b.err(); err != nil {
		return nil, err
	}
	return spec, nil
}

// folder names where the tensors were looked for, for the error about an empty set.
func folder(cfg *config.Config, ws *weights.Set) string {
	switch {
	case ws != nil && len(ws.Files) > 0:
		return filepath.Dir(ws.Files[0])
	case cfg != nil && cfg.Path != "":
		return filepath.Dir(cfg.Path)
	}
	return "the model folder"
}

// tensorNames returns ws.Names, or the sorted tensor names when a hand-built set has no Names.
func tensorNames(ws *weights.Set) []string {
	names := make([]string, 0, len(ws.Tensors))
	for _, n := range ws.Names {
		if ws.Tensors[n] != nil {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		for n, t := range ws.Tensors {
			if t != nil {
				names = append(names, n)
			}
		}
		slices.Sort(names)
	}
	return names
}

// hasTransposedWeights reports whether some 2-D weight's bias matches its second dimension and not its
// first: the [in, out] layout of transformers' Conv1D (GPT-2). Square weights of such a model are then
// read the same way, since their shapes cannot tell.
func hasTransposedWeights(ws *weights.Set) bool {
	for name, t := range ws.Tensors {
		stem, ok := strings.CutSuffix(name, ".weight")
		if !ok || t == nil || len(t.Shape) != 2 || t.Shape[0] == t.Shape[1] {
			continue
		}
		if bias := ws.Tensors[stem+".bias"]; bias != nil && len(bias.Shape) == 1 && bias.Shape[0] == t.Shape[1] {
			return true
		}
	}
	return false
}

// node is one dotted prefix of the tensor names.
type node struct {
	name     string
	tensor   *weights.Tensor // the tensor whose full name ends here, if any
	children []*node         // in order of first appearance
	index    map[string]*node
}

func (n *node) insert(parts []string, t *weights.Tensor) {
	if len(parts) == 0 {
		n.tensor = t
		return
	}
	c := n.index[parts[0]]
	if c == nil {
		if n.index == nil {
			n.index = map[string]*node{}
		}
		c = &node{name: parts[0]}
		n.index[parts[0]] = c
		n.children = append(n.children, c)
	}
	c.insert(parts[1:], t)
}

// isTensor reports whether n is a tensor and nothing more.
func (n *node) isTensor() bool { return n.tensor != nil && len(n.children) == 0 }

// ordered returns the children in first-appearance order, except that numeric names sort numerically
// among the places numeric names hold (layers.10 after layers.9, whatever the file order).
func (n *node) ordered() []*node {
	out := slices.Clone(n.children)
	var slots []int
	var nums []*node
	for i, c := range out {
		if isIndex(c.name) {
			slots = append(slots, i)
			nums = append(nums, c)
		}
	}
	slices.SortStableFunc(nums, func(a, b *node) int { return cmp.Compare(index(a.name), index(b.name)) })
	for i, s := range slots {
		out[s] = nums[i]
	}
	return out
}

func isIndex(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func index(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return int(^uint(0) >> 1) // too long to parse: after every parsable index
	}
	return n
}

// builder turns the name trie into modules.
type builder struct {
	cfg        *config.Config
	transposed bool // the model stores 2-D weights as [in, out] (Conv1D)
}

// err returns the first config.json type error met while reading it.
func (b *builder) err() error {
	if b.cfg == nil {
		return nil
	}
	return b.cfg.Err()
}

// module builds the module at n, whose own name is n.name and whose parent list (for block classes) is
// listName.
func (b *builder) module(n *node, listName string) *arch.Module {
	if m := b.leaf(n); m != nil {
		return m
	}
	var m *arch.Module
	kids := n.ordered()
	allIndex := len(kids) > 0
	for _, c := range kids {
		allIndex = allIndex && isIndex(c.name)
	}
	switch {
	case allIndex:
		m = arch.List(arch.RoleNone)
	case listName != "":
		m = arch.Container(itemClass(listName), arch.RoleNone)
	default:
		m = arch.Container(className(n.name), arch.RoleNone)
	}
	if n.tensor != nil {
		// A tensor named like a prefix of other tensors ("x" and "x.y"): it keeps its own parameter.
		m.Op, m.Shape, m.DType = arch.OpTensor, n.tensor.Shape, n.tensor.DType
	}
	return b.fill(m, n, allIndex)
}

// fill adds the children of n to m; list says m is a ModuleList, whose items are named after it.
func (b *builder) fill(m *arch.Module, n *node, list bool) *arch.Module {
	for _, c := range n.ordered() {
		var child *arch.Module
		switch {
		case c.isTensor():
			child = arch.Parameter(c.tensor.Shape)
			child.DType = c.tensor.DType
		case list:
			child = b.module(c, n.name)
		default:
			child = b.module(c, "")
		}
		m.Add(c.name, child)
	}
	return m
}

// leaf returns the typed module a node holding only weight (and bias) stands for, or nil when its
// tensors fit no known module.
func (b *builder) leaf(n *node) *arch.Module {
	if n.tensor != nil || len(n.children) == 0 || len(n.children) > 2 {
		return nil
	}
	w, bias := n.index["weight"], n.index["bias"]
	if w == nil || !w.isTensor() || (bias != nil && !bias.isTensor()) || (bias == nil && len(n.children) == 2) {
		return nil
	}
	shape := w.tensor.Shape
	var biasLen int64 = -1
	if bias != nil {
		if len(bias.tensor.Shape) != 1 {
			return nil
		}
		biasLen = bias.tensor.Shape[0]
	}
	name := strings.ToLower(n.name)
	var m *arch.Module
	switch len(shape) {
	case 1:
		switch biasLen {
		case -1:
			m = arch.RMSNorm("RMSNorm", shape[0], b.eps("rms_norm_eps", "layer_norm_eps", "layer_norm_epsilon"), arch.RoleNone)
		case shape[0]:
			m = arch.LayerNorm(shape[0], b.eps("layer_norm_eps", "layer_norm_epsilon", "rms_norm_eps"), arch.RoleNone)
		}
	case 2:
		out, in := shape[0], shape[1]
		switch {
		case biasLen == -1 && isEmbeddingName(name) && !isLMHeadName(name):
			m = arch.Embedding("", shape[0], shape[1], -1, arch.RoleNone)
		case biasLen == -1:
			m = arch.Linear(in, out, false, arch.RoleNone)
		case biasLen == in && (in != out || b.transposed):
			m = arch.Conv1D(shape[0], shape[1], arch.RoleNone)
		case biasLen == out:
			m = arch.Linear(in, out, true, arch.RoleNone)
		}
	}
	if m != nil {
		m.DType = w.tensor.DType
	}
	return m
}

// eps returns the first of keys config.json sets, or torch's default.
func (b *builder) eps(keys ...string) float64 {
	if b.cfg != nil {
		for _, k := range keys {
			if b.cfg.Has(k) {
				return b.cfg.Float(k, defaultEps)
			}
		}
	}
	return defaultEps
}

// className turns a tensor-name component into a class name: self_attn → SelfAttn.
func className(name string) string {
	var sb strings.Builder
	up := true
	for _, r := range name {
		if r == '_' || r == '-' {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
		}
		up = false
		sb.WriteRune(r)
	}
	s := sb.String()
	if s == "" || !unicode.IsLetter([]rune(s)[0]) {
		s = "Module" + s
	}
	return s
}

// itemClass names the items of a list after the list: layers → Layer, experts → Expert, h → HBlock.
func itemClass(listName string) string {
	c := className(listName)
	if len(c) > 2 && strings.HasSuffix(c, "s") && !strings.HasSuffix(c, "ss") {
		c = c[:len(c)-1]
	}
	if len(c) <= 2 {
		c += "Block"
	}
	return c
}

// decoderStack returns the list of decoder blocks: of the lists of modules outside any experts list,
// the one holding the most parameters (first in order on a tie).
func decoderStack(root *arch.Module) (string, *arch.Module) {
	var bestPath string
	var best *arch.Module
	var bestN int64
	root.Walk("", func(path string, m *arch.Module) bool {
		if m.Op != arch.OpList {
			return true
		}
		if isExpertsName(lastName(path)) {
			return false
		}
		hasModule := false
		for _, c := range m.Children {
			hasModule = hasModule || c.Module.Op == arch.OpContainer
		}
		if n := m.NumParams(); hasModule && (best == nil || n > bestN) {
			bestPath, best, bestN = path, m, n
		}
		return true
	})
	return bestPath, best
}

func lastName(path string) string {
	return path[strings.LastIndexByte(path, '.')+1:]
}

// markExperts gives lists named experts their roles, and their parent the MoE role.
func markExperts(m *arch.Module) {
	for _, c := range m.Children {
		if c.Module.Op == arch.OpList && isExpertsName(c.Name) {
			c.Module.Role = arch.RoleExperts
			for _, e := range c.Module.Children {
				e.Module.Role = arch.RoleExpert
			}
			if m.Role == arch.RoleNone {
				m.Role = arch.RoleMoE
			}
		}
		markExperts(c.Module)
	}
}
