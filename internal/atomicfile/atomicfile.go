// Package atomicfile writes a file through a temporary file beside it, renamed into place once
// complete, so a failed or interrupted export never leaves half a file (or an emptied old one) where a
// good one was. The file gets the permissions a new file gets from the user's umask (0644 under the
// usual 022, not os.CreateTemp's 0600), or keeps those of the file it replaces.
package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Write creates path with what write writes. On any error the temporary file is removed and path
// is as it was.
func Write(path string, write func(io.Writer) error) (err error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	tmpPath := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".partial-"+hex.EncodeToString(b[:]))
	// O_EXCL with mode 0644: the kernel applies the umask, as for any new file.
	tmp, err := os.OpenFile(tmpPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmpPath)
		}
	}()
	if err = write(tmp); err != nil {
		return err
	}
	if info, serr := os.Stat(path); serr == nil && info.Mode().IsRegular() {
		if err = tmp.Chmod(info.Mode().Perm()); err != nil {
			return err
		}
	} else if serr != nil && !errors.Is(serr, fs.ErrNotExist) {
		return serr
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmpPath, path)
}
