#!/usr/bin/env bash
# Re-measure every zero-shot number the README quotes (after the gold-sentence fix), into results/zero-shot/.
# Slices in fp32 as before; the whole sets with --precision bf16 (cosine >= 0.99997 to fp32 on this CPU,
# benchmarks/bf16_quality.py; 2-4x faster). A folder re-measured by this script (marker .remeasured) is kept.
# per_query.json stays out of git (3-12 MB each).
#   bash scripts/zero-shot-readme.sh
set -euo pipefail
Z=results/zero-shot
run() {
  local out=$1; shift
  if [ -f "$Z/$out/.remeasured" ]; then return 0; fi
  rm -rf "$Z/$out"
  /usr/bin/time -f "$out: %e s wall, %U s user" langmix evaluate "$@" --out "$Z/$out"
  echo "langmix evaluate $*" > "$Z/$out/.remeasured"
}
run mlqa-r-sentence-150 --benchmark mlqa-r --candidates sentence --limit-questions 150
run mlqa-r-context-150 --benchmark mlqa-r --candidates context --limit-questions 150
run xquad-r-sentence-60 --benchmark xquad-r --candidates sentence --limit-questions 60
run xquad-r-context-60 --benchmark xquad-r --candidates context --limit-questions 60
run mlqa-r-sentence --benchmark mlqa-r --candidates sentence --precision bf16
run xquad-r-sentence --benchmark xquad-r --candidates sentence --precision bf16
run xquad-r-context --benchmark xquad-r --candidates context --batch-size 32 --precision bf16
