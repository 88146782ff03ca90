#!/usr/bin/env bash
# Issue 11's medium grid on the CPU, resumable across sessions (run from the repository root):
#   nohup bash scripts/medium-grid.sh >> results/medium-cpu.log 2>&1 &
# run from a worktree at the grid's pinned commit (the head of branch `grid`; docs/reproduce.md says how), so every
# cell keeps one training and evaluation code.
# 1. once: the dev-only pilot that picks lr and frozen/unfrozen word embeddings (scripts/medium-pilot.sh);
# 2. the grid itself, `langmix reproduce --config configs/reproduce-medium.yaml --out results/medium-cpu`,
#    with the pilot's pick (configs/reproduce-medium.yaml holds the same values once the pick is known, so
#    the plain command resumes the same run). Finished cells are never rerun; a killed cell resumes from its
#    last checkpoint (if the machine kept it) or restarts.
set -euo pipefail
PILOT=${PILOT:-results/medium-pilot}
[ -f "$PILOT/pilot.json" ] || bash scripts/medium-pilot.sh "$PILOT"
read -r frozen lr < <(python - "$PILOT/pilot.json" <<'PY'
import json, sys
name = json.load(open(sys.argv[1]))["picked"]  # frozen-<true|false>-lr-<lr>
_, frozen, _, lr = name.split("-", 3)
print(frozen, lr)
PY
)
echo "[medium-grid] pilot pick: freeze_embeddings=$frozen lr=$lr"
#    xquad-to-mlqa first, all its seeds (so that one protocol's three-seed comparison exists as early as
#    possible), then the whole grid; the report counts every cell of both (results.json "grid").
for protocols in xquad-to-mlqa xquad-to-mlqa,mlqa-to-xquad; do
  langmix reproduce --config configs/reproduce-medium.yaml --out results/medium-cpu --protocols "$protocols" \
    --train-set "model.freeze_embeddings=$frozen" --train-set "lr=$lr"
done
# 3. issue 12's bf16 check, its fp32 half: the grid's xquad-to-mlqa hybrid cells are the bf16 half; the same
#    three runs in fp32 (a 24-question test slice: only their dev mAP is compared). Then the comparison:
#    python benchmarks/bf16_training_check.py
langmix reproduce --config configs/reproduce-medium.yaml --out results/bf16-check-fp32 \
  --protocols xquad-to-mlqa --strategies hybrid --train-set precision=fp32 --test-questions 24
