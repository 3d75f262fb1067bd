// Package quant reads quantized safetensors checkpoints as what they are: for every quantized linear
// layer it recovers the real in/out widths from the packed tensors, names the tensors that belong to
// the layer (scales, zeros, absmax, ...) so nothing is reported as stray, and says which module class
// transformers 4.55 prints for the layer. The module tree, the bars and the facts then show the model,
// not its packed storage.
//
// The layouts, and where each was read:
//
//   - bitsandbytes 4-bit (nf4, fp4): bitsandbytes/nn/modules.py (Params4bit, Linear4bit._save_to_state_dict)
//     and bitsandbytes/functional.py (QuantState.as_dict(packed=True)). Per layer X:
//     X.weight U8 [ceil(out·in/2), 1]; X.weight.absmax F32 [ceil(out·in/blocksize)] (U8 when
//     double-quantized, with X.weight.nested_absmax F32 and X.weight.nested_quant_map F32 [256]);
//     X.weight.quant_map F32 [16]; X.weight.quant_state.bitsandbytes__nf4 (or __fp4) U8 [n]: the UTF-8
//     JSON of {quant_type, blocksize, dtype, shape: [out, in], nested_*}. The JSON holds the real shape.
//   - bitsandbytes 8-bit (LLM.int8): bitsandbytes/nn/modules.py (Linear8bitLt._save_to_state_dict):
//     X.weight I8 [out, in], X.SCB F32 [out], and in bitsandbytes >= 0.41 X.weight_format U8 [].
//   - GPTQ: AutoGPTQ/gptqmodel's QuantLinear buffers (gptqmodel/nn_modules/qlinear/__init__.py,
//     BaseQuantLinear.__init__, used by transformers' GptqHfQuantizer through optimum): X.qweight I32
//     [ceil(in/pack), out], X.qzeros I32 [groups, ceil(out/pack)], X.scales F16 [groups, out],
//     X.g_idx I32 [in], X.bias F16 [out]; pack = 32/bits, groups = ceil(in/group_size) (1 for -1).
//   - AWQ, GEMM packing: AutoAWQ's awq/modules/linear/gemm.py (WQLinear_GEMM): X.qweight I32
//     [in, out/pack], X.qzeros I32 [in/group_size, out/pack], X.scales F16 [in/group_size, out].
//
// The module classes (transformers 4.55, integrations/bitsandbytes.py, integrations/awq.py and
// optimum's GPTQ path): bitsandbytes 4-bit layers become bnb.nn.Linear4bit and 8-bit ones
// bnb.nn.Linear8bitLt; both subclass nn.Linear and print its extra_repr. AWQ GEMM layers become
// AutoAWQ's WQLinear_GEMM, whose extra_repr adds w_bit and group_size. GPTQ layers become a backend's
// QuantLinear; Layerscope prints auto-gptq's "QuantLinear()" (its classes define no extra_repr), the
// backend transformers' GPTQConfig defaults to (use_exllama=True, exllama v1) and the one most GPTQ
// checkpoints on the Hub were made for; gptqmodel picks a class per GPU at load time, so no single
// name would be more faithful. Modules left in full precision (lm_head, modules_to_not_convert) stay
// Linear.
package quant

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/config"
	"github.com/layerscope/layerscope/modelio/weights"
)

// Methods Layerscope reads, as quantization_config.quant_method names them.
const (
	MethodBNB  = "bitsandbytes"
	MethodGPTQ = "gptq"
	MethodAWQ  = "awq"
)

// passThrough are quant_methods whose checkpoints store every linear weight at its real shape (an fp8
// or int8 tensor plus scales): Layerscope reads them as stored, and the scale tensors stay visible.
var passThrough = map[string]bool{
	"fp8": true, "fbgemm_fp8": true, "compressed-tensors": true, "compressed_tensors": true,
	"mxfp4": true, "finegrained_fp8": true,
}

// Scheme is how a checkpoint is quantized, for the facts.
type Scheme struct {
	Method    string // "bitsandbytes", "gptq", "awq", "gguf"
	Format    string // "nf4", "fp4", "int8", "gemm", "Q4_K_M"
	Bits      int    // bits of a quantized weight element; 0 when it varies (GGUF)
	GroupSize int    // elements sharing one scale (bnb blocksize, GPTQ/AWQ group_size); 0 when none
	// Skipped are the linear layers stored in full precision, by name with layer indices hidden
	// ("lm_head", "model.layers.N.mlp.gate").
	Skipped []string
}

// Layer is one quantized linear layer.
type Layer struct {
	In, Out int64
	DType   string   // shown where a dtype is: "NF4", "INT8", "GPTQ-INT4", "AWQ-INT4"
	Tensors []string // every stored tensor of the layer except its bias
}

// Checkpoint is a quantized checkpoint's layers and scheme.
type Checkpoint struct {
	Scheme
	Layers   map[string]*Layer // by module path: "model.layers.0.mlp.down_proj"
	Warnings []string
	class    string // printed class of a quantized layer
	extra    func(l *Layer, bias bool) *string
}

// Read inspects a checkpoint's config and tensors. It returns nil, nil when neither says the model is
// quantized in a way that changes tensor shapes (plain, fp8 and other pass-through methods), and a
// one-line error naming the file for an unknown method or packed tensors that contradict each other.
func Read(cfg *config.Config, ws *weights.Set) (*Checkpoint, error) {
	if ws == nil {
		return nil, nil
	}
	qc := (*config.Config)(nil)
	cfgPath := "config.json"
	if cfg != nil {
		qc = cfg.Sub("quantization_config")
		cfgPath = cfg.Path
	}
	method := ""
	if qc != nil {
		method = strings.ToLower(qc.String("quant_method", ""))
	}
	seen := detect(ws)
	if method == "" && seen == "" {
		return nil, nil
	}
	if passThrough[method] {
		if seen == "" {
			return nil, nil
		}
		return nil, fmt.Errorf("%s: quantization_config.quant_method is %q, but the tensors are packed as %s", cfgPath, clip(method), seenName(seen))
	}
	switch {
	case method == "":
		method = seen
		if method == "gptq-or-awq" {
			return nil, fmt.Errorf("%s: the tensors are GPTQ or AWQ packed (qweight, qzeros, scales) but config.json has no quantization_config.quant_method to say which", cfgPath)
		}
	case method != MethodBNB && method != MethodGPTQ && method != MethodAWQ:
		return nil, fmt.Errorf("%s: quantization_config.quant_method %q is not one Layerscope reads (bitsandbytes, gptq, awq; fp8 and compressed-tensors are read as stored)", cfgPath, clip(method))
	}
	var c *Checkpoint
	var err error
	switch method {
	case MethodBNB:
		c, err = readBNB(qc, ws)
	case MethodGPTQ:
		c, err = readPacked(qc, ws, MethodGPTQ)
	case MethodAWQ:
		c, err = readPacked(qc, ws, MethodAWQ)
	}
	if err != nil {
		return nil, err
	}
	if seen != "" && seen != "gptq-or-awq" && seen != method {
		c.Warnings = append(c.Warnings, fmt.Sprintf("quantization_config.quant_method is %q but the tensors are laid out for %s", method, seen))
	}
	if len(c.Layers) == 0 {
		c.Warnings = append(c.Warnings, fmt.Sprintf("quantization_config says %s but no tensor is stored quantized", method))
	}
	return c, nil
}

func seenName(seen string) string {
	if seen == "gptq-or-awq" {
		return "GPTQ or AWQ (qweight, qzeros, scales)"
	}
	return seen
}

// detect names the method the tensor layout shows: "bitsandbytes", "gptq-or-awq", or "".
func detect(ws *weights.Set) string {
	for _, name := range ws.Names {
		switch {
		case strings.Contains(name, ".quant_state.bitsandbytes__"), strings.HasSuffix(name, ".SCB"):
			return MethodBNB
		case strings.HasSuffix(name, ".qweight"):
			return "gptq-or-awq"
		}
	}
	return ""
}

// The methods below take a nil *Checkpoint as a full-precision checkpoint: they change nothing.

// Lookup wraps the weights' lookup so that a quantized layer's weight reads as [out, in] with its
// quantized dtype, as an nn.Linear weight would.
func (c *Checkpoint) Lookup(base arch.TensorLookup) arch.TensorLookup {
	if c == nil {
		return base
	}
	return func(name string) ([]int64, string, bool) {
		if path, ok := strings.CutSuffix(name, ".weight"); ok {
			if l, ok := c.Layers[path]; ok {
				return []int64{l.Out, l.In}, l.DType, true
			}
		}
		return base(name)
	}
}

// Logical returns ws as an unquantized checkpoint would hold it: each quantized layer's tensors
// become one X.weight of [out, in] with the quantized dtype, sized as all of them together. The generic
// description, which groups tensors by name and shape, reads this.
func (c *Checkpoint) Logical(ws *weights.Set) *weights.Set {
	if c == nil {
		return ws
	}
	owner := map[string]string{}
	for path, l := range c.Layers {
		for _, n := range l.Tensors {
			owner[n] = path
		}
	}
	out := &weights.Set{Tensors: map[string]*weights.Tensor{}, Files: ws.Files, Warnings: ws.Warnings}
	for _, name := range ws.Names {
		t := ws.Tensors[name]
		path, ok := owner[name]
		if !ok {
			out.Tensors[name] = t
			out.Names = append(out.Names, name)
			continue
		}
		w := path + ".weight"
		if lt, seen := out.Tensors[w]; seen {
			lt.Size += t.Size
			continue
		}
		l := c.Layers[path]
		out.Tensors[w] = &weights.Tensor{Name: w, DType: l.DType, Shape: []int64{l.Out, l.In}, File: t.File, Offset: t.Offset, Size: t.Size}
		out.Names = append(out.Names, w)
	}
	return out
}

// Placed lists every tensor the quantized layers own, so none is reported as unread.
func (c *Checkpoint) Placed() []string {
	if c == nil {
		return nil
	}
	var out []string
	for _, l := range c.Layers {
		out = append(out, l.Tensors...)
	}
	return out
}

// Prepare turns each quantized Conv1D of the tree (GPT-2's) into a Linear before the tree is
// reconciled with the weights: transformers' quantizers replace Conv1D by their Linear classes too
// (integrations/bitsandbytes.py takes in/out from Conv1D's transposed weight), and the packed
// tensors hold [out, in].
func (c *Checkpoint) Prepare(root *arch.Module) {
	if c == nil {
		return
	}
	root.Walk("", func(path string, m *arch.Module) bool {
		if _, ok := c.Layers[path]; ok && m.Op == arch.OpConv1D {
			m.Op, m.Class = arch.OpLinear, "Linear"
		}
		return true
	})
}

// Apply gives each quantized linear of the tree the class transformers prints for it, and warns where
// the config's skip list and the tensors disagree.
func (c *Checkpoint) Apply(root *arch.Module, skipList []string) {
	seen := map[string]bool{}
	skipped := map[string]bool{}
	var skippedOrder []string
	root.Walk("", func(path string, m *arch.Module) bool {
		if m.Op != arch.OpLinear || m.Tied {
			return true
		}
		l, ok := c.Layers[path]
		if !ok {
			g := layerIndex.ReplaceAllString(path, ".N.")
			if !skipped[g] {
				skipped[g] = true
				skippedOrder = append(skippedOrder, g)
			}
			return true
		}
		seen[path] = true
		m.Class = c.class
		if c.extra != nil {
			m.ReprExtra = c.extra(l, m.Bias)
		}
		for _, s := range skipList {
			if s != "" && matchesModule(path, s) {
				c.Warnings = append(c.Warnings, fmt.Sprintf("%s is stored quantized although quantization_config skips %q", path, s))
				break
			}
		}
		return true
	})
	c.Skipped = skippedOrder
	var stray []string
	for p := range c.Layers {
		if !seen[p] {
			stray = append(stray, p)
		}
	}
	sort.Strings(stray)
	for _, p := range stray {
		c.Warnings = append(c.Warnings, fmt.Sprintf("quantized layer %s in the weights is not a linear layer of the model", p))
	}
}

// matchesModule is transformers' test for a skip-list entry: the name is the module's path or one of
// its dotted components' suffixes ("lm_head" skips "lm_head", "mlp.gate" skips "model.layers.0.mlp.gate").
func matchesModule(path, entry string) bool {
	return path == entry || strings.HasSuffix(path, "."+entry) || strings.Contains("."+path+".", "."+entry+".")
}

// SkipList is the config's list of modules left unquantized: llm_int8_skip_modules (bitsandbytes) or
// modules_to_not_convert (AWQ, and bitsandbytes in newer transformers).
func SkipList(cfg *config.Config) []string {
	if cfg == nil {
		return nil
	}
	qc := cfg.Sub("quantization_config")
	if qc == nil {
		return nil
	}
	var out []string
	for _, k := range []string{"llm_int8_skip_modules", "modules_to_not_convert"} {
		out = append(out, qc.Strings(k)...)
	}
	return out
}

var layerIndex = regexp.MustCompile(`\.\d+\.`)

// maxStateJSON bounds the quant_state tensor read from a file: its JSON is a few hundred bytes.
const maxStateJSON = 64 << 10

// readTensorBytes reads a small tensor's data from its file: a regular file only, at most limit bytes.
func readTensorBytes(t *weights.Tensor, limit int64) ([]byte, error) {
	if t.Size > limit {
		return nil, fmt.Errorf("%s: tensor %s is %d bytes, more than the %d a quant_state holds", t.File, t.Name, t.Size, limit)
	}
	f, err := os.Open(t.File)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", t.File, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", t.File)
	}
	buf := make([]byte, t.Size)
	if _, err := f.ReadAt(buf, t.Offset); err != nil && err != io.EOF {
		return nil, fmt.Errorf("%s: reading tensor %s: %v", t.File, t.Name, err)
	}
	return buf, nil
}

// clip quotes a value from a file for a one-line message, cut to a readable length.
func clip(s string) string {
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// quantState is the JSON of a packed bitsandbytes QuantState.
type quantState struct {
	QuantType string  `json:"quant_type"`
	Blocksize int64   `json:"blocksize"`
	Shape     []int64 `json:"shape"`
	DType     string  `json:"dtype"`
}

func readBNB(qc *config.Config, ws *weights.Set) (*Checkpoint, error) {
	c := &Checkpoint{Layers: map[string]*Layer{}}
	c.Method = MethodBNB
	load4, load8 := false, false
	if qc != nil {
		load4 = qc.Bool("load_in_4bit", false)
		load8 = qc.Bool("load_in_8bit", false)
		if err := qc.Err(); err != nil {
			return nil, err
		}
	}
	for _, name := range ws.Names {
		t := ws.Tensors[name]
		if i := strings.Index(name, ".weight.quant_state.bitsandbytes__"); i >= 0 {
			path := name[:i]
			l, qs, err := bnb4Layer(ws, path, t)
			if err != nil {
				return nil, err
			}
			c.Layers[path] = l
			if c.Format == "" {
				c.Format, c.Bits, c.GroupSize = qs.QuantType, 4, int(qs.Blocksize)
			} else if c.Format != qs.QuantType {
				c.Warnings = append(c.Warnings, fmt.Sprintf("%s is %s while other layers are %s", path, qs.QuantType, c.Format))
			}
			continue
		}
		if path, ok := strings.CutSuffix(name, ".SCB"); ok {
			l, err := bnb8Layer(ws, path, t)
			if err != nil {
				return nil, err
			}
			c.Layers[path] = l
			if c.Format == "" {
				c.Format, c.Bits = "int8", 8
			}
		}
	}
	switch {
	case c.Bits == 4:
		c.class = "Linear4bit"
		if load8 {
			c.Warnings = append(c.Warnings, "quantization_config says load_in_8bit but the tensors are 4-bit")
		}
	case c.Bits == 8:
		c.class = "Linear8bitLt"
		if load4 {
			c.Warnings = append(c.Warnings, "quantization_config says load_in_4bit but the tensors are 8-bit")
		}
	}
	if qc != nil && c.Bits == 4 {
		if want := strings.ToLower(qc.String("bnb_4bit_quant_type", "")); want != "" && want != c.Format {
			c.Warnings = append(c.Warnings, fmt.Sprintf("quantization_config says bnb_4bit_quant_type %q but the tensors are %s", clip(want), c.Format))
		}
	}
	return c, nil
}

// bnb4Layer reads one Linear4bit's tensors; the shape comes from the quant_state JSON and must agree
// with the packed weight's byte count.
func bnb4Layer(ws *weights.Set, path string, stateT *weights.Tensor) (*Layer, *quantState, error) {
	data, err := readTensorBytes(stateT, maxStateJSON)
	if err != nil {
		return nil, nil, err
	}
	var qs quantState
	if err := json.Unmarshal(data, &qs); err != nil {
		return nil, nil, fmt.Errorf("%s: tensor %s does not hold a bitsandbytes quant_state JSON: %v", stateT.File, stateT.Name, err)
	}
	if len(qs.Shape) != 2 || qs.Shape[0] <= 0 || qs.Shape[1] <= 0 || qs.Shape[0] > 1<<31 || qs.Shape[1] > 1<<31 {
		return nil, nil, fmt.Errorf("%s: tensor %s gives shape %v; a Linear4bit weight is [out, in]", stateT.File, stateT.Name, qs.Shape)
	}
	if qs.QuantType != "nf4" && qs.QuantType != "fp4" {
		return nil, nil, fmt.Errorf("%s: tensor %s gives quant_type %q; bitsandbytes 4-bit is nf4 or fp4", stateT.File, stateT.Name, clip(qs.QuantType))
	}
	if want := "bitsandbytes__" + qs.QuantType; !strings.HasSuffix(stateT.Name, want) {
		return nil, nil, fmt.Errorf("%s: tensor %s holds a %s quant_state", stateT.File, stateT.Name, qs.QuantType)
	}
	out, in := qs.Shape[0], qs.Shape[1]
	n := out * in
	w, ok := ws.Tensors[path+".weight"]
	if !ok {
		return nil, nil, fmt.Errorf("%s: missing tensor %s.weight beside its quant_state", stateT.File, path)
	}
	if w.DType != "U8" || w.Elements() != (n+1)/2 {
		return nil, nil, fmt.Errorf("%s: tensor %s.weight is %s %v; a 4-bit [%d, %d] weight packs into %d U8 bytes",
			w.File, path, w.DType, w.Shape, out, in, (n+1)/2)
	}
	tensors := []string{path + ".weight", stateT.Name}
	if qs.Blocksize <= 0 {
		return nil, nil, fmt.Errorf("%s: tensor %s gives blocksize %d", stateT.File, stateT.Name, qs.Blocksize)
	}
	absmax, ok := ws.Tensors[path+".weight.absmax"]
	if !ok {
		return nil, nil, fmt.Errorf("%s: missing tensor %s.weight.absmax", stateT.File, path)
	}
	if blocks := (n + qs.Blocksize - 1) / qs.Blocksize; absmax.Elements() != blocks {
		return nil, nil, fmt.Errorf("%s: tensor %s.weight.absmax has %d elements; %d weights in blocks of %d need %d",
			absmax.File, path, absmax.Elements(), n, qs.Blocksize, blocks)
	}
	tensors = append(tensors, absmax.Name)
	for _, aux := range []string{".weight.quant_map", ".weight.nested_absmax", ".weight.nested_quant_map"} {
		if _, ok := ws.Tensors[path+aux]; ok {
			tensors = append(tensors, path+aux)
		}
	}
	return &Layer{Out: out, In: in, DType: strings.ToUpper(qs.QuantType), Tensors: tensors}, &qs, nil
}

func bnb8Layer(ws *weights.Set, path string, scb *weights.Tensor) (*Layer, error) {
	w, ok := ws.Tensors[path+".weight"]
	if !ok {
		return nil, fmt.Errorf("%s: missing tensor %s.weight beside its SCB", scb.File, path)
	}
	if w.DType != "I8" || len(w.Shape) != 2 {
		return nil, fmt.Errorf("%s: tensor %s.weight is %s %v; a Linear8bitLt weight is I8 [out, in]", w.File, path, w.DType, w.Shape)
	}
	if len(scb.Shape) != 1 || scb.Shape[0] != w.Shape[0] {
		return nil, fmt.Errorf("%s: tensor %s.SCB is %v; its weight %v needs one scale per output row, [%d]", scb.File, path, scb.Shape, w.Shape, w.Shape[0])
	}
	tensors := []string{w.Name, scb.Name}
	if _, ok := ws.Tensors[path+".weight_format"]; ok {
		tensors = append(tensors, path+".weight_format")
	}
	return &Layer{Out: w.Shape[0], In: w.Shape[1], DType: "INT8", Tensors: tensors}, nil
}

// readPacked reads GPTQ or AWQ layers: bits and group_size from quantization_config, shapes from
// qweight and scales, checked against each other.
func readPacked(qc *config.Config, ws *weights.Set, method string) (*Checkpoint, error) {
	c := &Checkpoint{Layers: map[string]*Layer{}}
	c.Method = method
	bits, group := 4, 128
	path := "config.json"
	if qc != nil {
		path = qc.Path
		bits = qc.FirstInt(4, "bits", "w_bit")
		group = qc.FirstInt(128, "group_size", "q_group_size")
		if err := qc.Err(); err != nil {
			return nil, err
		}
	}
	if bits != 2 && bits != 3 && bits != 4 && bits != 8 {
		return nil, fmt.Errorf("%s: quantization_config.bits %d: %s packs 2, 3, 4 or 8 bits", path, bits, method)
	}
	if group == 0 || group < -1 {
		return nil, fmt.Errorf("%s: quantization_config.group_size %d must be positive or -1", path, group)
	}
	// Where the first layer's tensors plainly show other bits or another group size than the config
	// says, the tensors win and the disagreement is a warning; the sizes of every layer are then
	// checked against what the tensors show.
	if tb, tg, ok := inferPacked(ws, method, group); ok {
		if tb != bits {
			c.Warnings = append(c.Warnings, fmt.Sprintf("quantization_config.bits is %d but the tensors are packed at %d bits", bits, tb))
			bits = tb
		}
		if tg != group {
			c.Warnings = append(c.Warnings, fmt.Sprintf("quantization_config.group_size is %d but the tensors hold groups of %d", group, tg))
			group = tg
		}
	}
	c.Bits = bits
	if group > 0 {
		c.GroupSize = group
	}
	dtype := strings.ToUpper(method) + "-INT" + strconv.Itoa(bits)
	switch method {
	case MethodGPTQ:
		c.class = "QuantLinear"
		empty := ""
		c.extra = func(*Layer, bool) *string { return &empty }
	case MethodAWQ:
		c.Format = "gemm"
		if qc != nil {
			if v := strings.ToLower(qc.String("version", "gemm")); v != "gemm" && v != "exllama" && v != "ipex" {
				return nil, fmt.Errorf("%s: quantization_config.version %q: Layerscope reads AWQ's GEMM packing only", path, clip(v))
			}
		}
		c.class = "WQLinear_GEMM"
		c.extra = func(l *Layer, bias bool) *string {
			s := fmt.Sprintf("in_features=%d, out_features=%d, bias=%s, w_bit=%d, group_size=%d",
				l.In, l.Out, pyBool(bias), bits, effectiveGroup(group, l.In))
			return &s
		}
	}
	for _, name := range ws.Names {
		p, ok := strings.CutSuffix(name, ".qweight")
		if !ok {
			continue
		}
		var l *Layer
		var err error
		if method == MethodGPTQ {
			l, err = gptqLayer(ws, p, bits, group)
		} else {
			l, err = awqLayer(ws, p, bits, group)
		}
		if err != nil {
			return nil, err
		}
		l.DType = dtype
		c.Layers[p] = l
	}
	return c, nil
}

// inferPacked reads bits and group size off the first packed layer: GPTQ's qweight holds
// in·bits/32 rows (in from g_idx), AWQ's out·bits/32 columns (out from scales); scales hold one row per
// group. ok is false when the tensors do not settle it (no g_idx, sizes that divide unevenly).
func inferPacked(ws *weights.Set, method string, cfgGroup int) (bits, group int, ok bool) {
	for _, name := range ws.Names {
		p, found := strings.CutSuffix(name, ".qweight")
		if !found {
			continue
		}
		qw, scales := ws.Tensors[name], ws.Tensors[p+".scales"]
		if scales == nil || len(qw.Shape) != 2 || len(scales.Shape) != 2 || scales.Shape[0] <= 0 {
			return 0, 0, false
		}
		var in, packed, unpacked int64
		switch method {
		case MethodGPTQ:
			g := ws.Tensors[p+".g_idx"]
			if g == nil || len(g.Shape) != 1 {
				return 0, 0, false
			}
			in, packed, unpacked = g.Shape[0], qw.Shape[0], g.Shape[0]
		default:
			in, packed, unpacked = qw.Shape[0], qw.Shape[1], scales.Shape[1]
		}
		if unpacked <= 0 || packed*32%unpacked != 0 {
			return 0, 0, false
		}
		bits = int(packed * 32 / unpacked)
		if bits != 2 && bits != 3 && bits != 4 && bits != 8 {
			return 0, 0, false
		}
		groups := scales.Shape[0]
		switch {
		case cfgGroup > 0 && ceilDiv(in, int64(cfgGroup)) == groups, cfgGroup == -1 && groups == 1:
			group = cfgGroup
		case groups == 1:
			group = -1
		case in%groups == 0:
			group = int(in / groups)
		default:
			return 0, 0, false
		}
		return bits, group, true
	}
	return 0, 0, false
}

func effectiveGroup(group int, in int64) int64 {
	if group == -1 {
		return in
	}
	return int64(group)
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

func need(ws *weights.Set, at *weights.Tensor, name, dtype string, rank int) (*weights.Tensor, error) {
	t, ok := ws.Tensors[name]
	if !ok {
		return nil, fmt.Errorf("%s: missing tensor %s beside %s", at.File, name, at.Name)
	}
	if len(t.Shape) != rank || (dtype != "" && t.DType != dtype) {
		return nil, fmt.Errorf("%s: tensor %s is %s %v; expected a %d-D %s tensor", t.File, name, t.DType, t.Shape, rank, dtype)
	}
	return t, nil
}

// gptqLayer: in from g_idx, out from scales; qweight and qzeros must have the packed sizes.
func gptqLayer(ws *weights.Set, p string, bits, group int) (*Layer, error) {
	qw := ws.Tensors[p+".qweight"]
	if len(qw.Shape) != 2 || qw.DType != "I32" {
		return nil, fmt.Errorf("%s: tensor %s is %s %v; GPTQ packs qweight as I32 [in/%d, out]", qw.File, qw.Name, qw.DType, qw.Shape, 32/bits)
	}
	scales, err := need(ws, qw, p+".scales", "", 2)
	if err != nil {
		return nil, err
	}
	qz, err := need(ws, qw, p+".qzeros", "I32", 2)
	if err != nil {
		return nil, err
	}
	out := scales.Shape[1]
	in := ceilDiv(qw.Shape[0]*32, int64(bits)) // padded in; g_idx gives the exact one
	tensors := []string{qw.Name, qz.Name, scales.Name}
	if g, ok := ws.Tensors[p+".g_idx"]; ok {
		if len(g.Shape) != 1 {
			return nil, fmt.Errorf("%s: tensor %s is %v; g_idx is [in]", g.File, g.Name, g.Shape)
		}
		in = g.Shape[0]
		tensors = append(tensors, g.Name)
	}
	groups := int64(1)
	if group > 0 {
		groups = ceilDiv(in, int64(group))
	}
	switch {
	case qw.Shape[1] != out:
		return nil, fmt.Errorf("%s: tensor %s is %v but %s is %v: both must have out=%d columns", qw.File, qw.Name, qw.Shape, scales.Name, scales.Shape, out)
	case qw.Shape[0] != ceilDiv(in*int64(bits), 32):
		return nil, fmt.Errorf("%s: tensor %s is %v; %d inputs at %d bits pack into %d rows", qw.File, qw.Name, qw.Shape, in, bits, ceilDiv(in*int64(bits), 32))
	case scales.Shape[0] != groups:
		return nil, fmt.Errorf("%s: tensor %s is %v; %d inputs in groups of %d need %d rows", scales.File, scales.Name, scales.Shape, in, group, groups)
	case qz.Shape[0] != groups || qz.Shape[1] != ceilDiv(out*int64(bits), 32):
		return nil, fmt.Errorf("%s: tensor %s is %v; expected [%d, %d]", qz.File, qz.Name, qz.Shape, groups, ceilDiv(out*int64(bits), 32))
	}
	return &Layer{In: in, Out: out, Tensors: tensors}, nil
}

// awqLayer: in from qweight's rows, out from scales' columns (GEMM packing).
func awqLayer(ws *weights.Set, p string, bits, group int) (*Layer, error) {
	qw := ws.Tensors[p+".qweight"]
	if len(qw.Shape) != 2 || qw.DType != "I32" {
		return nil, fmt.Errorf("%s: tensor %s is %s %v; AWQ GEMM packs qweight as I32 [in, out/%d]", qw.File, qw.Name, qw.DType, qw.Shape, 32/bits)
	}
	scales, err := need(ws, qw, p+".scales", "", 2)
	if err != nil {
		return nil, err
	}
	qz, err := need(ws, qw, p+".qzeros", "I32", 2)
	if err != nil {
		return nil, err
	}
	in, out := qw.Shape[0], scales.Shape[1]
	groups := int64(1)
	if group > 0 {
		groups = ceilDiv(in, int64(group))
	}
	packed := ceilDiv(out*int64(bits), 32)
	switch {
	case qw.Shape[1] != packed:
		return nil, fmt.Errorf("%s: tensor %s is %v but %s has %d columns: %d outputs at %d bits pack into %d", qw.File, qw.Name, qw.Shape, scales.Name, out, out, bits, packed)
	case scales.Shape[0] != groups:
		return nil, fmt.Errorf("%s: tensor %s is %v; %d inputs in groups of %d need %d rows", scales.File, scales.Name, scales.Shape, in, group, groups)
	case qz.Shape[0] != groups || qz.Shape[1] != packed:
		return nil, fmt.Errorf("%s: tensor %s is %v; expected [%d, %d]", qz.File, qz.Name, qz.Shape, groups, packed)
	}
	return &Layer{In: in, Out: out, Tensors: []string{qw.Name, qz.Name, scales.Name}}, nil
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}
