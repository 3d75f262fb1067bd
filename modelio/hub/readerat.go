package hub

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// RangeBlock is how much a RangeReader fetches at once: a GGUF header is read in many small pieces
// (a key, a length, a string), and one request per piece would take minutes over the network.
const RangeBlock = 256 << 10

// DefaultRangeBudget bounds what one RangeReader fetches in all: a GGUF header with a 256k-token
// vocabulary takes about 10 MB; a reader asked for more is being walked through the weights.
const DefaultRangeBudget = 128 << 20

// rangeBlocks is how many blocks a RangeReader keeps: enough for a reader that goes back to an
// array's length after reading its items, few enough to stay a few megabytes.
const rangeBlocks = 16

// RangeReader is an io.ReaderAt over a file on the Hub that fetches only the blocks read, by HTTP range
// requests, following the Hub's redirect once and reading from the CDN after that. It is what a
// GGUF parser that takes an io.ReaderAt and a size (gguf-parser-go's ParseGGUFFile over an
// io.SectionReader, or its own remote reader's range calls) reads a .gguf on the Hub through, without
// downloading it. It is safe for concurrent use.
type RangeReader struct {
	c      *Client
	ctx    context.Context
	ref    Ref
	name   string // how errors name the file: hf:org/name/file.gguf
	url    string // where to ask: the resolve URL, then where it redirected
	size   int64
	budget int64 // bytes it may still fetch

	mu      sync.Mutex
	blocks  map[int64][]byte // by block index
	order   []int64          // blocks in the order fetched, oldest first
	fetched int64
}

// OpenFile opens a file of a repository for range reads. ref.Revision should be a commit (a
// GGUFError's Commit), so every block comes from the same version of the file. ctx bounds every read;
// each request also has the client's timeout.
func (c *Client) OpenFile(ctx context.Context, ref Ref, file string) (*RangeReader, error) {
	if c.Offline {
		return nil, fmt.Errorf("%s/%s: HF_HUB_OFFLINE is set: unset it to read the file's header from the Hub", ref, file)
	}
	r := &RangeReader{c: c, ctx: ctx, ref: ref, name: ref.String() + "/" + file, url: c.fileURL(ref, ref.Revision, file),
		size: -1, budget: DefaultRangeBudget, blocks: map[int64][]byte{}}
	// The first block tells the size and settles the redirect.
	if _, err := r.block(0); err != nil {
		return nil, err
	}
	return r, nil
}

// Size is the file's size in bytes.
func (r *RangeReader) Size() int64 { return r.size }

// Fetched is how many bytes were fetched so far.
func (r *RangeReader) Fetched() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fetched
}

// SetBudget changes how many bytes the reader may fetch in all, from DefaultRangeBudget.
func (r *RangeReader) SetBudget(n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.budget = n - r.fetched
}

// ReadAt reads len(p) bytes at off, as io.ReaderAt: io.EOF when the file ends first.
func (r *RangeReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%s: read at negative offset %d", r.name, off)
	}
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= r.size {
			return n, io.EOF
		}
		b, err := r.block(pos / RangeBlock)
		if err != nil {
			return n, err
		}
		n += copy(p[n:], b[pos%RangeBlock:])
	}
	return n, nil
}

// block returns block i, fetching it when it is not kept.
func (r *RangeReader) block(i int64) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b, ok := r.blocks[i]; ok {
		return b, nil
	}
	start := i * RangeBlock
	n := int64(RangeBlock)
	if r.size >= 0 {
		n = min(n, r.size-start)
	}
	if n > r.budget {
		return nil, fmt.Errorf("%s: reading past the first %d bytes of the file: a header does not take that much", r.name, r.fetched+r.budget)
	}
	ctx, cancel := context.WithTimeout(r.ctx, r.c.timeout())
	defer cancel()
	data, size, at, err := r.c.rangeRead(ctx, r.ref, r.url, start, n, r.size)
	if err != nil {
		return nil, err
	}
	r.size, r.url = size, at.String()
	r.fetched += int64(len(data))
	r.budget -= int64(len(data))
	if len(r.order) == rangeBlocks {
		delete(r.blocks, r.order[0])
		r.order = r.order[1:]
	}
	r.blocks[i] = data
	r.order = append(r.order, i)
	return data, nil
}
