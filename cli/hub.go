package cli

import (
	"fmt"
	"sync"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/hub"
)

// openModel opens a MODEL argument. A model on the Hub reports on stderr as its headers arrive, so a
// slow connection is not mistaken for a hang; stdout stays what the command prints.
func openModel(env *Env, path string) (*modelio.Model, error) {
	return modelio.OpenProgress(path, hubProgress(env))
}

// hubProgress prints a line at each tenth of the headers (every header of a model with ten shards or
// fewer), not one line per shard of a 191-shard model. Nothing is printed before the headers, so a
// model that fails early (gated, missing) gets its one error line alone.
func hubProgress(env *Env) func(hub.Progress) {
	var mu sync.Mutex
	lastStep := -1
	return func(p hub.Progress) {
		mu.Lock()
		defer mu.Unlock()
		if p.Total == 0 && !p.Cached {
			return
		}
		step := p.Done * 10 / max(p.Total, 1)
		if p.Cached || step != lastStep {
			lastStep = step
			fmt.Fprintln(env.Stderr, p.String())
		}
	}
}

// localWeights refuses a model whose weights are not on this machine, for the commands that read them.
func localWeights(m *modelio.Model, command string) error {
	if m.Remote {
		return fmt.Errorf("%s: %s needs the weights, and a model on the Hub is read by its headers only: download it (hf download %s) and give its folder",
			m.Path, command, repoOf(m))
	}
	return nil
}

// repoOf is the repository id of a Hub model, without a revision.
func repoOf(m *modelio.Model) string {
	r, err := hub.ParseRef(m.Path, "")
	if err != nil {
		return m.Name
	}
	return r.Repo
}
