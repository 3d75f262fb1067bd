package generic

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/layerscope/layerscope/modelio/arch"
	"github.com/layerscope/layerscope/modelio/config"
	"github.com/layerscope/layerscope/modelio/weights"
	"github.com/layerscope/layerscope/modelio/weights/weightstest"
)

// tensors builds a Set from name/shape pairs in file order, as weights.ReadFolder would.
type tensors []struct {
	name  string
	shape []int64
}

func (ts *tensors) add(name string, shape ...int64) {
	*ts = append(*ts, struct {
		name  string
		shape []int64
	}{name, shape})
}

func (ts tensors) set() *weights.Set {
	const file = "/models/mystery/model.safetensors"
	s := &weights.Set{Tensors: map[string]*weights.Tensor{}, Files: []string{file}}
	for _, t := range ts {
		s.Tensors[t.name] = &weights.Tensor{Name: t.name, DType: "BF16", Shape: t.shape, File: file}
		s.Names = append(s.Names, t.name)
	}
	return s
}

// llamaSet is a Llama checkpoint with hidden 64, vocab 256, GQA 64/32 and the MLP width of each layer
// from inter, in the sorted order Hugging Face writes.
func llamaSet(inter []int64, lmHead bool) *weights.Set {
	var ts tensors
	if lmHead {
		ts.add("lm_head.weight", 256, 64)
	}
	ts.add("model.embed_tokens.weight", 256, 64)
	for i, I := range inter {
		p := fmt.Sprintf("model.layers.%d.", i)
		ts.add(p+"input_layernorm.weight", 64)
		ts.add(p+"mlp.down_proj.weight", 64, I)
		ts.add(p+"mlp.gate_proj.weight", I, 64)
		ts.add(p+"mlp.up_proj.weight", I, 64)
		ts.add(p+"post_attention_layernorm.weight", 64)
		ts.add(p+"self_attn.k_proj.weight", 32, 64)
		ts.add(p+"self_attn.o_proj.weight", 64, 64)
		ts.add(p+"self_attn.q_proj.weight", 64, 64)
		ts.add(p+"self_attn.v_proj.weight", 32, 64)
	}
	ts.add("model.norm.weight", 64)
	return ts.set()
}

// gpt2Set is a GPT-2 checkpoint: Conv1D weights stored [in, out], learned positions, no lm_head.
func gpt2Set(layers int) *weights.Set {
	var ts tensors
	for i := range layers {
		p := fmt.Sprintf("transformer.h.%d.", i)
		ts.add(p+"attn.c_attn.bias", 192)
		ts.add(p+"attn.c_attn.weight", 64, 192)
		ts.add(p+"attn.c_proj.bias", 64)
		ts.add(p+"attn.c_proj.weight", 64, 64)
		ts.add(p+"ln_1.bias", 64)
		ts.add(p+"ln_1.weight", 64)
		ts.add(p+"ln_2.bias", 64)
		ts.add(p+"ln_2.weight", 64)
		ts.add(p+"mlp.c_fc.bias", 160)
		ts.add(p+"mlp.c_fc.weight", 64, 160)
		ts.add(p+"mlp.c_proj.bias", 64)
		ts.add(p+"mlp.c_proj.weight", 160, 64)
	}
	ts.add("transformer.ln_f.bias", 64)
	ts.add("transformer.ln_f.weight", 64)
	ts.add("transformer.wpe.weight", 128, 64)
	ts.add("transformer.wte.weight", 256, 64)
	return ts.set()
}

// moeSet is a Mixtral checkpoint with 4 experts, plus tensors no module type explains.
func moeSet() *weights.Set {
	var ts tensors
	ts.add("lm_head.weight", 256, 64)
	ts.add("model.embed_tokens.weight", 256, 64)
	for i := range 2 {
		p := fmt.Sprintf("model.layers.%d.", i)
		ts.add(p+"block_sparse_moe.gate.weight", 4, 64)
		for e := range 4 {
			q := fmt.Sprintf("%sblock_sparse_moe.experts.%d.", p, e)
			ts.add(q+"w1.weight", 96, 64)
			ts.add(q+"w2.weight", 64, 96)
			ts.add(q+"w3.weight", 96, 64)
		}
		ts.add(p+"input_layernorm.weight", 64)
		ts.add(p+"post_attention_layernorm.weight", 64)
		ts.add(p+"self_attn.k_proj.weight", 16, 64)
		ts.add(p+"self_attn.o_proj.weight", 64, 64)
		ts.add(p+"self_attn.q_proj.weight", 64, 64)
		ts.add(p+"self_attn.sinks", 4)
		ts.add(p+"self_attn.v_proj.weight", 16, 64)
	}
	ts.add("model.norm.weight", 64)
	return ts.set()
}

// oddSet holds tensors that fit no known module: a 3-D fused expert tensor, a conv with a 3-D kernel,
// a scalar, a tensor that is also a prefix of another, and a bias whose width fits nothing.
func oddSet() *weights.Set {
	var ts tensors
	ts.add("backbone.embeddings.weight", 100, 32)
	ts.add("backbone.layers.0.mixer.A_log", 32, 16)
	ts.add("backbone.layers.0.mixer.conv1d.bias", 64)
	ts.add("backbone.layers.0.mixer.conv1d.weight", 64, 1, 4)
	ts.add("backbone.layers.0.mixer.in_proj.weight", 128, 32)
	ts.add("backbone.layers.0.experts.gate_up_proj", 4, 32, 128)
	ts.add("backbone.layers.0.norm.weight", 32)
	ts.add("backbone.layers.0.odd.weight", 8, 32)
	ts.add("backbone.layers.0.odd.bias", 5)
	ts.add("backbone.layers.1.mixer.A_log", 32, 16)
	ts.add("backbone.layers.1.norm.weight", 32)
	ts.add("backbone.norm_f.weight", 32)
	ts.add("scale")
	ts.add("scale.extra", 3)
	return ts.set()
}

func cfgOf(t *testing.T, m map[string]any) *config.Config {
	t.Helper()
	if m == nil {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse("/models/mystery/config.json", b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sumElements(ws *weights.Set) int64 {
	var n int64
	for _, t := range ws.Tensors {
		n += arch.NumElements(t.Shape)
	}
	return n
}

// rolesAt checks the role of each module named in want.
func rolesAt(t *testing.T, root *arch.Module, want map[string]arch.Role) {
	t.Helper()
	for path, role := range want {
		m := root.Find(path)
		if m == nil {
			t.Errorf("no module %s", path)
			continue
		}
		if m.Role != role {
			t.Errorf("%s: role %q, want %q", path, m.Role, role)
		}
	}
}

func TestBuild(t *testing.T) {
	tests := []struct {
		name      string
		cfg       map[string]any
		ws        *weights.Set
		class     string
		family    string
		base      string
		note      string
		folds     int
		hyper     arch.Hyper
		roles     map[string]arch.Role
		classes   map[string]string
		printHas  []string
		noteCount int
	}{
		{
			name:   "llama shape, unknown model_type, narrower layer 1",
			cfg:    map[string]any{"model_type": "mystery", "architectures": []any{"MysteryForCausalLM"}, "rms_norm_eps": 1e-6, "num_attention_heads": 4},
			ws:     llamaSet([]int64{160, 96}, true),
			class:  "MysteryForCausalLM",
			family: "mystery",
			base:   "model",
			note:   `model_type "mystery" is not a family Layerscope knows: this description is grouped from the tensor names`,
			folds:  2,
			hyper: arch.Hyper{Layers: 2, Hidden: 64, Vocab: 256, Intermediate: 160, Heads: 4, KVHeads: 2, HeadDim: 16,
				MLP: arch.MLPGLU, Norm: arch.NormRMS, NormsPerBlock: 2},
			roles: map[string]arch.Role{
				"lm_head": arch.RoleLMHead, "model": arch.RoleModel, "model.embed_tokens": arch.RoleTokenEmbedding,
				"model.layers": arch.RoleBlocks, "model.layers.1": arch.RoleBlock,
				"model.layers.0.self_attn": arch.RoleAttention, "model.layers.0.self_attn.q_proj": arch.RoleQ,
				"model.layers.0.self_attn.k_proj": arch.RoleK, "model.layers.0.self_attn.v_proj": arch.RoleV,
				"model.layers.0.self_attn.o_proj": arch.RoleO, "model.layers.0.mlp": arch.RoleMLP,
				"model.layers.0.mlp.gate_proj": arch.RoleGate, "model.layers.0.mlp.up_proj": arch.RoleUp,
				"model.layers.0.mlp.down_proj": arch.RoleDown, "model.layers.0.input_layernorm": arch.RoleNorm,
				"model.norm": arch.RoleFinalNorm,
			},
			classes: map[string]string{"model": "Model", "model.layers": "ModuleList", "model.layers.0": "Layer",
				"model.layers.0.self_attn": "SelfAttn", "model.layers.0.mlp": "Mlp", "model.norm": "RMSNorm",
				"model.embed_tokens": "Embedding", "lm_head": "Linear"},
			printHas: []string{
				"(0): Layer(", "(1): Layer(",
				"(down_proj): Linear(in_features=96, out_features=64, bias=False)",
				"(input_layernorm): RMSNorm((64,), eps=1e-06)",
			},
		},
		{
			name:   "llama shape, layers 1-3 narrower fold together",
			cfg:    map[string]any{"model_type": "mystery"},
			ws:     llamaSet([]int64{160, 96, 96, 96}, false),
			class:  "UnknownForCausalLM",
			family: "mystery",
			base:   "model",
			folds:  2,
			hyper: arch.Hyper{Layers: 4, Hidden: 64, Vocab: 256, Intermediate: 160, MLP: arch.MLPGLU, Norm: arch.NormRMS,
				NormsPerBlock: 2, TiedEmbeddings: true},
			printHas: []string{"(1-3): 3 x Layer(", "(norm): RMSNorm((64,), eps=1e-05)"},
		},
		{
			name:   "gpt2 shape, no config.json",
			ws:     gpt2Set(3),
			class:  "UnknownForCausalLM",
			family: "unknown",
			base:   "transformer",
			note:   "no config.json: this description is grouped from the tensor names",
			folds:  1,
			hyper: arch.Hyper{Layers: 3, Hidden: 64, Vocab: 256, Intermediate: 160, MaxPositions: 128, MLP: arch.MLPClassic,
				Norm: arch.NormLayer, NormsPerBlock: 2, Positional: arch.PosLearned, TiedEmbeddings: true,
				AttentionBias: true, MLPBias: true},
			roles: map[string]arch.Role{
				"transformer": arch.RoleModel, "transformer.h": arch.RoleBlocks, "transformer.h.2": arch.RoleBlock,
				"transformer.wte": arch.RoleTokenEmbedding, "transformer.wpe": arch.RolePosEmbedding,
				"transformer.h.0.attn": arch.RoleAttention, "transformer.h.0.attn.c_attn": arch.RoleQKV,
				"transformer.h.0.attn.c_proj": arch.RoleO, "transformer.h.0.mlp": arch.RoleMLP,
				"transformer.h.0.mlp.c_fc": arch.RoleUp, "transformer.h.0.mlp.c_proj": arch.RoleDown,
				"transformer.h.0.ln_1": arch.RoleNorm, "transformer.ln_f": arch.RoleFinalNorm,
			},
			classes: map[string]string{"transformer.h.0": "HBlock", "transformer.h.0.attn.c_attn": "Conv1D",
				"transformer.h.0.attn.c_proj": "Conv1D", "transformer.ln_f": "LayerNorm"},
			printHas: []string{"(0-2): 3 x HBlock(", "(c_attn): Conv1D(nf=192, nx=64)", "(c_proj): Conv1D(nf=64, nx=160)",
				"(ln_f): LayerNorm((64,), eps=1e-05, elementwise_affine=True)"},
		},
		{
			name:   "gpt2 shape, config.json eps",
			cfg:    map[string]any{"model_type": "gpt3ish", "layer_norm_epsilon": 1e-6, "n_head": 4},
			ws:     gpt2Set(2),
			class:  "UnknownForCausalLM",
			family: "gpt3ish",
			base:   "transformer",
			folds:  1,
			hyper: arch.Hyper{Layers: 2, Hidden: 64, Vocab: 256, Intermediate: 160, MaxPositions: 128, MLP: arch.MLPClassic,
				Norm: arch.NormLayer, NormsPerBlock: 2, Positional: arch.PosLearned, TiedEmbeddings: true,
				AttentionBias: true, MLPBias: true, Heads: 4, HeadDim: 16},
			printHas: []string{"(ln_f): LayerNorm((64,), eps=1e-06, elementwise_affine=True)"},
		},
		{
			name:   "mixtral shape: experts, router, top-k",
			cfg:    map[string]any{"model_type": "moe9", "num_experts_per_tok": 2},
			ws:     moeSet(),
			class:  "UnknownForCausalLM",
			family: "moe9",
			base:   "model",
			folds:  1,
			hyper: arch.Hyper{Layers: 2, Hidden: 64, Vocab: 256, MLP: arch.MLPGLU, Norm: arch.NormRMS, NormsPerBlock: 2,
				Experts: 4, ExpertsPerToken: 2, ExpertIntermediate: 96, MoELayers: 2},
			roles: map[string]arch.Role{
				"model.layers.0.block_sparse_moe":              arch.RoleMoE,
				"model.layers.0.block_sparse_moe.gate":         arch.RoleRouter,
				"model.layers.0.block_sparse_moe.experts":      arch.RoleExperts,
				"model.layers.0.block_sparse_moe.experts.3":    arch.RoleExpert,
				"model.layers.0.block_sparse_moe.experts.0.w1": arch.RoleGate,
				"model.layers.0.block_sparse_moe.experts.0.w2": arch.RoleDown,
				"model.layers.0.block_sparse_moe.experts.0.w3": arch.RoleUp,
				"model.layers.0.self_attn.sinks":               arch.RoleNone,
			},
			classes:  map[string]string{"model.layers.0.block_sparse_moe.experts.0": "Expert", "model.layers.0.self_attn.sinks": "Parameter"},
			printHas: []string{"(0-3): 4 x Expert(", "(sinks): Parameter([4])"},
		},
		{
			name:   "tensors that fit no module stay parameters",
			cfg:    map[string]any{"model_type": "mamba9"},
			ws:     oddSet(),
			class:  "UnknownForCausalLM",
			family: "mamba9",
			base:   "backbone",
			folds:  2,
			hyper:  arch.Hyper{Layers: 2, Hidden: 32, Vocab: 100, NormsPerBlock: 1, Norm: arch.NormRMS, TiedEmbeddings: true},
			roles: map[string]arch.Role{"backbone.norm_f": arch.RoleFinalNorm, "backbone.layers.0.norm": arch.RoleNorm,
				"backbone.embeddings": arch.RoleTokenEmbedding},
			classes: map[string]string{"backbone.layers.0.mixer.conv1d": "Conv1d", "backbone.layers.0.mixer.conv1d.weight": "Parameter",
				"backbone.layers.0.odd": "Odd", "backbone.layers.0.experts": "Experts", "scale": "Scale"},
			printHas: []string{"(A_log): Parameter([32, 16])", "(gate_up_proj): Parameter([4, 32, 128])", "(weight): Parameter([8, 32])",
				"(bias): Parameter([5])", "(scale): Scale(\n    []\n", "(extra): Parameter([3])"},
		},
		{
			name: "no common prefix: Meta's original names",
			cfg:  map[string]any{"model_type": "llama_meta", "norm_eps": 1e-5, "n_heads": 4},
			ws: func() *weights.Set {
				var ts tensors
				ts.add("tok_embeddings.weight", 256, 64)
				for i := range 2 {
					p := fmt.Sprintf("layers.%d.", i)
					for _, n := range []string{"wq", "wo"} {
						ts.add(p+"attention."+n+".weight", 64, 64)
					}
					ts.add(p+"attention.wk.weight", 16, 64)
					ts.add(p+"attention.wv.weight", 16, 64)
					ts.add(p+"feed_forward.w1.weight", 128, 64)
					ts.add(p+"feed_forward.w2.weight", 64, 128)
					ts.add(p+"feed_forward.w3.weight", 128, 64)
					ts.add(p+"attention_norm.weight", 64)
					ts.add(p+"ffn_norm.weight", 64)
				}
				ts.add("norm.weight", 64)
				ts.add("output.weight", 256, 64)
				return ts.set()
			}(),
			class:  "UnknownForCausalLM",
			family: "llama_meta",
			base:   "",
			folds:  1,
			hyper: arch.Hyper{Layers: 2, Hidden: 64, Vocab: 256, Intermediate: 128, MLP: arch.MLPGLU, Norm: arch.NormRMS,
				NormsPerBlock: 2, Heads: 4, KVHeads: 1, HeadDim: 16},
			roles: map[string]arch.Role{"layers": arch.RoleBlocks, "layers.0.attention": arch.RoleAttention,
				"layers.0.attention.wo": arch.RoleO, "layers.0.attention.wq": arch.RoleQ, "layers.0.feed_forward": arch.RoleMLP,
				"layers.0.feed_forward.w2": arch.RoleDown, "layers.0.ffn_norm": arch.RoleNorm, "norm": arch.RoleFinalNorm,
				"output": arch.RoleLMHead, "tok_embeddings": arch.RoleTokenEmbedding},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := Build(cfgOf(t, tc.cfg), tc.ws)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := spec.Root.NumParams(), sumElements(tc.ws); got != want {
				t.Errorf("NumParams = %d, want the sum of the tensors %d", got, want)
			}
			if err := sameParams(spec.Root, tc.ws); err != nil {
				t.Error(err)
			}
			if spec.Root.Class != tc.class || spec.Family != tc.family || spec.BasePath != tc.base {
				t.Errorf("class, family, base = %q, %q, %q; want %q, %q, %q",
					spec.Root.Class, spec.Family, spec.BasePath, tc.class, tc.family, tc.base)
			}
			if tc.note != "" && !slices.Contains(spec.Notes, tc.note) {
				t.Errorf("notes %q lack %q", spec.Notes, tc.note)
			}
			if !equalHyper(spec.Hyper, tc.hyper) {
				t.Errorf("hyper =\n %+v\nwant\n %+v", spec.Hyper, tc.hyper)
			}
			a := arch.Describe(spec)
			if got := len(a.FoldGroups()); got != tc.folds {
				t.Errorf("%d fold groups %v, want %d", got, a.FoldGroups(), tc.folds)
			}
			rolesAt(t, spec.Root, tc.roles)
			for path, class := range tc.classes {
				if m := spec.Root.Find(path); m == nil || m.Class != class {
					t.Errorf("%s: want class %s, got %+v", path, class, m)
				}
			}
			tree := arch.Repr(spec.Root)
			if !strings.HasPrefix(tree, tc.class+"(") {
				t.Errorf("print starts %q", tree[:min(len(tree), 40)])
			}
			for _, s := range tc.printHas {
				if !strings.Contains(tree, s) {
					t.Errorf("print lacks %q:\n%s", s, tree)
				}
			}
		})
	}
}

func equalHyper(a, b arch.Hyper) bool {
	return fmt.Sprintf("%+v", a) == fmt.Sprintf("%+v", b)
}

// sameParams checks that the tree names every tensor exactly once, with its shape.
func sameParams(root *arch.Module, ws *weights.Set) error {
	seen := map[string]bool{}
	for _, p := range root.Params("") {
		t := ws.Tensors[p.Name]
		switch {
		case t == nil:
			return fmt.Errorf("parameter %s %v is not a tensor", p.Name, p.Shape)
		case seen[p.Name]:
			return fmt.Errorf("parameter %s appears twice", p.Name)
		case !slices.Equal(t.Shape, p.Shape):
			return fmt.Errorf("parameter %s is %v in the tree, %v in the weights", p.Name, p.Shape, t.Shape)
		}
		seen[p.Name] = true
	}
	if len(seen) != len(ws.Tensors) {
		return fmt.Errorf("the tree names %d of %d tensors", len(seen), len(ws.Tensors))
	}
	return nil
}

func TestBuildOrder(t *testing.T) {
	// Numeric children sort numerically whatever the file order; others keep first appearance.
	var ts tensors
	for _, i := range []int{10, 2, 0, 1, 3, 4, 5, 6, 7, 8, 9} {
		ts.add(fmt.Sprintf("model.layers.%d.zeta.weight", i), 8)
		ts.add(fmt.Sprintf("model.layers.%d.alpha.weight", i), 8, 8)
	}
	spec, err := Build(nil, ts.set())
	if err != nil {
		t.Fatal(err)
	}
	layers := spec.Root.Find("model.layers")
	var names []string
	for _, c := range layers.Children {
		names = append(names, c.Name)
	}
	if want := []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}; !slices.Equal(names, want) {
		t.Errorf("layers in order %v, want %v", names, want)
	}
	if c := layers.Children[0].Module.Children; c[0].Name != "zeta" || c[1].Name != "alpha" {
		t.Errorf("block children %v, want zeta then alpha (file order)", c)
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  map[string]any
		ws   *weights.Set
		want string
	}{
		{"empty set", nil, &weights.Set{Tensors: map[string]*weights.Tensor{}, Files: []string{"/models/empty/model.safetensors"}},
			"/models/empty: no tensors"},
		{"nil set", map[string]any{"model_type": "x"}, nil, "/models/mystery: no tensors"},
		{"bad eps type", map[string]any{"model_type": "x", "rms_norm_eps": "small"}, llamaSet([]int64{8}, true),
			"rms_norm_eps must be a number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Build(cfgOf(t, tc.cfg), tc.ws)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line containing %q", err, tc.want)
			}
		})
	}
}

// TestBuildFixtures describes the real safetensors files of the test fixtures as if their family were
// unknown, and checks the tree accounts for every tensor with the roles of its family.
func TestBuildFixtures(t *testing.T) {
	tests := []struct {
		dir    string
		blocks string
		roles  map[string]arch.Role
	}{
		{"gpt2", "transformer.h", map[string]arch.Role{"transformer.h.0.attn.c_attn": arch.RoleQKV,
			"transformer.h.0.mlp.c_proj": arch.RoleDown, "transformer.wpe": arch.RolePosEmbedding}},
		{"llama", "model.layers", map[string]arch.Role{"model.layers.0.self_attn.k_proj": arch.RoleK,
			"model.layers.0.mlp.gate_proj": arch.RoleGate, "model.norm": arch.RoleFinalNorm}},
		{"phi3", "model.layers", map[string]arch.Role{"model.layers.0.self_attn.qkv_proj": arch.RoleQKV,
			"model.layers.0.mlp.gate_up_proj": arch.RoleGateUp}},
	}
	for _, tc := range tests {
		t.Run(tc.dir, func(t *testing.T) {
			path := filepath.Join("..", "..", "testdata", "fixtures", tc.dir, "model.safetensors")
			if _, err := os.Stat(path); err != nil {
				t.Skipf("fixture: %v", err)
			}
			ws, err := weights.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			spec, err := Build(nil, ws)
			if err != nil {
				t.Fatal(err)
			}
			if err := sameParams(spec.Root, ws); err != nil {
				t.Error(err)
			}
			if b := spec.Root.Find(tc.blocks); b == nil || b.Role != arch.RoleBlocks || len(b.Children) != spec.Hyper.Layers {
				t.Errorf("%s is not the block list of %d layers", tc.blocks, spec.Hyper.Layers)
			}
			rolesAt(t, spec.Root, tc.roles)
			if n := len(arch.Describe(spec).FoldGroups()); n != 1 {
				t.Errorf("%d fold groups, want 1", n)
			}
		})
	}
}

// TestBuildFolder writes real files: a sharded llama-shaped folder whose layer 1 is width-pruned, read
// back by weights.ReadFolder, and a folder whose only safetensors file holds no tensor.
func TestBuildFolder(t *testing.T) {
	mem := llamaSet([]int64{160, 96, 160}, true)
	var shards [2][]weightstest.Spec
	for i, name := range mem.Names {
		tn := mem.Tensors[name]
		shards[i*2/len(mem.Names)] = append(shards[i*2/len(mem.Names)], weightstest.T(name, tn.DType, tn.Shape...))
	}
	dir := t.TempDir()
	weightstest.WriteSharded(t, dir, shards[:])
	ws, err := weights.ReadFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(filepath.Join(dir, "config.json"), []byte(`{"model_type": "mystery"}`))
	if err != nil {
		t.Fatal(err)
	}
	spec, err := Build(cfg, ws)
	if err != nil {
		t.Fatal(err)
	}
	if err := sameParams(spec.Root, ws); err != nil {
		t.Error(err)
	}
	groups := arch.Describe(spec).FoldGroups()
	if want := []arch.FoldGroup{{Start: 0, End: 0}, {Start: 1, End: 1}, {Start: 2, End: 2}}; !slices.Equal(groups, want) {
		t.Errorf("fold groups %v, want %v", groups, want)
	}
	if d := spec.Root.Find("model.layers.1.mlp.down_proj"); d == nil || d.In != 96 || d.Role != arch.RoleDown || d.DType != "BF16" {
		t.Errorf("layer 1 down_proj = %+v, want Linear 96 → 64, BF16", d)
	}

	empty := t.TempDir()
	weightstest.WriteFile(t, filepath.Join(empty, "model.safetensors"), nil)
	ws, err = weights.ReadFolder(empty)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Build(nil, ws); err == nil || !strings.Contains(err.Error(), empty+": no tensors") {
		t.Errorf("empty folder: error %v, want one naming %s and \"no tensors\"", err, empty)
	}
}
