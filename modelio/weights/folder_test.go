package weights

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/layerscope/layerscope/modelio/weights/weightstest"
)

// tinyLlama is a two-layer Llama small enough to write with real zeros.
func tinyLlama() []spec {
	specs := []spec{T("model.embed_tokens.weight", "BF16", 64, 16)}
	for _, l := range []string{"0", "1"} {
		p := "model.layers." + l + "."
		specs = append(specs,
			T(p+"input_layernorm.weight", "BF16", 16),
			T(p+"self_attn.q_proj.weight", "BF16", 16, 16),
			T(p+"self_attn.k_proj.weight", "BF16", 8, 16),
			T(p+"mlp.down_proj.weight", "BF16", 16, 32),
		)
	}
	return append(specs, T("model.norm.weight", "BF16", 16), T("lm_head.weight", "BF16", 64, 16))
}

func names(specs []spec) []string {
	var out []string
	for _, s := range specs {
		out = append(out, s.Name)
	}
	return out
}

func TestReadFolder(t *testing.T) {
	all := tinyLlama()
	first, second := all[:5], all[5:]
	tests := []struct {
		name      string
		setup     func(t *testing.T, dir string)
		files     []string // base names, in order
		names     []string
		warnings  []string
		wantNoSet bool
	}{
		{
			name:  "single model.safetensors",
			setup: func(t *testing.T, dir string) { weightstest.WriteFile(t, filepath.Join(dir, SingleName), all) },
			files: []string{SingleName},
			names: names(all),
		},
		{
			name: "index and shards",
			setup: func(t *testing.T, dir string) {
				weightstest.WriteSharded(t, dir, [][]spec{first, second})
				// A consolidated copy beside the shards (Mistral's layout) is not part of the model.
				weightstest.WriteFile(t, filepath.Join(dir, "consolidated.safetensors"), all[:1])
			},
			files: []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"},
			names: names(all),
		},
		{
			name: "shards without an index, sorted by name",
			setup: func(t *testing.T, dir string) {
				weightstest.WriteFile(t, filepath.Join(dir, "b.safetensors"), second)
				weightstest.WriteFile(t, filepath.Join(dir, "a.safetensors"), first)
				// macOS's resource forks on exFAT drives are not safetensors files.
				writeBytes(t, filepath.Join(dir, "._a.safetensors"), []byte("Mac OS X resource fork"))
				writeBytes(t, filepath.Join(dir, "config.json"), []byte("{}"))
			},
			files: []string{"a.safetensors", "b.safetensors"},
			names: append(names(first), names(second)...),
		},
		{
			name:  "FP8 shards (our reader)",
			setup: func(t *testing.T, dir string) { weightstest.WriteSharded(t, dir, fp8Shards()) },
			files: []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"},
			names: append(names(fp8Shards()[0]), names(fp8Shards()[1])...),
		},
		{
			name:      "no safetensors at all",
			setup:     func(t *testing.T, dir string) { writeBytes(t, filepath.Join(dir, "config.json"), []byte("{}")) },
			wantNoSet: true,
		},
		{
			name:      "empty folder",
			setup:     func(t *testing.T, dir string) {},
			wantNoSet: true,
		},
		{
			name: "index beside model.safetensors",
			setup: func(t *testing.T, dir string) {
				weightstest.WriteSharded(t, dir, [][]spec{first, second})
				weightstest.WriteFile(t, filepath.Join(dir, SingleName), all)
			},
			files: []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"},
			names: names(all),
			warnings: []string{"the folder holds both model.safetensors.index.json and model.safetensors; " +
				"read the index's shards (transformers would load model.safetensors)"},
		},
		{
			name: "stale index",
			setup: func(t *testing.T, dir string) {
				shards := weightstest.WriteSharded(t, dir, [][]spec{first, second})
				wm := map[string]string{}
				for _, n := range names(all) {
					wm[n] = shards[1]
				}
				for _, n := range names(first) {
					wm[n] = shards[0]
				}
				wm["model.layers.0.self_attn.q_proj.weight"] = shards[1] // it is in shard 1
				wm["model.layers.9.mlp.up_proj.weight"] = shards[1]      // nowhere
				delete(wm, "lm_head.weight")                             // in shard 2, unnamed
				weightstest.WriteIndex(t, dir, wm)
			},
			files: []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"},
			names: names(all),
			warnings: []string{
				"model.safetensors.index.json names 1 tensor that its shards lack: model.layers.9.mlp.up_proj.weight (in model-00002-of-00002.safetensors)",
				"model.safetensors.index.json puts 1 tensor in the wrong shard: model.layers.0.self_attn.q_proj.weight (in model-00001-of-00002.safetensors, not model-00002-of-00002.safetensors)",
				"the shards hold 1 tensor that model.safetensors.index.json does not name: lm_head.weight (in model-00002-of-00002.safetensors)",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			before := snapshot(t, dir)
			s, err := ReadFolder(dir)
			if err != nil {
				t.Fatal(err)
			}
			if after := snapshot(t, dir); !reflect.DeepEqual(before, after) {
				t.Errorf("the folder changed:\nbefore %v\n after %v", before, after)
			}
			if tc.wantNoSet {
				if s != nil {
					t.Fatalf("got %+v, want nil", s)
				}
				return
			}
			var files []string
			for _, f := range s.Files {
				if !filepath.IsAbs(f) {
					t.Errorf("file %s is not absolute", f)
				}
				files = append(files, filepath.Base(f))
			}
			if !reflect.DeepEqual(files, tc.files) {
				t.Errorf("files %v, want %v", files, tc.files)
			}
			if !reflect.DeepEqual(s.Names, tc.names) {
				t.Errorf("names\n got %v\nwant %v", s.Names, tc.names)
			}
			if len(s.Tensors) != len(s.Names) {
				t.Errorf("%d tensors, %d names", len(s.Tensors), len(s.Names))
			}
			for _, n := range s.Names {
				if tt := s.Tensors[n]; tt == nil || tt.Name != n || !filepath.IsAbs(tt.File) {
					t.Errorf("tensor %s: %+v", n, tt)
				}
			}
			if !reflect.DeepEqual(s.Warnings, tc.warnings) {
				t.Errorf("warnings\n got %q\nwant %q", s.Warnings, tc.warnings)
			}
		})
	}
}

func fp8Shards() [][]spec {
	return [][]spec{
		{T("model.layers.0.mlp.experts.0.down_proj.weight", "F8_E4M3", 32, 64), T("model.layers.0.mlp.experts.0.down_proj.weight_scale_inv", "F32", 1, 1)},
		{T("model.layers.0.mlp.experts.gate_up_proj_blocks", "F4", 2, 8, 2), T("model.layers.0.mlp.experts.gate_up_proj_scales", "F8_E8M0", 2, 8)},
	}
}

// snapshot lists a folder's entries with their sizes, modes and times, to prove reading writes nothing.
func snapshot(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := os.Lstat(path)
		if err != nil {
			return err
		}
		out = append(out, path+" "+info.Mode().String()+" "+itoa64(info.Size())+" "+info.ModTime().Format(time.RFC3339Nano))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func itoa64(n int64) string { return formatShape([]uint64{uint64(n)}) }

func TestReadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.safetensors")
	weightstest.WriteFile(t, path, tinyLlama())
	s, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(path)
	if !reflect.DeepEqual(s.Files, []string{abs}) || !reflect.DeepEqual(s.Names, names(tinyLlama())) || s.Warnings != nil {
		t.Errorf("got %+v", s)
	}
	empty := filepath.Join(t.TempDir(), "empty.safetensors")
	weightstest.WriteFile(t, empty, nil)
	if s, err := ReadFile(empty); err != nil || len(s.Names) != 0 || len(s.Files) != 1 {
		t.Errorf("a file without tensors: %+v, %v", s, err)
	}
}

func TestReadFolderErrors(t *testing.T) {
	all := tinyLlama()
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns the path the error must start with
		want  string
	}{
		{"index names a missing shard", func(t *testing.T, dir string) string {
			shards := weightstest.WriteSharded(t, dir, [][]spec{all[:3], all[3:6], all[6:9], all[9:]})
			remove(t, filepath.Join(dir, shards[2]))
			return filepath.Join(dir, IndexName)
		}, " names model-00003-of-00004.safetensors, which is missing"},
		{"index names two missing shards", func(t *testing.T, dir string) string {
			shards := weightstest.WriteSharded(t, dir, [][]spec{all[:3], all[3:6], all[6:9], all[9:]})
			remove(t, filepath.Join(dir, shards[3]))
			remove(t, filepath.Join(dir, shards[1]))
			return filepath.Join(dir, IndexName)
		}, " names model-00002-of-00004.safetensors, which is missing (and 1 more of its 4 shards are missing)"},
		{"shard is a dangling link into the Hugging Face cache", func(t *testing.T, dir string) string {
			shards := weightstest.WriteSharded(t, dir, [][]spec{all[:6], all[6:]})
			remove(t, filepath.Join(dir, shards[1]))
			symlink(t, "../../blobs/4f8e2d", filepath.Join(dir, shards[1]))
			return filepath.Join(dir, shards[1])
		}, ": is a broken symbolic link (its target is missing: an unfinished download?)"},
		{"corrupt shard", func(t *testing.T, dir string) string {
			shards := weightstest.WriteSharded(t, dir, [][]spec{all[:6], all[6:]})
			writeBytes(t, filepath.Join(dir, shards[1]), []byte("<html>404</html>"))
			return filepath.Join(dir, shards[1])
		}, ": header length 3473469848023230524 is over safetensors' limit"},
		{"tensor in two shards", func(t *testing.T, dir string) string {
			weightstest.WriteFile(t, filepath.Join(dir, "a.safetensors"), all[:3])
			weightstest.WriteFile(t, filepath.Join(dir, "b.safetensors"), all[2:4])
			return filepath.Join(dir, "b.safetensors")
		}, ": tensor model.layers.0.self_attn.q_proj.weight is also in a.safetensors: a tensor must be in one file only"},
		{"model.safetensors is a symlink loop", func(t *testing.T, dir string) string {
			symlink(t, SingleName, filepath.Join(dir, SingleName))
			return filepath.Join(dir, SingleName)
		}, ": too many levels of symbolic links"},
		{"loose shard is a symlink loop", func(t *testing.T, dir string) string {
			weightstest.WriteFile(t, filepath.Join(dir, "a.safetensors"), all)
			symlink(t, "b.safetensors", filepath.Join(dir, "b.safetensors"))
			return filepath.Join(dir, "b.safetensors")
		}, ": too many levels of symbolic links"},
		{"model.safetensors is a folder", func(t *testing.T, dir string) string {
			mkdir(t, filepath.Join(dir, SingleName))
			return filepath.Join(dir, SingleName)
		}, ": is a folder, not a .safetensors file"},
		{"shard is a folder", func(t *testing.T, dir string) string {
			shards := weightstest.WriteSharded(t, dir, [][]spec{all[:6], all[6:]})
			remove(t, filepath.Join(dir, shards[0]))
			mkdir(t, filepath.Join(dir, shards[0]))
			return filepath.Join(dir, shards[0])
		}, ": is a folder, not a .safetensors file"},
		{"index is a folder", func(t *testing.T, dir string) string {
			mkdir(t, filepath.Join(dir, IndexName))
			return filepath.Join(dir, IndexName)
		}, ": is a folder, not a regular file"},
		{"index is a symlink loop", func(t *testing.T, dir string) string {
			symlink(t, IndexName, filepath.Join(dir, IndexName))
			return filepath.Join(dir, IndexName)
		}, ": too many levels of symbolic links"},
		{"index not JSON", func(t *testing.T, dir string) string {
			writeBytes(t, filepath.Join(dir, IndexName), []byte(`{"weight_map": {`))
			return filepath.Join(dir, IndexName)
		}, ": the file is not valid JSON: unexpected end of JSON input"},
		{"index empty", func(t *testing.T, dir string) string {
			writeBytes(t, filepath.Join(dir, IndexName), nil)
			return filepath.Join(dir, IndexName)
		}, ": is empty, not a JSON object with a weight_map"},
		{"index without weight_map", func(t *testing.T, dir string) string {
			writeBytes(t, filepath.Join(dir, IndexName), []byte(`{"metadata": {"total_size": 0}}`))
			return filepath.Join(dir, IndexName)
		}, ": has no weight_map"},
		{"index with an empty weight_map", func(t *testing.T, dir string) string {
			writeBytes(t, filepath.Join(dir, IndexName), []byte(`{"weight_map": {}}`))
			return filepath.Join(dir, IndexName)
		}, ": weight_map is empty: it names no tensors"},
		{"index weight_map a list", func(t *testing.T, dir string) string {
			writeBytes(t, filepath.Join(dir, IndexName), []byte(`{"weight_map": ["a"]}`))
			return filepath.Join(dir, IndexName)
		}, ": weight_map is an array, not an object of tensor names to file names"},
		{"index file name a number", func(t *testing.T, dir string) string {
			writeBytes(t, filepath.Join(dir, IndexName), []byte(`{"weight_map": {"a": 1}}`))
			return filepath.Join(dir, IndexName)
		}, ": weight_map gives tensor a a number, not a file name"},
		{"index points outside the folder", func(t *testing.T, dir string) string {
			writeBytes(t, filepath.Join(dir, IndexName), []byte(`{"weight_map": {"a": "../../etc/passwd"}}`))
			return filepath.Join(dir, IndexName)
		}, ": weight_map puts tensor a in ../../etc/passwd, which is not a file name in this folder"},
		{"folder missing", func(t *testing.T, dir string) string {
			return filepath.Join(dir, "nope")
		}, ": no such file or directory"},
		{"a file, not a folder", func(t *testing.T, dir string) string {
			path := filepath.Join(dir, SingleName)
			weightstest.WriteFile(t, path, all)
			return path
		}, ": is not a folder"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := tc.setup(t, dir)
			readDir := dir
			if strings.HasSuffix(tc.name, "folder missing") || strings.HasSuffix(tc.name, "not a folder") {
				readDir = path
			}
			s, err := ReadFolder(readDir)
			checkError(t, s, err, path, tc.want)
		})
	}
}

func remove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

// TestReadFolderRelative checks that a relative folder gives absolute file paths and errors that name
// the files as the caller spelled the folder.
func TestReadFolderRelative(t *testing.T) {
	dir := t.TempDir()
	weightstest.WriteFile(t, filepath.Join(dir, SingleName), tinyLlama())
	t.Chdir(filepath.Dir(dir))
	rel := filepath.Base(dir)
	s, err := ReadFolder(rel)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, SingleName); s.Files[0] != want || s.Tensors["lm_head.weight"].File != want {
		t.Errorf("files %v, want %s", s.Files, want)
	}
	writeBytes(t, filepath.Join(dir, SingleName), []byte("short"))
	_, err = ReadFolder(rel)
	checkError(t, nil, err, filepath.Join(rel, SingleName)+": ", "is 5 bytes long")
}
