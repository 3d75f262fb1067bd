package prune

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/printable"
	"github.com/layerscope/layerscope/modelio/safefile"
)

// companion is a top-level file of the source folder that a pruned copy takes along.
type companion struct {
	name string // its name in the folder
	real string // the regular file it is, links resolved (inside the model, see safefile.InModel)
	size int64
}

// Skipped says, in one line each, which files of m's folder a pruned copy leaves out that a person
// might expect in it: a symbolic link leading out of the model folder (README.md → ../secret/id_rsa,
// notes.txt → /proc/self/environ), something that is not a regular file (a FIFO, a device), or a
// file over safefile.MaxCompanionBytes. Hidden files and weights in other formats are left out
// without a word. Callers show these as warnings; Write leaves out the same files.
func Skipped(m *modelio.Model) []string {
	if !m.HasWeights() {
		return nil
	}
	_, skipped, err := companions(sourceDir(m))
	if err != nil {
		return []string{err.Error()}
	}
	return skipped
}

func companions(srcDir string) (out []companion, skipped []string, err error) {
	entries, err := os.ReadDir(srcDir)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", printable.String(srcDir), plain(err))
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || name == "config.json" || isWeights(name) {
			continue
		}
		shown := printable.String(name)
		// A Hugging Face cache snapshot links every file to ../../blobs/<hash>: a link is followed
		// when it stays inside the model (or its cached repository), and only to a regular file.
		real, err := safefile.InModel(srcDir, filepath.Join(srcDir, name))
		if err != nil {
			if errors.Is(err, safefile.ErrOutside) {
				target, _ := os.Readlink(filepath.Join(srcDir, name))
				skipped = append(skipped, fmt.Sprintf("%s not copied: it is a link to %s, outside the model folder", shown, printable.String(target)))
			} else {
				skipped = append(skipped, fmt.Sprintf("%s not copied: %v", shown, plain(err)))
			}
			continue
		}
		info, err := os.Stat(real)
		switch {
		case err != nil:
			skipped = append(skipped, fmt.Sprintf("%s not copied: %v", shown, plain(err)))
		case info.IsDir():
			// Sub-folders (a Hub repo's onnx/ or original/) hold other formats: never copied.
		case !info.Mode().IsRegular():
			skipped = append(skipped, fmt.Sprintf("%s not copied: it is not a regular file (%s)", shown, info.Mode().Type()))
		case info.Size() > safefile.MaxCompanionBytes:
			skipped = append(skipped, fmt.Sprintf("%s not copied: %d bytes is over the %d MiB a file beside the weights may take (weights in another format?)",
				shown, info.Size(), safefile.MaxCompanionBytes>>20))
		default:
			out = append(out, companion{name: name, real: real, size: info.Size()})
		}
	}
	return out, skipped, nil
}

// copyCompanions copies the source folder's companions into dstDir.
func copyCompanions(srcDir, dstDir string) error {
	cs, _, err := companions(srcDir)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if err := copyCompanion(c, filepath.Join(dstDir, c.name)); err != nil {
			return err
		}
	}
	return nil
}

// copyCompanion copies a companion, opened as a regular file again (it could have been swapped for a
// FIFO since it was listed) and read no further than the size it was listed with.
func copyCompanion(c companion, dst string) error {
	in, info, err := safefile.Open(c.real)
	if err != nil {
		return err
	}
	defer in.Close()
	n := min(info.Size(), c.size)
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("%s: %v", dst, plain(err))
	}
	defer out.Close()
	if _, err := io.CopyN(out, in, n); err != nil {
		return copyError(c.real, dst, err)
	}
	if err := out.Sync(); err != nil {
		return fmt.Errorf("%s: %v", dst, plain(err))
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("%s: %v", dst, plain(err))
	}
	return nil
}
