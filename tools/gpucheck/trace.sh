#!/usr/bin/env bash
# Where Layerscope's GPU time goes: LAYERSCOPE_TRACE phase tables for the two speed models, with XLA's
# defaults, without autotuning, and with XLA's on-disk kernel and autotune caches (cold, then warm).
# Run on the GPU machine after building .gpu/layerscope (see run.sh). Not part of the product or of CI.
set -u
OUT=${OUT:-/tmp/gpucheck-out}
WORK=/tmp/gpucheck
mkdir -p "$OUT" "$WORK"
exec > >(tee "$OUT/trace.txt") 2>&1
export PYTHONUNBUFFERED=1 LAYERSCOPE_TRACE=1
python3 tools/gpucheck/torch_bench.py --out "$WORK/models" --runs 1 | cut -c1-300
for m in llama-3.2-1b qwen3-0.6b; do
  run() {
    echo; echo "== $m: $1"
    XLA_FLAGS="$2" timeout 120 .gpu/layerscope importance "$WORK/models/$m" --tokens "$WORK/models/$m.tokens.json" \
      --backend gpu --dtype fp16 --json >"$WORK/r.json"
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("seconds %.3f tokens/s %.0f BI[:3] %s" % (r["seconds"], r["tokens"]/r["seconds"], r["metrics"][0]["scores"][:3]))' "$WORK/r.json"
  }
  run "XLA defaults" ""
  run "no autotuning" "--xla_gpu_autotune_level=0"
  cache="--xla_gpu_kernel_cache_file=$WORK/kernels-$m.bin --xla_gpu_per_fusion_autotune_cache_dir=$WORK/autotune-$m"
  run "disk caches, cold" "$cache"
  run "disk caches, warm" "$cache"
done
