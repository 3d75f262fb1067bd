package modelio

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/config"
	"github.com/layerscope/layerscope/modelio/facts"
	"github.com/layerscope/layerscope/modelio/weights"
)

// ConfigEdit is one config.json key a pruning sets, with its new value as package config decodes JSON
// (json.Number, string, []any).
type ConfigEdit struct {
	Key   string
	Value any
}

// layerCountKeys are the config.json keys that hold the number of decoder blocks: num_hidden_layers
// everywhere, n_layer in GPT-2 (whose GPT2Config maps num_hidden_layers onto it). Every one present is
// updated, so the file cannot contradict itself; when neither is present the family's default was used,
// and the first key the family reads back as the new depth is added.
var layerCountKeys = []string{"num_hidden_layers", "n_layer"}

// RemoveBlocks returns what m would be without the decoder blocks remove (numbered as m numbers them):
// a new Model whose tree, facts and diagram show the kept blocks renumbered 0..n-1. Nothing is written
// and m is not modified.
//
// The result is described the way Open would describe a saved pruned copy: its Config is m's with
// ConfigEdits applied (num_hidden_layers, layer_types and the other per-layer keys), and its Weights
// name each kept tensor under its new index while pointing at the source's bytes, so a later save (or a
// forward pass) reads block i from block SourceLayer[i] of the files m was opened from; the tensors of
// removed blocks are gone from it. The description is then checked against m's own kept blocks, tensor
// by tensor, so a config.json that transformers would read as a different model is refused, not written.
//
// remove may be empty (a copy of m); a pruned model can be pruned again, and Removed, SourceLayer and
// Name then refer to the model first opened. Errors are one line: a block that does not exist, a block
// listed twice, or every block removed.
func RemoveBlocks(m *Model, remove []int) (*Model, error) {
	if m == nil || m.Spec == nil || m.Spec.Root == nil {
		return nil, errors.New("remove blocks: no model")
	}
	listPath, list, err := blockList(m)
	if err != nil {
		return nil, err
	}
	n := len(list.Children)
	gone, err := checkRemove(m.Name, remove, n)
	if err != nil {
		return nil, err
	}
	var keep []int
	newIndex := map[int]int{}
	for i := range n {
		if !gone[i] {
			newIndex[i] = len(keep)
			keep = append(keep, i)
		}
	}
	source := func(i int) int { // block i of m, as the opened model numbered it
		if m.SourceLayer != nil {
			return m.SourceLayer[i]
		}
		return i
	}
	removed := slices.Clone(m.Removed)
	for i := range gone {
		removed = append(removed, source(i))
	}
	slices.Sort(removed)
	sourceLayer := make([]int, len(keep))
	for i, k := range keep {
		sourceLayer[i] = source(k)
	}

	var ws *weights.Set
	if m.Weights != nil {
		if ws, err = renameWeights(m.Weights, blockPrefixes(listPath, m.Spec.BasePath), n, newIndex); err != nil {
			return nil, fmt.Errorf("%s: %v", m.Name, err)
		}
	}
	var firstErr error
	for _, edits := range configCandidates(m, list, n, keep) {
		p, err := describePruned(m, ws, edits)
		if err == nil {
			err = sameBlocks(m, p, listPath, keep)
		}
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		p.sourceName = m.Name
		if m.sourceName != "" {
			p.sourceName = m.sourceName
		}
		p.Name = p.sourceName
		if len(removed) > 0 {
			p.Name += " − " + BlocksPhrase(removed)
		}
		p.Removed, p.SourceLayer = removed, sourceLayer
		p.SourceParams = m.SourceParams
		if m.SourceParams == 0 { // m is the opened model
			p.SourceParams = m.Spec.Root.NumParams()
		}
		p.ConfigEdits = mergeEdits(m.ConfigEdits, edits)
		p.Narrowed = m.Narrowed
		return p, nil
	}
	return nil, firstErr
}

// maxRange bounds a range of blocks: no model has more, and "0-999999999" must not fill memory.
const maxRange = 1 << 16

// ParseBlocks reads "3,5" or "10-12,20" into block indices, in the order given; duplicates and
// indices out of range are left to RemoveBlocks, which knows the depth.
func ParseBlocks(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 || lo == "" || lo[0] == '+' {
			return nil, fmt.Errorf("%q is not a block number (write 3,5 or 10-12)", part)
		}
		if !isRange {
			out = append(out, a)
			continue
		}
		b, err := strconv.Atoi(hi)
		if err != nil || hi == "" || hi[0] == '+' || b < a || b-a > maxRange {
			return nil, fmt.Errorf("%q is not a range of blocks (write 10-12)", part)
		}
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
	}
	return out, nil
}

// BlocksPhrase writes block indices as a person reads them: "block 3", "blocks 3, 5", and a run of
// three or more as a range: "blocks 12–16", "blocks 3, 20–27".
func BlocksPhrase(blocks []int) string {
	if len(blocks) == 1 {
		return "block " + strconv.Itoa(blocks[0])
	}
	var parts []string
	for _, r := range facts.Runs(blocks) {
		if r[1]-r[0] >= 2 {
			parts = append(parts, fmt.Sprintf("%d–%d", r[0], r[1]))
			continue
		}
		for b := r[0]; b <= r[1]; b++ {
			parts = append(parts, strconv.Itoa(b))
		}
	}
	return "blocks " + strings.Join(parts, ", ")
}

// BlockList returns the dotted path of m's list of decoder blocks ("model.layers", "transformer.h",
// "gpt_neox.layers", "model.decoder.layers"): the prefix of every block tensor's name.
func BlockList(m *Model) (string, error) {
	path, _, err := blockList(m)
	return path, err
}

func blockList(m *Model) (string, *arch.Module, error) {
	var paths []string
	var lists []*arch.Module
	m.Spec.Root.Walk("", func(path string, mod *arch.Module) bool {
		if mod.Role == arch.RoleBlocks {
			paths, lists = append(paths, path), append(lists, mod)
			return false
		}
		return true
	})
	switch len(lists) {
	case 0:
		return "", nil, fmt.Errorf("%s: the model has no list of decoder blocks to remove blocks from", m.Name)
	case 1:
	default:
		return "", nil, fmt.Errorf("%s: the model has %d lists of blocks (%s); removing blocks handles one",
			m.Name, len(lists), strings.Join(paths, ", "))
	}
	for i, c := range lists[0].Children {
		// Tensor names carry the child's name; renumbering assumes it is its position.
		if c.Name != strconv.Itoa(i) {
			return "", nil, fmt.Errorf("%s: block %d of %s is named %q; removing blocks needs them numbered 0 to %d",
				m.Name, i, paths[0], c.Name, len(lists[0].Children)-1)
		}
	}
	return paths[0], lists[0], nil
}

func checkRemove(name string, remove []int, n int) (map[int]bool, error) {
	gone := map[int]bool{}
	for _, i := range remove {
		switch {
		case i < 0 || i >= n:
			return nil, fmt.Errorf("%s has blocks 0 to %d: there is no block %d", name, n-1, i)
		case gone[i]:
			return nil, fmt.Errorf("block %d is listed twice", i)
		}
		gone[i] = true
	}
	if len(gone) == n {
		return nil, fmt.Errorf("cannot remove all %d blocks of %s: at least one must stay", n, name)
	}
	return gone, nil
}

// blockPrefixes are the name prefixes under which a checkpoint stores the blocks: the causal LM's
// path, and the base model's own ("h" for "transformer.h"), which checkpoints saved from the base
// class use (openai-community/gpt2 stores h.0.attn.c_attn.weight).
func blockPrefixes(listPath, basePath string) []string {
	out := []string{listPath}
	if basePath != "" && strings.HasPrefix(listPath, basePath+".") {
		out = append(out, strings.TrimPrefix(listPath, basePath+"."))
	}
	return out
}

// blockTensor splits a tensor name into its block list prefix, block index and the rest
// ("model.layers.7.mlp.up_proj.weight" → "model.layers", 7, ".mlp.up_proj.weight").
func blockTensor(name string, prefixes []string) (prefix string, index int, rest string, ok bool) {
	for _, p := range prefixes {
		after, found := strings.CutPrefix(name, p+".")
		if !found {
			continue
		}
		digits, tail, hasTail := strings.Cut(after, ".")
		i, err := strconv.Atoi(digits)
		if err != nil || i < 0 || strconv.Itoa(i) != digits {
			continue
		}
		if hasTail {
			tail = "." + tail
		}
		return p, i, tail, true
	}
	return "", 0, "", false
}

// renameWeights returns ws without the removed blocks' tensors and with the kept ones renamed to
// their new index. Each tensor still points at its bytes in the source files. A block index the
// model does not have (n or more: a tensor nothing reads) keeps its name; it cannot meet a new index.
func renameWeights(ws *weights.Set, prefixes []string, n int, newIndex map[int]int) (*weights.Set, error) {
	out := &weights.Set{Tensors: map[string]*weights.Tensor{}, Warnings: slices.Clone(ws.Warnings)}
	used := map[string]bool{}
	for _, name := range ws.Names {
		t := ws.Tensors[name]
		newName := name
		if p, i, rest, ok := blockTensor(name, prefixes); ok && i < n {
			j, kept := newIndex[i]
			if !kept {
				continue
			}
			newName = p + "." + strconv.Itoa(j) + rest
		}
		if _, dup := out.Tensors[newName]; dup {
			return nil, fmt.Errorf("tensor %s would be renamed to %s, which another tensor already has", name, newName)
		}
		c := *t
		c.Name, c.Shape = newName, slices.Clone(t.Shape)
		out.Tensors[newName] = &c
		out.Names = append(out.Names, newName)
		used[t.File] = true
	}
	for _, f := range ws.Files {
		if used[f] {
			out.Files = append(out.Files, f)
		}
	}
	return out, nil
}

// configCandidates returns the config.json edits that could describe the kept blocks, the fewest
// changes first; RemoveBlocks takes the first whose description matches the kept blocks.
func configCandidates(m *Model, list *arch.Module, n int, keep []int) [][]ConfigEdit {
	cfg := m.Config
	if cfg == nil {
		return [][]ConfigEdit{nil}
	}
	depth := json.Number(strconv.Itoa(len(keep)))
	var base []ConfigEdit
	var countKeyPresent bool
	for _, k := range layerCountKeys {
		if cfg.Has(k) {
			base = append(base, ConfigEdit{k, depth})
			countKeyPresent = true
		}
	}
	// layer_types has one entry per layer (Gemma 3, Qwen3): keep the kept layers' entries. Where the
	// weights hold fewer blocks than config.json says, the blocks are its first n.
	types, hasTypes := cfg.Raw("layer_types").([]any)
	if hasTypes && len(types) >= n {
		base = append(base, ConfigEdit{"layer_types", pick(types[:n], keep)})
	}
	// max_window_layers (Qwen2, Qwen3): layers from this index on slide when layer_types is absent.
	// The sliding layers stay a suffix after removing blocks; only the cut moves.
	if mwl, ok := rawInt(cfg.Raw("max_window_layers")); ok && mwl >= 0 && mwl < n {
		cut := 0
		for _, k := range keep {
			if k < mwl {
				cut++
			}
		}
		base = append(base, ConfigEdit{"max_window_layers", json.Number(strconv.Itoa(cut))})
	}
	base = append(base, moeEdits(cfg, list, keep)...)

	var out [][]ConfigEdit
	if countKeyPresent {
		out = append(out, base)
	} else {
		for _, k := range layerCountKeys {
			out = append(out, append(slices.Clone(base), ConfigEdit{k, depth}))
		}
	}
	// A layer pattern derived from the depth (Gemma 3's sliding_window_pattern) does not survive
	// removing blocks: spell out layer_types for the kept blocks.
	if lt := m.Spec.Hyper.LayerTypes; !hasTypes && len(lt) >= n {
		explicit := make([]any, n)
		for i := range n {
			explicit[i] = lt[i]
		}
		for _, c := range slices.Clone(out) {
			out = append(out, append(slices.Clone(c), ConfigEdit{"layer_types", pick(explicit, keep)}))
		}
	}
	return out
}

// moeEdits keeps Qwen3-MoE's layout of sparse and dense layers: layer i is sparse when
// (i+1) % decoder_sparse_step == 0 and i is not in mlp_only_layers. The kept layers keep their kind:
// mlp_only_layers is renumbered while the step still fits them, else the step becomes 1 and
// mlp_only_layers names every dense layer.
func moeEdits(cfg *config.Config, list *arch.Module, keep []int) []ConfigEdit {
	if !cfg.Present("decoder_sparse_step") && !cfg.Present("mlp_only_layers") {
		return nil
	}
	if !hasMoEAnywhere(list) {
		return nil // without experts every layer is dense whatever the step says
	}
	step, ok := rawInt(cfg.Raw("decoder_sparse_step"))
	if !ok || step <= 0 {
		step = 1
	}
	sparse := make([]bool, len(keep))
	fits := true
	for i, k := range keep {
		sparse[i] = hasMoE(list.Children[k].Module)
		if sparse[i] && (i+1)%step != 0 {
			fits = false // the step cannot make this layer sparse
		}
	}
	var edits []ConfigEdit
	if !fits {
		step = 1
		edits = append(edits, ConfigEdit{"decoder_sparse_step", json.Number("1")})
	}
	dense := []any{}
	for i := range keep {
		if !sparse[i] && (i+1)%step == 0 {
			dense = append(dense, json.Number(strconv.Itoa(i)))
		}
	}
	if old, _ := cfg.Raw("mlp_only_layers").([]any); !fits || !sameInts(old, dense) {
		edits = append(edits, ConfigEdit{"mlp_only_layers", dense})
	}
	return edits
}

func hasMoE(block *arch.Module) bool {
	found := false
	block.Walk("", func(_ string, m *arch.Module) bool {
		found = found || m.Role == arch.RoleMoE
		return !found
	})
	return found
}

func hasMoEAnywhere(list *arch.Module) bool {
	for _, c := range list.Children {
		if hasMoE(c.Module) {
			return true
		}
	}
	return false
}

func sameInts(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, ok1 := rawInt(a[i])
		y, ok2 := rawInt(b[i])
		if !ok1 || !ok2 || x != y {
			return false
		}
	}
	return true
}

func pick(list []any, keep []int) []any {
	out := make([]any, len(keep))
	for i, k := range keep {
		out[i] = list[k]
	}
	return out
}

func rawInt(v any) (int, bool) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(string(num))
	return i, err == nil
}

// mergeEdits applies later edits over earlier ones, keeping the first position of each key.
func mergeEdits(old, edits []ConfigEdit) []ConfigEdit {
	out := slices.Clone(old)
	for _, e := range edits {
		if i := slices.IndexFunc(out, func(o ConfigEdit) bool { return o.Key == e.Key }); i >= 0 {
			out[i] = e
		} else {
			out = append(out, e)
		}
	}
	return out
}

// describePruned describes the pruned model as Open would describe the saved copy.
func describePruned(m *Model, ws *weights.Set, edits []ConfigEdit) (*Model, error) {
	cfg := m.Config
	for _, e := range edits {
		cfg = cfg.With(e.Key, e.Value)
	}
	return describe(&Model{Name: m.Name, Path: m.Path, Config: cfg, Weights: ws, Remote: m.Remote, Commit: m.Commit})
}

// sameBlocks checks that the pruned description holds exactly m's kept blocks, renumbered, and m's
// other parameters: the same classes, tensors and attention kind.
func sameBlocks(m, p *Model, listPath string, keep []int) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s: config.json cannot describe the pruned model: %s", m.Name, fmt.Sprintf(format, args...))
	}
	oldList, newList := m.Spec.Root.Find(listPath), p.Spec.Root.Find(listPath)
	if newList == nil || newList.Role != arch.RoleBlocks {
		return fail("it has no %s", listPath)
	}
	if len(newList.Children) != len(keep) {
		return fail("it would have %d blocks, not %d", len(newList.Children), len(keep))
	}
	for i, k := range keep {
		ob, nb := oldList.Children[k].Module, newList.Children[i].Module
		switch {
		case ob.Class != nb.Class:
			return fail("block %d (block %d before) would be a %s, not a %s", i, k, nb.Class, ob.Class)
		case !slices.Equal(paramKeys(ob.Params("")), paramKeys(nb.Params(""))):
			return fail("block %d (block %d before) would hold other tensors", i, k)
		case slidingOf(ob) != slidingOf(nb):
			return fail("block %d (block %d before) would change its attention (%s, not %s)", i, k, slidingOf(nb), slidingOf(ob))
		}
	}
	outside := func(root *arch.Module) []string {
		var keys []string
		for _, k := range paramKeys(root.Params("")) {
			if !strings.HasPrefix(k, listPath+".") {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		return keys
	}
	if !slices.Equal(outside(m.Spec.Root), outside(p.Spec.Root)) {
		return fail("the parameters outside the blocks would change")
	}
	return nil
}

func paramKeys(ps []arch.Param) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = fmt.Sprint(p.Name, p.Shape)
	}
	return out
}

func slidingOf(block *arch.Module) string {
	if block.Attrs[arch.AttrAttention] == "sliding" {
		return "sliding window " + block.Attrs[arch.AttrWindow]
	}
	return "full attention"
}

// KeptBlocks are the blocks of a model of n blocks that stay when remove goes, in order: the numbers
// the cards of a what-if keep (render.Model.Numbers), so block 7 stays block 7.
func KeptBlocks(n int, remove []int) []int {
	var kept []int
	for k := range n {
		if !slices.Contains(remove, k) {
			kept = append(kept, k)
		}
	}
	return kept
}
