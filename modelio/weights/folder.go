package weights

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/layerscope/layerscope/modelio/safefile"
)

// The file names Hugging Face gives a model's weights (transformers' SAFE_WEIGHTS_NAME and
// SAFE_WEIGHTS_INDEX_NAME).
const (
	IndexName  = "model.safetensors.index.json"
	SingleName = "model.safetensors"
)

// maxIndexBytes bounds the index file read into memory (see safefile.MaxIndexBytes).
const maxIndexBytes = safefile.MaxIndexBytes

// maxParallel is how many headers are read at once: enough to hide a disk's latency on folders of
// hundreds of shards, few enough not to flood a spinning disk or a network share with seeks.
const maxParallel = 8

// maxListed is how many tensors one warning names before it only counts the rest: a stale index can
// disagree with its shards on thousands of tensors, and a screen of warnings helps nobody.
const maxListed = 10

// ReadFolder reads the tensor headers of a model folder: the shards that model.safetensors.index.json
// names when it is present, else model.safetensors, else every *.safetensors file in the folder sorted
// by name (shards without an index). It returns nil, nil when the folder has none of these.
func ReadFolder(dir string) (*Set, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fileError(dir, err)
	}
	if !info.IsDir() {
		return nil, errorf(dir, "is not a folder")
	}
	indexPath := filepath.Join(dir, IndexName)
	hasIndex, err := exists(indexPath)
	if err != nil {
		return nil, err
	}
	if hasIndex {
		return readIndexed(dir, indexPath)
	}
	single := filepath.Join(dir, SingleName)
	hasSingle, err := exists(single)
	if err != nil {
		return nil, err
	}
	if hasSingle {
		return readFiles([]string{single})
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fileError(dir, err)
	}
	var paths []string
	for _, e := range entries { // ReadDir sorts by name
		name := e.Name()
		// Names starting with a dot are hidden files, among them the "._model.safetensors" resource
		// forks macOS leaves on exFAT and network drives, which are not safetensors at all.
		if strings.HasSuffix(name, ".safetensors") && !strings.HasPrefix(name, ".") {
			paths = append(paths, filepath.Join(dir, name))
		}
	}
	if len(paths) == 0 {
		return nil, nil
	}
	return readFiles(paths)
}

// exists reports whether path names something; a dangling symbolic link or an unreadable path is an
// error, since the folder does hold that file and reading around it would mislead.
func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return false, fileError(path, err)
		}
		return false, nil
	}
	return false, fileError(path, err)
}

// readIndexed reads the shards an index names and checks the index against what they hold.
func readIndexed(dir, indexPath string) (*Set, error) {
	weightMap, err := readIndex(indexPath)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var shards []string
	for _, shard := range weightMap {
		if !seen[shard] {
			seen[shard] = true
			shards = append(shards, shard)
		}
	}
	slices.Sort(shards) // model-00001-of-00004 … model-00004-of-00004
	var missing []string
	paths := make([]string, len(shards))
	for i, shard := range shards {
		paths[i] = filepath.Join(dir, shard)
		ok, err := exists(paths[i])
		if err != nil {
			return nil, err
		}
		if !ok {
			missing = append(missing, shard)
		}
	}
	if len(missing) > 0 {
		more := ""
		if len(missing) > 1 {
			more = fmt.Sprintf(" (and %d more of its %d shards are missing)", len(missing)-1, len(shards))
		}
		return nil, fmt.Errorf("%s names %s, which is missing%s", showPath(indexPath), showPath(missing[0]), more)
	}
	s, err := readFiles(paths)
	if err != nil {
		return nil, err
	}
	if ok, _ := exists(filepath.Join(dir, SingleName)); ok {
		s.Warnings = append(s.Warnings, fmt.Sprintf("the folder holds both %s and %s; read the index's shards (transformers would load %s)",
			IndexName, SingleName, SingleName))
	}
	s.Warnings = append(s.Warnings, checkIndex(s, weightMap)...)
	return s, nil
}

// readIndex reads the weight_map of an index: tensor name → shard file name.
func readIndex(indexPath string) (map[string]string, error) {
	data, err := safefile.ReadFile(indexPath, maxIndexBytes)
	if err != nil {
		return nil, err
	}
	return ParseIndex(indexPath, data)
}

// ParseIndex reads the weight_map of an index held in data: tensor name → shard file name. indexPath
// only names the index in errors.
func ParseIndex(indexPath string, data []byte) (map[string]string, error) {
	if len(data) > maxIndexBytes {
		return nil, errorf(indexPath, "is %d bytes, over the %d a safetensors index may take", len(data), maxIndexBytes)
	}
	if kind := jsonKind(data); kind != "an object" {
		return nil, errorf(indexPath, "is %s, not a JSON object with a weight_map", kindOrEmpty(kind))
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, errorf(indexPath, "%v", jsonError("the file", err))
	}
	raw, ok := top["weight_map"]
	if !ok || jsonKind(raw) == "null" {
		return nil, errorf(indexPath, "has no weight_map")
	}
	if kind := jsonKind(raw); kind != "an object" {
		return nil, errorf(indexPath, "weight_map is %s, not an object of tensor names to file names", kind)
	}
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, errorf(indexPath, "%v", jsonError("weight_map", err))
	}
	if len(entries) == 0 {
		return nil, errorf(indexPath, "weight_map is empty: it names no tensors")
	}
	names := make([]string, 0, len(entries))
	for name := range entries {
		names = append(names, name)
	}
	slices.Sort(names)
	weightMap := make(map[string]string, len(entries))
	for _, name := range names {
		var shard string
		if kind := jsonKind(entries[name]); kind != "a string" {
			return nil, errorf(indexPath, "weight_map gives tensor %s %s, not a file name", showName(name), kind)
		}
		if err := json.Unmarshal(entries[name], &shard); err != nil {
			return nil, errorf(indexPath, "%v", jsonError("weight_map", err))
		}
		// Shards live beside the index; a path elsewhere ("../x", "/etc/x") is refused, not followed.
		if shard == "" || shard == "." || shard == ".." || strings.ContainsAny(shard, "/\\\x00") {
			return nil, errorf(indexPath, "weight_map puts tensor %s in %s, which is not a file name in this folder",
				showName(name), showName(shard))
		}
		weightMap[name] = shard
	}
	return weightMap, nil
}

func kindOrEmpty(kind string) string {
	if kind == "missing" {
		return "empty"
	}
	return kind
}

// checkIndex compares an index with the shards it names. A disagreement is a warning, not an error:
// the shards' own headers are what is on disk and what a loader maps, so the model is still described
// from them, and whatever the architecture needs but lacks is reported when the weights are matched
// to it. Refusing the folder over a stale index would hide a model that loads.
func checkIndex(s *Set, weightMap map[string]string) []string {
	var lacking, moved, unlisted []string
	names := make([]string, 0, len(weightMap))
	for name := range weightMap {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		shard := weightMap[name]
		t, ok := s.Tensors[name]
		switch {
		case !ok:
			lacking = append(lacking, fmt.Sprintf("%s (in %s)", showName(name), showPath(shard)))
		case filepath.Base(t.File) != shard:
			moved = append(moved, fmt.Sprintf("%s (in %s, not %s)", showName(name), showPath(filepath.Base(t.File)), showPath(shard)))
		}
	}
	for _, name := range s.Names {
		if _, ok := weightMap[name]; !ok {
			unlisted = append(unlisted, fmt.Sprintf("%s (in %s)", showName(name), showPath(filepath.Base(s.Tensors[name].File))))
		}
	}
	var out []string
	if len(lacking) > 0 {
		out = append(out, IndexName+" names "+count(len(lacking), "tensor")+" that its shards lack: "+list(lacking))
	}
	if len(moved) > 0 {
		out = append(out, IndexName+" puts "+count(len(moved), "tensor")+" in the wrong shard: "+list(moved))
	}
	if len(unlisted) > 0 {
		out = append(out, "the shards hold "+count(len(unlisted), "tensor")+" that "+IndexName+" does not name: "+list(unlisted))
	}
	return out
}

func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// list joins the first maxListed items and counts the rest.
func list(items []string) string {
	if len(items) <= maxListed {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:maxListed], ", ") + fmt.Sprintf(" and %d more", len(items)-maxListed)
}

// readFiles reads the headers of paths, a few at a time, into one Set in the order of paths.
func readFiles(paths []string) (*Set, error) {
	type result struct {
		ts  []Tensor
		err error
	}
	results := make([]result, len(paths))
	if len(paths) == 1 {
		results[0].ts, results[0].err = ReadHeader(paths[0])
	} else {
		sem := make(chan struct{}, maxParallel)
		var wg sync.WaitGroup
		for i, p := range paths {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				results[i].ts, results[i].err = ReadHeader(p)
			})
		}
		wg.Wait()
	}
	s := newSet()
	for i, r := range results {
		if r.err != nil {
			return nil, r.err // the first failing file in order, so the error does not depend on timing
		}
		if err := s.add(paths[i], r.ts); err != nil {
			return nil, err
		}
		abs, err := filepath.Abs(paths[i])
		if err != nil {
			return nil, errorf(paths[i], "%v", err)
		}
		s.Files = append(s.Files, abs)
	}
	return s, nil
}
