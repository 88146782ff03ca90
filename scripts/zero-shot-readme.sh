#!/usr/bin/env bash
# Re-measure every zero-shot number the README quotes (after the gold-sentence fix), into results/zero-shot/.
# fp32, as the earlier figures; per_query.json is left out of git (3-12 MB each).
#   bash scripts/zero-shot-readme.sh
set -euo pipefail
Z=results/zero-shot
run() { local out=$1; shift; rm -rf "$Z/$out"; /usr/bin/time -f "$out: %e s wall, %U s user" langmix evaluate "$@" --out "$Z/$out"; }
run mlqa-r-sentence-150 --benchmark mlqa-r --candidates sentence --limit-questions 150
run mlqa-r-context-150 --benchmark mlqa-r --candidates context --limit-questions 150
run xquad-r-sentence-60 --benchmark xquad-r --candidates sentence --limit-questions 60
run xquad-r-context-60 --benchmark xquad-r --candidates context --limit-questions 60
run mlqa-r-sentence --benchmark mlqa-r --candidates sentence
run xquad-r-sentence --benchmark xquad-r --candidates sentence
run xquad-r-context --benchmark xquad-r --candidates context --batch-size 32
