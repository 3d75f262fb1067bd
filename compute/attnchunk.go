package compute

// attnScoresBudget bounds the float32 attention scores one query chunk holds on the pure Go backend,
// whose device memory is the laptop's RAM: 8 × 2048 tokens of a 32-head model would otherwise hold
// 4.3 GB of scores per block, and the softmax a few temporaries of that size. On a GPU, XLA plans the
// memory of the whole block itself, so the queries go through at once there.
const attnScoresBudget = 128 << 20

// queryChunk is how many query positions the attention of this run takes at a time (0: all at once).
func (e *engine) queryChunk() int {
	if queryChunkForTest != 0 {
		return queryChunkForTest
	}
	if e.dev.kind != "go" {
		return 0
	}
	B, S := e.in.batch, e.in.seq
	perQuery := 4 * B * max(1, e.p.hyper.Heads) * S // bytes of scores per query position
	if perQuery*S <= attnScoresBudget {
		return 0
	}
	return max(16, attnScoresBudget/perQuery)
}

// queryChunkForTest, when set, replaces the chunk size so the tests' short sequences span several.
var queryChunkForTest int
