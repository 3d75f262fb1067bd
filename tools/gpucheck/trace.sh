#!/usr/bin/env bash
# Where Layerscope's GPU time goes: LAYERSCOPE_TRACE phase tables for the two speed models, a cold run
# and a warm one in the same process (--repeat 2), with Layerscope's XLA defaults and without
# autotuning. Run on the GPU machine after building .gpu/layerscope (see run.sh). Not part of the
# product or of CI. (XLA's --xla_gpu_kernel_cache_file makes the warm run of a second process crash
# with this plugin: it is not tried.)
set -u
OUT=${OUT:-/tmp/gpucheck-out}
WORK=/tmp/gpucheck
mkdir -p "$OUT" "$WORK"
exec > >(tee "$OUT/trace.txt") 2>&1
export PYTHONUNBUFFERED=1 LAYERSCOPE_TRACE=1
[ -d "$WORK/models/qwen3-0.6b" ] || python3 tools/gpucheck/torch_bench.py --out "$WORK/models" --runs 1 | cut -c1-300
for m in llama-3.2-1b qwen3-0.6b; do
  run() {
    echo; echo "== $m: $1"
    XLA_FLAGS="$2" timeout 120 .gpu/layerscope importance "$WORK/models/$m" --tokens "$WORK/models/$m.tokens.json" \
      --backend gpu --dtype fp16 --repeat 2 --json >"$WORK/r.json"
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("runs", r["run_seconds"], "tokens/s %.0f" % (r["tokens"]/r["seconds"]), "BI[:3]", r["metrics"][0]["scores"][:3])' "$WORK/r.json"
  }
  run "Layerscope's defaults" ""
  run "no autotuning" "--xla_gpu_autotune_level=0"
  # The blocks take ~17 ms against PyTorch's ~12 ms a layer; SDPA's fused attention is the likely
  # difference. XLA rejects flags it does not know (the run then says so and stops).
  run "cuDNN fused attention" "--xla_gpu_enable_cudnn_fmha=true"
  run "no command buffers" "--xla_gpu_enable_command_buffer="
done
