package arch

// Hyper holds the hyper-parameters a lecturer points at, read from config.json by the family with its
// defaults applied. Zero means absent (no sliding window, no experts).
type Hyper struct {
	Layers       int `json:"layers"`
	Hidden       int `json:"hidden_size"`
	Heads        int `json:"attention_heads"`
	KVHeads      int `json:"kv_heads"`
	HeadDim      int `json:"head_dim"`
	Intermediate int `json:"intermediate_size"`
	Vocab        int `json:"vocab_size"`
	MaxPositions int `json:"max_position_embeddings"`

	MLP        MLPKind  `json:"mlp"`
	Activation string   `json:"activation"` // the config's name: "silu", "gelu_new"
	Norm       NormKind `json:"norm"`
	// NormsPerBlock counts the norms on the residual stream of one block (Gemma 3: 4); QKNorm adds the
	// per-head q/k norms (Qwen3, Gemma 3).
	NormsPerBlock int  `json:"norms_per_block"`
	QKNorm        bool `json:"qk_norm"`
	// ParallelBlock: attention and MLP read the same input and add to the residual together (phi-2,
	// GPT-NeoX with use_parallel_residual).
	ParallelBlock bool `json:"parallel_block"`

	Positional     PosKind `json:"positional"`
	RotaryFraction float64 `json:"rotary_fraction,omitempty"` // 1 for full RoPE, 0.75 for Phi-4-mini
	RopeTheta      float64 `json:"rope_theta,omitempty"`
	RopeScaling    string  `json:"rope_scaling,omitempty"` // "llama3", "longrope", "linear", "dynamic", "yarn"
	RopeFactor     float64 `json:"rope_factor,omitempty"`
	RopeLocalTheta float64 `json:"rope_local_theta,omitempty"` // Gemma 3's sliding layers

	SlidingWindow int `json:"sliding_window,omitempty"`
	// LayerTypes is "sliding_attention" or "full_attention" per layer where the family mixes them.
	LayerTypes []string `json:"layer_types,omitempty"`

	TiedEmbeddings bool    `json:"tied_embeddings"`
	AttentionBias  bool    `json:"attention_bias"` // any of q/k/v/o has a bias
	MLPBias        bool    `json:"mlp_bias"`
	EmbeddingScale float64 `json:"embedding_scale,omitempty"` // Gemma multiplies embeddings by sqrt(hidden)

	// QueryPreAttnScalar replaces head_dim in the attention scale 1/sqrt(·) where the family sets it
	// (Gemma 2/3's query_pre_attn_scalar); 0 means the usual 1/sqrt(head_dim).
	QueryPreAttnScalar float64 `json:"query_pre_attn_scalar,omitempty"`
	// AttnLogitSoftcap and FinalLogitSoftcap cap attention scores and output logits with
	// cap·tanh(x/cap) (Gemma 2's attn_logit_softcapping, final_logit_softcapping); 0 means no cap.
	AttnLogitSoftcap  float64 `json:"attn_logit_softcapping,omitempty"`
	FinalLogitSoftcap float64 `json:"final_logit_softcapping,omitempty"`

	Experts            int `json:"experts,omitempty"`
	ExpertsPerToken    int `json:"experts_per_token,omitempty"`
	ExpertIntermediate int `json:"expert_intermediate_size,omitempty"`
	// MoELayers counts the layers with a sparse MoE block (Qwen3-MoE can mix dense layers in).
	MoELayers int `json:"moe_layers,omitempty"`
}

// MLPKind says whether the MLP is gated.
type MLPKind string

const (
	MLPGLU     MLPKind = "glu"     // act(gate(x)) * up(x), then down
	MLPClassic MLPKind = "classic" // act(fc1(x)), then fc2
)

// NormKind is the normalisation used on the residual stream.
type NormKind string

const (
	NormRMS   NormKind = "rmsnorm"
	NormLayer NormKind = "layernorm"
)

// PosKind is how positions enter the model.
type PosKind string

const (
	PosLearned PosKind = "learned" // a position embedding table added to the token embeddings
	PosRoPE    PosKind = "rope"    // rotary position embedding inside attention
)
