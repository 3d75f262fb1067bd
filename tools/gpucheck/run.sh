#!/usr/bin/env bash
# The GPU check, run on a machine with an NVIDIA GPU, PyTorch, transformers and pip's jax-cuda13-pjrt
# (whose xla_cuda_plugin.so Layerscope loads through PJRT). Not part of the product or of CI.
#
# Build here first (the GPU machine needs no Go, X11 or OpenGL):
#   go build -tags nogui -ldflags="-s -w" -o .gpu/layerscope .
#   go test -c -ldflags="-s -w" -o .gpu/compute.test ./compute
# then, on the GPU machine, from the repository root:
#   OUT=/tmp/gpucheck-out tools/gpucheck/run.sh
# It writes $OUT/log.txt and $OUT/results.tgz.
set -u
OUT=${OUT:-/tmp/gpucheck-out}
WORK=/tmp/gpucheck
mkdir -p "$OUT" "$WORK/res"
exec > >(tee "$OUT/log.txt") 2>&1
export PYTHONUNBUFFERED=1
step() { echo; echo "== $(date +%T) $*"; }

step "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c 'import torch, transformers, jax; print("torch", torch.__version__, "transformers", transformers.__version__, "jax", jax.__version__)'
SP=$(python3 -c 'import jax_plugins, os; print(os.path.dirname(list(jax_plugins.__path__)[0]))' 2>/dev/null)
echo "site-packages: $SP"
ls "$SP"/jax_plugins/ 2>/dev/null; ls "$SP"/nvidia/ 2>/dev/null | tr '\n' ' '; echo
find "$SP"/nvidia -name ptxas 2>/dev/null; command -v ptxas nvcc

# peak_mem CMD...: runs CMD while sampling the GPU's used memory every 100 ms; prints the peak in MiB
# above what was in use before.
peak_mem() {
  local base samples pid
  base=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
  samples=$(mktemp)
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 >"$samples" &
  pid=$!
  "$@"
  local rc=$?
  kill $pid 2>/dev/null; wait $pid 2>/dev/null
  echo "peak GPU memory: $(( $(sort -n "$samples" | tail -1) - base )) MiB above the $base MiB in use before (rc $rc)" >&2
  return $rc
}

fixture_tokens() { # the fixture's samples without their padding, as --tokens wants them
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps([[i for i,m in zip(a,b) if m] for a,b in zip(d["input_ids"], d["attention_mask"])]))' "$1"
}

step "transformers fixtures for the families checked so far against the float64 reference only"
# Tiny models on the CPU, seconds: copy $OUT/new-fixtures/fixtures/* into testdata/fixtures and add the
# families to fixtureFamilies in compute/fixture_test.go.
NEW=gpt_neox,phi,opt,mixtral,qwen3_moe
timeout 300 python3 tools/fixtures/make_fixtures.py --out "$OUT/new-fixtures" --only $NEW --skip-trees 2>&1 | tail -5
step "the new fixtures against Layerscope: CPU fp32 (as CI will), then GPU fp32/fp16/bf16"
(cd compute && LAYERSCOPE_FIXTURES="$OUT/new-fixtures/fixtures" LAYERSCOPE_FIXTURE_FAMILIES=$NEW \
  timeout 300 ../.gpu/compute.test -test.run 'FixturesFP32|FixturesBF16|RopeMatchesTransformers|FixturesGPU' -test.v 2>&1 | grep -v '^=== ' | tail -60)

step "Layerscope loads the CUDA plugin: the llama fixture in fp16"
fixture_tokens testdata/fixtures/llama/tokens.json >"$WORK/llama.tokens.json"
timeout 120 .gpu/layerscope importance testdata/fixtures/llama --tokens "$WORK/llama.tokens.json" \
  --backend gpu --dtype fp16 --metric all --json | tee "$WORK/res/fixture-llama-fp16.json"

step "PyTorch: random Llama-3.2-1B and Qwen3-0.6B shapes, BI over 64 x 512 tokens in fp16"
peak_mem timeout 300 python3 tools/gpucheck/torch_bench.py --out "$WORK/models" | tee "$WORK/res/torch.jsonl"

for m in llama-3.2-1b qwen3-0.6b; do
  for proc in 1 2; do
    # One process, three runs: the first opens the plugin and compiles (a command-line run), the
    # others reuse both (the app's Run pressed again), as transformers' timed runs follow a warm-up.
    step "Layerscope: $m, BI over 64 x 512 tokens in fp16, process $proc, --repeat 3"
    peak_mem timeout 300 .gpu/layerscope importance "$WORK/models/$m" --tokens "$WORK/models/$m.tokens.json" \
      --backend gpu --dtype fp16 --repeat 3 --json >"$WORK/res/layerscope-$m-$proc.json"
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print({k: r[k] for k in ("device","dtype","tokens","notes")}); [print("run %d: %.3f s, tokens/s %.0f" % (i+1, s, r["tokens"]/s)) for i, s in enumerate(r["run_seconds"])]' \
      "$WORK/res/layerscope-$m-$proc.json"
  done
done

step "fixtures on the GPU: fp32 to 1e-4, fp16 and bf16 BI to 2e-2 (compute.TestFixturesGPU)"
(cd compute && timeout 200 ../.gpu/compute.test -test.run 'GPU' -test.v) | tee "$WORK/res/fixtures-gpu.txt"

step "width-pruned copies: transformers loads them, logits equal the zeroed original, NLL equals Layerscope's"
# CPU only, seconds. docs/PRUNING.md; tools/fixtures/check_width.py says what it checks.
WIDTH=llama,qwen3,gemma3_text,phi3,gpt2,mistral,qwen2
mkdir -p "$WORK/width"
for f in ${WIDTH//,/ }; do
  rm -rf "$WORK/width/$f"
  .gpu/layerscope prune testdata/fixtures/$f --width 40% -o "$WORK/width/$f" --json >"$WORK/width/$f.prune.json"
  fixture_tokens testdata/fixtures/$f/tokens.json >"$WORK/width/$f.tokens.json"
  .gpu/layerscope perplexity "$WORK/width/$f" --tokens "$WORK/width/$f.tokens.json" --backend cpu --json \
    >"$WORK/width/$f.perplexity.json"
done
timeout 300 python3 tools/fixtures/check_width.py --fixtures testdata/fixtures --work "$WORK/width" --families $WIDTH \
  | tee "$WORK/res/width.jsonl"
step "hybrid neuron scores from activations measured on the GPU in fp16, against the CPU's f32 (kept neurons)"
for dev in "cpu fp32" "gpu fp16"; do
  set -- $dev
  rm -rf "$WORK/width/hybrid-$1"
  timeout 120 .gpu/layerscope prune testdata/fixtures/llama --width 40% --method hybrid --tokens "$WORK/width/llama.tokens.json" \
    --backend $1 --dtype $2 -o "$WORK/width/hybrid-$1" --json >"$WORK/res/hybrid-$1.json"
done
python3 -c 'import json,sys; a,b=(json.load(open(f))["mlps"] for f in sys.argv[1:]); print("blocks whose kept neurons differ between cpu fp32 and gpu fp16:", [x["block"] for x,y in zip(a,b) if x["kept"]!=y["kept"]])' \
  "$WORK/res/hybrid-cpu.json" "$WORK/res/hybrid-gpu.json"

step "done"
tar czf "$OUT/results.tgz" -C "$WORK" res
