#!/usr/bin/env bash
# Layerscope's CPU path against PyTorch (Debian's python3-torch, OpenBLAS) on this machine, side by side
# in one run (`make bench-cpu`, which installs python3-torch and libopenblas0 first). For a
# SmolLM2-135M and a Llama-3.2-1B shape (the gallery's config.json, random BF16 weights written by
# torch_cpu.py make) and the same token ids, it runs each side as a cold process (start to exit: one
# run, everything included) and as one process with REPEAT runs (the runs after the first are the warm
# figure: Run pressed again in the app, a second forward in PyTorch), alternating the two sides, and
# prints the table compare.py makes (medians, the ratio, peak RSS) after checking that BI and the NLL
# agree to 1e-5. Not part of the product or of CI. Environment: MODELS (names below), SAMPLES,
# SEQ_LEN, REPEAT, ROUNDS (cold/warm pairs per side), FIRST_ROUND (to add rounds to earlier ones:
# the table takes medians over every round in WORK/res), WORK.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${WORK:-/tmp/layerscope-benchcpu}
SAMPLES=${SAMPLES:-8} SEQ_LEN=${SEQ_LEN:-128} REPEAT=${REPEAT:-3} ROUNDS=${ROUNDS:-1} FIRST_ROUND=${FIRST_ROUND:-1}
MODELS=${MODELS:-"smollm2-135m llama-3.2-1b"}
PY=/usr/bin/python3 # Debian's, where python3-torch is
declare -A CONFIG=([smollm2-135m]=HuggingFaceTB__SmolLM2-135M [llama-3.2-1b]=meta-llama__Llama-3.2-1B)
mkdir -p "$WORK/res"
go build -tags nogui -o "$WORK/layerscope" .
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "load at start: $(uptime)"
timed() { # timed OUT CMD...: CMD's stdout to OUT.json, wall seconds and peak RSS (kB) to OUT.time
  local out=$1; shift
  /usr/bin/time -f '%e %M' -o "$out.time" "$@" >"$out.json"
}
for m in $MODELS; do
  dir="$WORK/$m-${SAMPLES}x$SEQ_LEN"
  [ -f "$dir/model.safetensors" ] || $PY tools/benchcpu/torch_cpu.py make --config \
    "modelio/gallery/configs/${CONFIG[$m]}.config.json" --folder "$dir" --samples "$SAMPLES" --seq-len "$SEQ_LEN"
  ls="$WORK/layerscope importance $dir --tokens $dir.tokens.json --backend cpu --metric bi --json"
  pt="$PY tools/benchcpu/torch_cpu.py run --folder $dir"
  for r in $(seq "$FIRST_ROUND" $((FIRST_ROUND + ROUNDS - 1))); do
    echo "$(date +%T) $m round $r"
    timed "$WORK/res/$m-torch-cold-$r" $pt --repeat 1
    timed "$WORK/res/$m-layerscope-cold-$r" $ls --repeat 1
    timed "$WORK/res/$m-torch-warm-$r" $pt --repeat "$REPEAT"
    timed "$WORK/res/$m-layerscope-warm-$r" $ls --repeat "$REPEAT" 2>/dev/null
  done
done
echo "load at end: $(uptime)"
$PY tools/benchcpu/compare.py "$WORK/res" $MODELS
