package hub

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// maxTokenBytes bounds the token file: a Hub token is under a hundred characters.
const maxTokenBytes = 4 << 10

// findToken looks for the user's Hub token where huggingface_hub does (get_token): HF_TOKEN, then the
// file HF_TOKEN_PATH names, then $HF_HOME/token, whose HF_HOME defaults to
// $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface. It returns "" when there is none; source
// names where it was found, for errors about it.
func findToken() (token, source string, err error) {
	if t := strings.TrimSpace(os.Getenv("HF_TOKEN")); t != "" {
		return t, "HF_TOKEN", checkToken(t, "HF_TOKEN")
	}
	path := tokenPath()
	if path == "" {
		return "", "", nil
	}
	t, err := readToken(path)
	if err != nil || t == "" {
		return "", "", err
	}
	return t, path, nil
}

// tokenPath is the token file huggingface_hub writes at login.
func tokenPath() string {
	if p := os.Getenv("HF_TOKEN_PATH"); p != "" {
		return p
	}
	home := os.Getenv("HF_HOME")
	if home == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			h, err := os.UserHomeDir()
			if err != nil {
				return ""
			}
			cache = filepath.Join(h, ".cache")
		}
		home = filepath.Join(cache, "huggingface")
	}
	return filepath.Join(home, "token")
}

// readToken reads a token file; a missing one is no token, as in huggingface_hub.
func readToken(path string) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("%s: %v (the Hugging Face token file)", path, plainError(err))
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		return "", fmt.Errorf("%s: not a regular file (the Hugging Face token file)", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxTokenBytes+1))
	if err != nil {
		return "", fmt.Errorf("%s: %v (the Hugging Face token file)", path, plainError(err))
	}
	if len(data) > maxTokenBytes {
		return "", fmt.Errorf("%s: over %d bytes: not a Hugging Face token file", path, maxTokenBytes)
	}
	t := strings.TrimSpace(string(data))
	return t, checkToken(t, path)
}

// checkToken refuses a token that cannot go into an HTTP header (a line break would end the header).
func checkToken(t, source string) error {
	if strings.IndexFunc(t, func(c rune) bool { return c < 0x21 || c > 0x7e }) >= 0 {
		return fmt.Errorf("%s: the Hugging Face token holds spaces, line breaks or other characters no token has", source)
	}
	return nil
}

func plainError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
