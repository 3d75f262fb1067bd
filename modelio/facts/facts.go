// Package facts computes the key facts a lecturer points at from a described model: the parameter count
// split by component, the memory at common precisions, the architectural characteristics with the one
// line that explains each, and where the architecture invites pruning. The JSON form is stable (its key
// set is pinned by a test and documented in docs/FACTS_JSON.md), so scripts can read `layerscope facts
// --json`.
//
// facts reads only the module tree and its description (modelio/arch); it takes the weights' size as
// plain numbers so that modelio, whose command line prints facts, can import it.
package facts

import (
	"strconv"

	"github.com/layerscope/layerscope/modelio/arch"
)

// Facts are the key facts of one model. Every field is always present in the JSON form; a part that does
// not apply is 0, false, null or an empty list as its comment says.
type Facts struct {
	// Name is what a person calls the model: the gallery short name, the Hugging Face id, the folder name.
	Name string `json:"name"`
	// Family is the config.json model_type ("llama"), or what the generic reader called it.
	Family string `json:"family"`
	// Class is the causal-LM class transformers builds ("LlamaForCausalLM").
	Class string `json:"class"`
	// BaseClass is the class AutoModel builds ("LlamaModel"); "" when the tree has no base model.
	BaseClass string `json:"base_class"`

	Parameters Parameters `json:"parameters"`
	Memory     Memory     `json:"memory"`
	// Quantization is how the stored weights are quantized; null for full-precision weights and for
	// a model opened without weights. The caller fills it in (Model.Facts).
	Quantization *Quantization `json:"quantization"`

	// Characteristics are the architecture's traits in a fixed order (see docs/FACTS_JSON.md for the
	// keys); a trait that does not apply (no sliding window, no experts) is left out, never empty.
	Characteristics []Characteristic `json:"characteristics"`
	// PruningHints say where the architecture invites depth, width, attention-head or expert pruning.
	PruningHints []Hint `json:"pruning_hints"`
	// Warnings are disagreements between config.json and the weights, and notes from the family; the
	// caller fills them in (Model.Warnings). Never null: an empty list when there are none.
	Warnings []string `json:"warnings"`
}

// Parameters counts parameter elements. Tied weights count once: a tied lm_head owns no parameter in the
// module tree, so its matrix is counted in Embeddings. The components add up to Total.
type Parameters struct {
	// Total is every parameter of the causal-LM model, tied embeddings counted once.
	Total int64 `json:"total"`
	// Embeddings are the token embedding plus the learned position embedding where there is one.
	Embeddings int64 `json:"embeddings"`
	// Attention is every attention projection of every block, biases included (q/k norms are in Norms).
	Attention int64 `json:"attention"`
	// MLP is every MLP of every block; for a mixture of experts, all experts and the router.
	MLP int64 `json:"mlp"`
	// Norms are every norm: those of the blocks, the per-head q/k norms and the final norm.
	Norms int64 `json:"norms"`
	// LMHead is the output projection; 0 when it is tied to the token embedding.
	LMHead int64 `json:"lm_head"`
	// Other is whatever none of the above claims (OPT-350m's project_in/project_out).
	Other int64 `json:"other"`
	// BlockMin and BlockMax are the smallest and largest parameter count of one decoder block; equal when
	// all blocks are alike, 0 when the model has no blocks.
	BlockMin int64 `json:"block_min"`
	BlockMax int64 `json:"block_max"`
	// TiedEmbeddings is true when lm_head reuses the token embedding matrix.
	TiedEmbeddings bool `json:"tied_embeddings"`
	// Active is the parameters one token passes through: Total minus, in every mixture-of-experts layer,
	// the experts it is not routed to ((experts − top_k) × one expert's parameters). Equal to Total for a
	// dense model.
	Active int64 `json:"active"`
}

// Memory is the size of the parameters at common precisions. Byte counts are exact; the human strings
// use decimal units (1 GB = 10^9 bytes, as disk and download sizes do), with two decimals: "2.47 GB".
type Memory struct {
	FP32 Size `json:"fp32"` // 4 bytes per parameter
	BF16 Size `json:"bf16"` // 2 bytes per parameter (fp16 is the same size)
	Int8 Size `json:"int8"` // 1 byte per parameter
	Int4 Size `json:"int4"` // half a byte per parameter, rounded up to whole bytes
	// Stored is what the weights files hold; null when the model was opened without weights.
	Stored *Stored `json:"stored"`
}

// Size is a byte count with its human form.
type Size struct {
	Bytes int64  `json:"bytes"`
	Human string `json:"human"` // "2.47 GB", decimal units
}

// Stored is the size of the tensors in the weights files.
type Stored struct {
	Bytes int64  `json:"bytes"` // the tensors' data, headers not included
	Human string `json:"human"`
	// DTypes counts the tensors of each safetensors dtype ("BF16": 147).
	DTypes map[string]int64 `json:"dtypes"`
}

// Quantization describes quantized weights: a bitsandbytes, GPTQ or AWQ checkpoint, or a GGUF file.
type Quantization struct {
	Method string `json:"method"` // "bitsandbytes", "gptq", "awq", "gguf"
	Format string `json:"format"` // "nf4", "fp4", "int8", "gemm", or GGUF's file type "Q4_K_M"
	// Bits is the width of one quantized element; 0 where tensors mix types (GGUF).
	Bits int `json:"bits"`
	// GroupSize is how many weights share one scale (bitsandbytes' blocksize, GPTQ/AWQ group_size);
	// 0 when there is none or it varies.
	GroupSize int `json:"group_size"`
	// BitsPerWeight is the stored bytes × 8 over the parameter count, scales and full-precision
	// tensors included, to two decimals.
	BitsPerWeight float64 `json:"bits_per_weight"`
	// Skipped are the linear layers kept in full precision, layer indices shown as N ("lm_head").
	Skipped []string `json:"skipped"`
}

// Summary is the method in a few words: "bitsandbytes nf4, 4-bit, groups of 64", "gguf Q4_K_M".
func (q *Quantization) Summary() string {
	text := q.Method
	if q.Format != "" {
		text += " " + q.Format
	}
	if q.Bits > 0 {
		text += ", " + strconv.Itoa(q.Bits) + "-bit"
	}
	if q.GroupSize > 0 {
		text += ", groups of " + strconv.Itoa(q.GroupSize)
	}
	return text
}

// Characteristic is one trait of the architecture, as a row of the key-facts panel.
type Characteristic struct {
	// Key names the trait; the set of keys is fixed and documented ("attention", "mlp", ...).
	Key string `json:"key"`
	// Value is the short form shown in the panel ("GQA 32:8").
	Value string `json:"value"`
	// Explanation is the one line a lecturer would say about it ("GQA: 32 query heads share 8 key/value
	// heads, 4:1").
	Explanation string `json:"explanation"`
}

// Hint is a place where the architecture invites pruning.
type Hint struct {
	// Kind is "depth" (remove whole blocks), "width" (narrow the MLPs), "attention" (remove heads) or
	// "experts" (remove experts of a mixture).
	Kind string `json:"kind"`
	// Text is the line shown to the user.
	Text string `json:"text"`
}

// Compute derives the facts of a model from its spec (the module tree and hyper-parameters) and its
// architecture description, both from the same model. storedBytes is the weights' data size and
// storedDTypes the number of tensors per dtype; pass 0 and nil when the model has no weights. Warnings
// start empty for the caller to fill.
func Compute(name string, spec *arch.Spec, a *arch.Architecture, storedBytes int64, storedDTypes map[string]int64) *Facts {
	return ComputeNumbered(name, spec, a, storedBytes, storedDTypes, nil)
}

// ComputeNumbered is Compute for a model whose blocks carry other numbers than 0, 1, …: numbers[i] is
// block i's. A what-if without some blocks keeps the full model's numbers (block 7 stays block 7, as
// on the stack), and the facts that name blocks use them. nil numbers the blocks 0, 1, ….
func ComputeNumbered(name string, spec *arch.Spec, a *arch.Architecture, storedBytes int64, storedDTypes map[string]int64, numbers []int) *Facts {
	f := &Facts{Name: name, Characteristics: []Characteristic{}, PruningHints: []Hint{}, Warnings: []string{}}
	if storedBytes > 0 || storedDTypes != nil {
		dt := map[string]int64{}
		for k, v := range storedDTypes {
			dt[k] = v
		}
		f.Memory.Stored = &Stored{Bytes: storedBytes, Human: humanBytes(storedBytes), DTypes: dt}
	}
	if spec == nil || spec.Root == nil {
		f.Memory.FP32, f.Memory.BF16, f.Memory.Int8, f.Memory.Int4 = memory(0)
		return f
	}
	if a == nil {
		a = &arch.Architecture{Family: spec.Family, Class: spec.Root.Class}
	}
	f.Family, f.Class, f.BaseClass = spec.Family, a.Class, a.BaseClass
	if f.Family == "" {
		f.Family = a.Family
	}
	if f.Class == "" {
		f.Class = spec.Root.Class
	}

	m := newModel(spec, a)
	if len(numbers) == len(a.Blocks) {
		m.numbers = numbers
	}
	f.Parameters = countParameters(spec.Root, a)
	// A checkpoint read without its family may hold no lm_head at all; transformers then ties it.
	f.Parameters.TiedEmbeddings = f.Parameters.TiedEmbeddings || (a.LMHead == nil && spec.Hyper.TiedEmbeddings)
	f.Parameters.Active = f.Parameters.Total - m.inactive()
	f.Memory.FP32, f.Memory.BF16, f.Memory.Int8, f.Memory.Int4 = memory(f.Parameters.Total)
	f.Characteristics = m.characteristics(f.Parameters)
	f.PruningHints = m.hints(f.Parameters)
	return f
}

// Components of the parameter count, as the tree walk assigns them.
const (
	compOther = iota
	compEmbeddings
	compAttention
	compMLP
	compNorms
	compLMHead
)

// countParameters walks the module tree and gives each leaf's own parameters to the component of its
// role, or of its nearest ancestor with one: a bias-free leaf without a role inside an attention module
// still counts as attention. Norms win wherever they sit, so q/k norms count as norms.
func countParameters(root *arch.Module, a *arch.Architecture) Parameters {
	var by [compLMHead + 1]int64
	var walk func(m *arch.Module, comp int)
	walk = func(m *arch.Module, comp int) {
		switch m.Role {
		case arch.RoleTokenEmbedding, arch.RolePosEmbedding:
			comp = compEmbeddings
		case arch.RoleLMHead:
			comp = compLMHead
		case arch.RoleNorm, arch.RoleFinalNorm:
			comp = compNorms
		case arch.RoleAttention, arch.RoleQ, arch.RoleK, arch.RoleV, arch.RoleO, arch.RoleQKV:
			comp = compAttention
		case arch.RoleMLP, arch.RoleMoE, arch.RoleExperts, arch.RoleExpert, arch.RoleRouter,
			arch.RoleGate, arch.RoleUp, arch.RoleGateUp, arch.RoleDown:
			comp = compMLP
		}
		for _, p := range m.OwnParams("") {
			by[comp] += arch.NumElements(p.Shape)
		}
		for _, c := range m.Children {
			walk(c.Module, comp)
		}
	}
	walk(root, compOther)

	p := Parameters{
		Embeddings: by[compEmbeddings], Attention: by[compAttention], MLP: by[compMLP],
		Norms: by[compNorms], LMHead: by[compLMHead], Other: by[compOther],
	}
	p.Total = p.Embeddings + p.Attention + p.MLP + p.Norms + p.LMHead + p.Other
	for i, b := range a.Blocks {
		if i == 0 || b.Params < p.BlockMin {
			p.BlockMin = b.Params
		}
		if b.Params > p.BlockMax {
			p.BlockMax = b.Params
		}
	}
	p.TiedEmbeddings = a.LMHead != nil && a.LMHead.Tied
	return p
}

// Bytes per parameter at each precision, in halves of a byte so int4 stays an integer.
const (
	halvesFP32 = 8
	halvesBF16 = 4
	halvesInt8 = 2
	halvesInt4 = 1
)

func memory(params int64) (fp32, bf16, int8, int4 Size) {
	size := func(halves int64) Size {
		b := (params*halves + 1) / 2 // round a trailing half byte up
		return Size{Bytes: b, Human: humanBytes(b)}
	}
	return size(halvesFP32), size(halvesBF16), size(halvesInt8), size(halvesInt4)
}
