package prune

import (
	"bufio"
	"errors"
	"io"
	"os"

	"github.com/layerscope/layerscope/modelio/weights"
)

// pickChunk bounds the buffer of one read of a width-pruned tensor: a whole 8B model's down_proj
// (4096 × 14336 in BF16, 117 MB) is never held at once. A variable so tests can take both paths.
var pickChunk int64 = 8 << 20

// copyPicked writes the kept slices of a width-pruned tensor (t.Pick) from in to out, in their order.
// The source tensor is seen as [outer, n, inner]: n the picked axis. Where one slab (n × inner bytes)
// is larger than pickChunk, as for the rows of a gate or up weight, only the kept runs of consecutive
// slices are read; else whole slabs are read a chunk at a time and the kept slices gathered from them
// (the columns of a down weight), so the file is read once, front to back.
func copyPicked(out, in *os.File, t *weights.Tensor, c *counter) error {
	p := t.Pick
	outer, n, inner, err := t.PickLayout()
	if err != nil {
		return err
	}
	slab := n * inner
	runs := consecutiveRuns(p.Index)
	w := bufio.NewWriterSize(out, 1<<20)
	src := io.NewSectionReader(in, t.Offset, outer*slab)
	if slab > pickChunk {
		var longest int64
		for _, r := range runs {
			longest = max(longest, (r[1]-r[0])*inner)
		}
		buf := make([]byte, min(pickChunk, longest))
		for o := range outer {
			for _, r := range runs {
				if err := copySection(w, src, o*slab+r[0]*inner, (r[1]-r[0])*inner, buf, c); err != nil {
					return err
				}
			}
		}
	} else {
		per := max(pickChunk/slab, 1)
		buf := make([]byte, min(per, outer)*slab)
		for o := int64(0); o < outer; o += per {
			k := min(per, outer-o)
			b := buf[:k*slab]
			if _, err := src.ReadAt(b, o*slab); err != nil {
				return readErr(err)
			}
			for s := range k {
				for _, r := range runs {
					if _, err := w.Write(b[s*slab+r[0]*inner : s*slab+r[1]*inner]); err != nil {
						return plain(err)
					}
				}
			}
			c.add(k * int64(len(p.Index)) * inner)
		}
	}
	return plain(w.Flush())
}

// copySection copies n bytes at off of src to w through buf.
func copySection(w io.Writer, src *io.SectionReader, off, n int64, buf []byte, c *counter) error {
	for n > 0 {
		b := buf[:min(n, int64(len(buf)))]
		if _, err := src.ReadAt(b, off); err != nil {
			return readErr(err)
		}
		if _, err := w.Write(b); err != nil {
			return plain(err)
		}
		c.add(int64(len(b)))
		off += int64(len(b))
		n -= int64(len(b))
	}
	return nil
}

func readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("the file is shorter than its header says: was it changed after it was opened?")
	}
	return plain(err)
}

// consecutiveRuns groups indices into [start, end) runs of consecutive values, in their order.
func consecutiveRuns(index []int) [][2]int64 {
	var out [][2]int64
	for _, i := range index {
		if k := len(out) - 1; k >= 0 && out[k][1] == int64(i) {
			out[k][1]++
			continue
		}
		out = append(out, [2]int64{int64(i), int64(i) + 1})
	}
	return out
}
