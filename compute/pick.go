package compute

import (
	"fmt"

	"github.com/layerscope/layerscope/modelio/weights"
)

// picked returns the kept slices of a width-pruned tensor (modelio.NarrowMLP) gathered from the
// source tensor's bytes in the map m: the narrower model runs as its written copy would, without
// writing it. The gathered copy is one tensor, released with the block's other host buffers.
func picked(t *weights.Tensor, m []byte) (*weights.Tensor, []byte, error) {
	p := t.Pick
	src := t.SourceSize()
	if t.Offset < 0 || src < 0 || t.Offset+src > int64(len(m)) {
		return nil, nil, fmt.Errorf("%s: tensor %s lies past the end of the file (bytes %d to %d of %d)",
			t.File, t.Name, t.Offset, t.Offset+src, len(m))
	}
	outer, n, inner, err := t.PickLayout()
	if err != nil {
		return nil, nil, err
	}
	b := m[t.Offset : t.Offset+src]
	out := make([]byte, 0, t.Size)
	for o := range outer {
		for _, i := range p.Index {
			if i < 0 || int64(i) >= n {
				return nil, nil, fmt.Errorf("tensor %s: picked slice %d of %d", t.Name, i, n)
			}
			start := (o*n + int64(i)) * inner
			out = append(out, b[start:start+inner]...)
		}
	}
	return t, out, nil
}
