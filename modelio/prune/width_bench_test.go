package prune_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/layerscope/layerscope/modelio"
	"github.com/layerscope/layerscope/modelio/neurons"
	"github.com/layerscope/layerscope/modelio/prune"
	"github.com/layerscope/layerscope/modelio/weights/weightstest"
)

// The width-pruning benchmarks run on one real-size model: SmolLM2-135M's shape (30 blocks, hidden
// 576, intermediate 1536, vocab 49152, tied) in F32 with random, non-sparse data: 538 MB, written once
// per `go test -bench` run and read from the page cache by every benchmark, including the peers:
//
//	go test ./modelio/prune -run '^$' -bench 'Width|SequentialRead|PlainCopy' -benchtime 5x
//
// BenchmarkWidthScore (ppm, vow and pon, F32 and BF16) reads the whole file sequentially into a 1 MiB
// buffer and then scores, in every iteration, and reports both throughputs (scoring's bytes are the
// MLP weights it reads: gate and up) and their ratio, of-read: measured side by side, so the load of
// a shared machine falls on both alike. BenchmarkWidthWrite40's bytes are the source file's, which
// the copy reads once; BenchmarkPlainCopy (read, write, fsync the whole file) is its peer, each onto
// the disk and into memory (tmpfs).
// BenchmarkSequentialRead is the plain read alone.
type smolFile struct {
	once sync.Once
	dir  string
	err  error
	size int64
}

var smolFiles = map[string]*smolFile{"F32": {}, "BF16": {}}

// smolFolder is the F32 model's folder and its file's size.
func smolFolder(b *testing.B) (string, int64) { return smolFolderOf(b, "F32") }

// smolFolderOf writes the model in dtype (F32 or BF16) once per run.
func smolFolderOf(b *testing.B, dtype string) (string, int64) {
	b.Helper()
	smol := smolFiles[dtype]
	smol.once.Do(func() {
		smol.dir, smol.err = os.MkdirTemp("", "layerscope-bench-smollm2-")
		if smol.err != nil {
			return
		}
		cfg := map[string]any{
			"architectures": []string{"LlamaForCausalLM"}, "model_type": "llama", "hidden_size": 576,
			"intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3,
			"vocab_size": 49152, "max_position_embeddings": 8192, "rms_norm_eps": 1e-05, "rope_theta": 100000,
			"tie_word_embeddings": true, "torch_dtype": map[string]string{"F32": "float32", "BF16": "bfloat16"}[dtype],
		}
		data, _ := json.Marshal(cfg)
		if smol.err = os.WriteFile(filepath.Join(smol.dir, "config.json"), data, 0o644); smol.err != nil {
			return
		}
		m, err := modelio.Open(filepath.Join(smol.dir, "config.json"))
		if err != nil {
			smol.err = err
			return
		}
		var specs []weightstest.Spec
		for _, p := range m.Spec.Root.Params("") {
			specs = append(specs, weightstest.T(p.Name, dtype, p.Shape...))
		}
		prefix, n := weightstest.Header(b, specs)
		path := filepath.Join(smol.dir, "model.safetensors")
		f, err := os.Create(path)
		if err != nil {
			smol.err = err
			return
		}
		w := bufio.NewWriterSize(f, 4<<20)
		w.Write(prefix)
		rng := rand.New(rand.NewPCG(5, 6))
		var buf [4]byte
		eb := int64(4)
		if dtype == "BF16" {
			eb = 2
		}
		for range n / eb {
			bits := math.Float32bits(float32(rng.NormFloat64() * 0.02))
			if dtype == "BF16" {
				binary.LittleEndian.PutUint16(buf[:], uint16(bits>>16))
			} else {
				binary.LittleEndian.PutUint32(buf[:], bits)
			}
			w.Write(buf[:eb])
		}
		if smol.err = w.Flush(); smol.err == nil {
			smol.err = f.Close()
		}
		smol.size = int64(len(prefix)) + n
	})
	if smol.err != nil {
		b.Fatal(smol.err)
	}
	return smol.dir, smol.size
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, smol := range smolFiles {
		if smol.dir != "" {
			os.RemoveAll(smol.dir)
		}
	}
	os.Exit(code)
}

func BenchmarkSequentialRead(b *testing.B) {
	for _, dtype := range []string{"F32", "BF16"} {
		b.Run(dtype, func(b *testing.B) { sequentialRead(b, dtype) })
	}
}

func sequentialRead(b *testing.B, dtype string) {
	dir, size := smolFolderOf(b, dtype)
	buf := make([]byte, 1<<20)
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		readFile(b, filepath.Join(dir, "model.safetensors"), size, buf)
	}
}

// readFile reads the file at path, of size bytes, front to back through buf.
func readFile(b *testing.B, path string, size int64, buf []byte) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var n int64
	for {
		k, err := f.Read(buf)
		n += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	if n != size {
		b.Fatalf("read %d of %d bytes", n, size)
	}
}

// destinations are where the copies of BenchmarkPlainCopy and BenchmarkWidthWrite40 go: the disk of
// the temporary folder, where fsync waits for the device, and /dev/shm (tmpfs, where there is one),
// where it does not, which leaves what the copy itself costs: reading, gathering, writing memory.
func destinations(b *testing.B) []struct{ name, dir string } {
	out := []struct{ name, dir string }{{"disk", ""}}
	if info, err := os.Stat("/dev/shm"); err == nil && info.IsDir() {
		out = append(out, struct{ name, dir string }{"tmpfs", "/dev/shm"})
	}
	return out
}

// tempDir is a fresh folder under dir ("" for b.TempDir's), removed after the benchmark.
func tempDir(b *testing.B, dir string) string {
	if dir == "" {
		return b.TempDir()
	}
	d, err := os.MkdirTemp(dir, "layerscope-bench-")
	if err != nil {
		b.Skip(err)
	}
	b.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func BenchmarkPlainCopy(b *testing.B) {
	for _, dest := range destinations(b) {
		b.Run(dest.name, func(b *testing.B) { plainCopy(b, dest.dir) })
	}
}

func plainCopy(b *testing.B, destDir string) {
	dir, size := smolFolder(b)
	into := tempDir(b, destDir)
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		in, err := os.Open(filepath.Join(dir, "model.safetensors"))
		if err != nil {
			b.Fatal(err)
		}
		dst := filepath.Join(into, "copy.safetensors")
		out, err := os.Create(dst)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			b.Fatal(err)
		}
		if err := out.Sync(); err != nil {
			b.Fatal(err)
		}
		out.Close()
		in.Close()
		os.Remove(dst)
	}
}

func BenchmarkWidthScore(b *testing.B) {
	for _, dtype := range []string{"F32", "BF16"} {
		for _, method := range []neurons.Method{neurons.PPM, neurons.VOW, neurons.PON} {
			b.Run(method.String()+"-"+dtype, func(b *testing.B) { widthScore(b, dtype, method) })
		}
	}
}

// widthScore times, in every iteration, a sequential read of the whole file and then the scoring,
// so that both see the same load on a shared machine; it reports each one's GB/s and their ratio.
func widthScore(b *testing.B, dtype string, method neurons.Method) {
	dir, size := smolFolderOf(b, dtype)
	m, err := modelio.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	s, err := neurons.Score(context.Background(), m, method, nil)
	if err != nil {
		b.Fatal(err)
	}
	path, buf := filepath.Join(dir, "model.safetensors"), make([]byte, 1<<20)
	var reading, scoring time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		readFile(b, path, size, buf)
		t1 := time.Now()
		if _, err := neurons.Score(context.Background(), m, method, nil); err != nil {
			b.Fatal(err)
		}
		reading, scoring = reading+t1.Sub(t0), scoring+time.Since(t1)
	}
	read := float64(size) * float64(b.N) / reading.Seconds() / 1e9
	score := float64(s.Bytes) * float64(b.N) / scoring.Seconds() / 1e9
	b.ReportMetric(score, "score-GB/s")
	b.ReportMetric(read, "read-GB/s")
	b.ReportMetric(score/read, "of-read")
}

func BenchmarkWidthWrite40(b *testing.B) {
	for _, dest := range destinations(b) {
		b.Run(dest.name, func(b *testing.B) { widthWrite40(b, dest.dir) })
	}
}

func widthWrite40(b *testing.B, destDir string) {
	dir, size := smolFolder(b)
	m, err := modelio.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	s, err := neurons.Score(context.Background(), m, neurons.PPM, nil)
	if err != nil {
		b.Fatal(err)
	}
	_, kept, err := neurons.Widths(s.Units, neurons.Target{Percent: 40})
	if err != nil {
		b.Fatal(err)
	}
	keep, err := neurons.Keep(s, kept)
	if err != nil {
		b.Fatal(err)
	}
	p, err := modelio.NarrowMLP(m, keep)
	if err != nil {
		b.Fatal(err)
	}
	into := tempDir(b, destDir)
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		dst := filepath.Join(into, "narrow")
		if err := prune.Write(p, nil, dst, nil); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(dst)
		b.StartTimer()
	}
}

// BenchmarkWidthScoreCold is BenchmarkWidthScore with the page cache dropped before the read and
// before the scoring (so both come from the disk, as the first scoring of a model just copied over
// does). It needs root, to write /proc/sys/vm/drop_caches, and is skipped elsewhere.
func BenchmarkWidthScoreCold(b *testing.B) {
	for _, method := range []neurons.Method{neurons.PPM, neurons.VOW, neurons.PON} {
		b.Run(method.String()+"-F32", func(b *testing.B) {
			dir, size := smolFolder(b)
			m, err := modelio.Open(dir)
			if err != nil {
				b.Fatal(err)
			}
			path, buf := filepath.Join(dir, "model.safetensors"), make([]byte, 1<<20)
			var reading, scoring time.Duration
			var bytes int64
			for b.Loop() {
				dropCaches(b)
				t0 := time.Now()
				readFile(b, path, size, buf)
				reading += time.Since(t0)
				dropCaches(b)
				t1 := time.Now()
				s, err := neurons.Score(context.Background(), m, method, nil)
				if err != nil {
					b.Fatal(err)
				}
				scoring, bytes = scoring+time.Since(t1), s.Bytes
			}
			read := float64(size) * float64(b.N) / reading.Seconds() / 1e9
			score := float64(bytes) * float64(b.N) / scoring.Seconds() / 1e9
			b.ReportMetric(score, "score-GB/s")
			b.ReportMetric(read, "read-GB/s")
			b.ReportMetric(score/read, "of-read")
		})
	}
}

// dropCaches writes the dirty pages out and drops the clean ones from the page cache, or skips.
func dropCaches(b *testing.B) {
	b.StopTimer()
	defer b.StartTimer()
	if err := exec.Command("sync").Run(); err != nil {
		b.Skip("sync:", err)
	}
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("1"), 0); err != nil {
		b.Skip("the page cache cannot be dropped here (needs root):", err)
	}
}
