#!/usr/bin/env bash
# Run THERE (the GPU machine, through the device tool), from the repo root, with .device carried:
#   bash benchmarks/device/run.sh [smoke|speed]
# Installs the carried wheels, runs the issue-7 speed benchmarks on the GPU (sentence-transformers vs
# langmix, interleaved in one process) and packs results/bench-*.json plus the log into $OUT/bench.tar.gz.
# `smoke` is a seconds-long pass of every script (also runs on a CPU: DEVICE=cpu) to prove the setup.
set -uo pipefail
mode=${1:-speed}
device=${DEVICE:-cuda}
out=${OUT:-/tmp/langmix-device-out}
mkdir -p "$out"
site=/tmp/langmix-site
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" \
  .device/whl/*.whl || { echo "wheel install failed: run benchmarks/device/prepare.sh here first"; exit 2; }
export PYTHONPATH="$PWD/src:$site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
export LANGMIX_BENCH_TOKENIZER="$PWD/.device/tokenizer" LANGMIX_HOME=/tmp/langmix-home
log="$out/run.log"
: > "$log"
budget=${BUDGET:-480}  # seconds for all steps: the packing below must finish inside the device call's timeout
step() {  # one benchmark, capped so one hang cannot eat the lease
  local left=$((budget - SECONDS)) cap=${STEP_TIMEOUT:-240}
  if ((left < 30)); then echo "-- skipped, budget spent: $*" | tee -a "$log"; return; fi
  ((left < cap)) && cap=$left
  echo "== $* (cap ${cap} s)" | tee -a "$log"
  timeout "$cap" python3 "$@" >>"$log" 2>&1 || echo "!! exit $? : $*" | tee -a "$log"
  tail -n 2 "$log"
}
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || true
  python3 -c "import torch, transformers, sentence_transformers as s; print(torch.__version__, transformers.__version__, s.__version__)"
} >>"$log" 2>&1
train=benchmarks/train_throughput.py
encode=benchmarks/encode_throughput.py
if [[ "$mode" == smoke ]]; then
  common=(--device "$device" --model e5-small)
  step $train "${common[@]}" --batch-size 4 --steps 3 --warmup-steps 1 --block 1
  step $encode "${common[@]}" --limit 32 --batch-size 16 --rounds 1
  step benchmarks/eval_speed.py --device "$device" --model e5-small --limit-questions 1 --repeats 1
else
  # issue 7's settings: XLM-R base shapes, batch 128, bf16 on both sides; then mE5-small shapes;
  # then the fp32 dropout-off run whose per-step losses must agree within 2 %.
  step $train --device "$device" --model xlmr-base --precision bf16 --batch-size 128 --steps 40 --warmup-steps 10 --block 10
  step $train --device "$device" --model e5-small --precision bf16 --batch-size 128 --steps 40 --warmup-steps 10 --block 10
  step $train --device "$device" --model xlmr-base --precision fp32 --batch-size 32 --steps 20 --warmup-steps 2 --block 5 --no-dropout
  step $encode --device "$device" --model xlmr-base --precision bf16 --limit 8192 --batch-size 256 --rounds 3
  step $encode --device "$device" --model e5-small --precision bf16 --limit 8192 --batch-size 256 --rounds 3
  step benchmarks/eval_speed.py --device "$device" --model e5-small --batch-size 256 --repeats 1
  # last: compile time is the least predictable, so a short BUDGET still measures the rest
  step $train --device "$device" --model xlmr-base --precision bf16 --batch-size 128 --steps 40 --warmup-steps 10 --block 10 --compile
fi
tar -czf "$out/bench.tar.gz" results/bench-*-"$device"*.json -C "$out" run.log
echo "packed $(tar -tzf "$out/bench.tar.gz" | wc -l) files into $out/bench.tar.gz"
