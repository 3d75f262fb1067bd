// Package safefile reads the small files of a model folder (config.json, the safetensors index,
// tokenizer.json, tokenizer_config.json, the companions a pruned copy takes along) as a folder from a
// stranger deserves: regular files only, never more than a stated number of bytes, and gzip inflated
// with the same bound. Every reader of a model folder goes through it, so a FIFO cannot hang a command,
// a link to /dev/zero cannot fill memory, and a gzip bomb stops at the limit.
//
// Why not a library: os.ReadFile blocks forever on a FIFO and reads a character device without end,
// and io.LimitReader alone cannot tell a file that ends at the limit from one that goes on; what is
// needed is a dozen lines around os.OpenFile, fstat and io.LimitReader, not a dependency.
package safefile

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/layerscope/layerscope/modelio/printable"
)

// Limits on the files of a model folder. Each is far above the largest real file of its kind and far
// below what would exhaust a laptop's memory.
const (
	// MaxConfigBytes bounds config.json and generation_config.json: real ones are 1-10 KB (Gemma 3's
	// multimodal config with its vision tower, about 6 KB).
	MaxConfigBytes = 4 << 20
	// MaxIndexBytes bounds model.safetensors.index.json: DeepSeek-V3's, with 90,000 tensors, is about
	// 9 MB; 100 MB is also safetensors' own header limit, the ceiling for a file of the same kind.
	MaxIndexBytes = 100_000_000
	// MaxTokenizerBytes bounds tokenizer.json, read or inflated: the largest on the Hub (Gemma 3's,
	// 262,144 tokens with their merges) is 33 MB.
	MaxTokenizerBytes = 256 << 20
	// MaxTokenizerConfigBytes bounds tokenizer_config.json: chat templates make some 200-500 KB
	// (Qwen3's added-token table is under 10 KB), a few megabytes at most.
	MaxTokenizerConfigBytes = 16 << 20
	// MaxCompanionBytes bounds the other files a pruned copy takes along (README.md, vocab.json,
	// merges.txt, tokenizer.model): the largest are tokenizer files of a few tens of megabytes.
	MaxCompanionBytes = 256 << 20
)

// ErrNotRegular says a path names a FIFO, a device, a socket or a folder, not a regular file.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge says a file, or what it inflates to, is over its limit.
var ErrTooLarge = errors.New("over the size limit")

// Open opens path for reading only if it is a regular file (a symbolic link is followed, to a regular
// file only). The open does not block on a FIFO: the file is opened non-blocking, then checked with
// fstat, so a FIFO swapped in after a stat cannot hang the caller either. The error names path.
func Open(path string) (*os.File, os.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", show(path), plain(err))
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", show(path), plain(err))
	}
	if !info.Mode().IsRegular() {
		f.Close()
		what := "a folder"
		if !info.IsDir() {
			what = "a " + kind(info.Mode())
		}
		return nil, nil, fmt.Errorf("%s: is %s, %w", show(path), what, ErrNotRegular)
	}
	return f, info, nil
}

// kind names a file type in words.
func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "FIFO (named pipe)"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "device"
	case m&fs.ModeSocket != 0:
		return "socket"
	}
	return "special file (" + m.Type().String() + ")"
}

// ReadFile returns the contents of the regular file path, refusing one over limit bytes before
// reading it (and stopping at limit+1 bytes should it grow while read). Errors are one line, start with
// path, and wrap fs.ErrNotExist, ErrNotRegular or ErrTooLarge where they apply.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, info, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if info.Size() > limit {
		return nil, fmt.Errorf("%s: is %d bytes, %w of %d bytes for this file", show(path), info.Size(), ErrTooLarge, limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", show(path), plain(err))
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: grew past %d bytes while read, %w", show(path), limit, ErrTooLarge)
	}
	return data, nil
}

// ReadGzip returns the inflated contents of the gzip file path, which may take at most limit bytes
// compressed and inflate to at most limit bytes: a small file that inflates to gigabytes (a gzip
// bomb) stops at limit+1 inflated bytes with an error wrapping ErrTooLarge.
func ReadGzip(path string, limit int64) ([]byte, error) {
	gz, err := ReadFile(path, limit)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("%s: not a valid gzip file: %v", show(path), err)
	}
	data, err := io.ReadAll(io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: not a valid gzip file: %v", show(path), err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: inflates to more than %d bytes, %w", show(path), limit, ErrTooLarge)
	}
	return data, nil
}

// show escapes what a terminal would act on in a path (a file name may hold any byte but / and NUL).
func show(path string) string { return printable.String(path) }

// plain strips the "open <path>:" that package os wraps around a system error, the caller naming the
// path already; fs.ErrNotExist and the like still match with errors.Is.
func plain(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
