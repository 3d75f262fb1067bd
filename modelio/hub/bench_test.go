package hub_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/layerscope/layerscope/modelio/hub"
)

// rtt is the round trip the benchmark gives every request to the stand-in Hub and CDN: about what a
// European connection sees to the Hub's servers.
const rtt = 40 * time.Millisecond

// BenchmarkOpen4Shards opens a 4-shard 8B-shaped model from a stand-in Hub whose every answer takes
// rtt, with the shards' headers fetched in parallel (the default) and one after the other (the peer),
// with no header cache. Compare the two lines' ns/op: go test -bench Open4Shards ./modelio/hub
func BenchmarkOpen4Shards(b *testing.B) {
	for _, parallel := range []int{hub.DefaultParallel, 1} {
		b.Run(fmt.Sprintf("parallel=%d", parallel), func(b *testing.B) {
			s, _ := newRepo(b)
			slow := func(http.ResponseWriter, *http.Request) bool { time.Sleep(rtt); return false }
			s.HubHook, s.CDNHook = slow, slow
			s.Setenv(b, "")
			c, err := hub.FromEnv()
			if err != nil {
				b.Fatal(err)
			}
			c.CacheDir, c.Parallel = "", parallel
			r := ref(b, "hf:org/model")
			for b.Loop() {
				if _, err := c.Open(context.Background(), r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
