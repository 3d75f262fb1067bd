package calibration

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/tokenizer"
)

// ErrGalleryModel says a model has no folder, and so neither weights nor a tokenizer.
var ErrGalleryModel = errors.New("it has no weights to run")

// TokenizerFor loads the tokenizer in m's folder, as `layerscope importance` and the app's compute
// panel both do before Cut. A missing tokenizer.json is an error that wraps fs.ErrNotExist; a gallery
// model's wraps ErrGalleryModel.
func TokenizerFor(m *modelio.Model) (*tokenizer.Tokenizer, error) {
	if m.Path == "" {
		return nil, fmt.Errorf("%s is a gallery model: %w; give a model folder", m.Name, ErrGalleryModel)
	}
	dir := m.Path
	if info, err := os.Stat(dir); err == nil && !info.IsDir() {
		dir = filepath.Dir(dir)
	}
	return tokenizer.Load(dir)
}

// ParseTokens reads samples given as token ids: a JSON array of token-id arrays, one per sample, used
// exactly as given (the format of `layerscope importance --tokens`).
func ParseTokens(data []byte) ([][]int, error) {
	var tokens [][]int
	if err := json.Unmarshal(data, &tokens); err != nil {
		return nil, fmt.Errorf("expected a JSON array of token-id arrays: %v", err)
	}
	if len(tokens) == 0 {
		return nil, errors.New("no samples")
	}
	for i, s := range tokens {
		if len(s) == 0 {
			return nil, fmt.Errorf("sample %d is empty", i)
		}
	}
	return tokens, nil
}
