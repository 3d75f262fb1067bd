package neurons

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"unsafe"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/safefile"
	"github.com/layerscope/layerscope/modelio/weights"
)

// weightFiles are a model's safetensors files, open for reading.
//
// The weights are read with pread, a chunk at a time, into a buffer that stays in the core's cache,
// not through a memory map: the kernel copies a file out of the page cache through its own
// large-page mapping, without the page faults and TLB misses of a process streaming the pages
// through a map of its own (BenchmarkWidthScore, docs/PERFORMANCE.md, against the map in the same
// minutes: pon 0.54 → 0.71 of a sequential read, vow 0.47 → 0.59, ppm alike; cold 0.25 → 0.45–0.70).
// A file truncated underfoot is also a short read, an error, not a SIGBUS.
type weightFiles struct {
	files map[string]*os.File
	sizes map[string]int64
}

func openFiles(ws *weights.Set) (*weightFiles, error) {
	wf := &weightFiles{files: map[string]*os.File{}, sizes: map[string]int64{}}
	for _, path := range ws.Files {
		f, info, err := safefile.Open(path)
		if err != nil {
			wf.close()
			return nil, err
		}
		wf.files[path], wf.sizes[path] = f, info.Size()
	}
	return wf, nil
}

func (wf *weightFiles) close() {
	for path, f := range wf.files {
		f.Close()
		delete(wf.files, path)
	}
}

// prefetch has the kernel start reading the named tensors of m from the disk, in the background, so
// that the next unit's weights are on their way while this one is scored (posix_fadvise WILLNEED:
// a scoring of a model not in the page cache ran at 0.28 of a sequential read of it without this).
// Names that do not resolve are left to the scoring to report.
// It returns the bytes asked for.
func (wf *weightFiles) prefetch(m *modelio.Model, names []string) int64 {
	var n int64
	for _, name := range names {
		t, err := modelio.UnitTensor(m, name)
		if err != nil {
			continue
		}
		if x, err := wf.matrix(t); err == nil {
			willNeed(x.f, x.off, x.size)
			n += x.size
		}
	}
	return n
}

// matrix returns where t's bytes lie. A tensor of a narrowed model not yet written (a weights.Pick)
// is refused: its bytes are not where its header says.
func (wf *weightFiles) matrix(t *weights.Tensor) (matrix, error) {
	if t.Pick != nil {
		return matrix{}, fmt.Errorf("%s is narrowed but not written: score the model before narrowing it, or the written copy", t.Name)
	}
	f, size := wf.files[t.File], wf.sizes[t.File]
	if f == nil || t.Offset < 0 || t.Size < 0 || t.Offset+t.Size > size {
		return matrix{}, fmt.Errorf("%s: tensor %s lies past the end of the file (bytes %d to %d of %d)", t.File, t.Name, t.Offset, t.Offset+t.Size, size)
	}
	return matrix{f: f, path: t.File, off: t.Offset, size: t.Size, dtype: t.DType}, nil
}

// matrix is a tensor's bytes in its file.
type matrix struct {
	f     *os.File
	path  string
	off   int64 // of its first byte in the file
	size  int64
	dtype string
}

// half is the first (k = 0) or second (k = 1) half of x's bytes: Phi-3's fused gate_up_proj.
func (x matrix) half(k int) matrix {
	h := x.size / 2
	return matrix{f: x.f, path: x.path, off: x.off + int64(k)*h, size: h, dtype: x.dtype}
}

// readAt fills b from byte off of x; an error names the file.
func (x matrix) readAt(b []byte, off int64) error {
	n, err := x.f.ReadAt(b, x.off+off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: %w", x.path, errFault)
	}
	return fmt.Errorf("%s: cannot read the weights: %v", x.path, plain(err))
}

// errFault says the file ended before a tensor its header promised: another process truncated or
// replaced it after it was opened.
var errFault = errors.New("the file changed or became unreadable while its weights were read")

// readChunk is the most bytes a worker reads at once: enough that the cost of a read call is small
// beside the copy, and little enough that the chunk is still in the core's L2 cache when the kernels
// read it (BenchmarkWidthScore: 128 KiB chunks scored at 0.8 of 512 KiB's speed, 1 MiB no faster).
// A variable so that tests can make tiny tensors span several chunks.
var readChunk = 512 << 10

// scratchPool holds the workers' buffers, reused across tensors: allocating them afresh for each
// tensor cost more than the reading (the runtime zeroes, and the kernel faults in, new pages).
var scratchPool sync.Pool

// scratch returns a worker's buffers: chunk, of n bytes aligned for float32 (the kernels read F32
// in place), and conv, of convs float32s (where a dtype is converted first). put gives them back.
func scratch(n, convs int) (chunk []byte, conv []float32, put func()) {
	need := (n+3)/4 + convs
	p, ok := scratchPool.Get().(*[]float32)
	if !ok || len(*p) < need {
		b := make([]float32, max(need, (readChunk+3)/4+16*1024))
		p = &b
	}
	chunk = unsafe.Slice((*byte)(unsafe.Pointer(&(*p)[0])), n)
	return chunk, (*p)[(n+3)/4 : need], func() { scratchPool.Put(p) }
}
