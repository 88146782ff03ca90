#!/usr/bin/env bash
# Issue 11's medium grid on the CPU, resumable across sessions (run from the repository root):
#   nohup bash scripts/medium-grid.sh >> results/medium-cpu.log 2>&1 &
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
langmix reproduce --config configs/reproduce-medium.yaml --out results/medium-cpu \
  --train-set "model.freeze_embeddings=$frozen" --train-set "lr=$lr"
