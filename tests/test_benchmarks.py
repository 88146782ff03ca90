"""The benchmark scripts stay runnable: each one imports against today's package (a moved helper broke one
unnoticed once), and the bf16 training check decides pass/fail from the two runs' dev curves."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(p for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_"))


def load(path: Path):
    sys.path.insert(0, str(BENCHMARKS))  # the scripts import their shared `_common`
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.stem)
def test_every_benchmark_imports_and_has_a_main(path):
    assert callable(load(path).main)


def write_curve(run: Path, seed: int, curve: dict[int, float]) -> None:
    log = run / "cells" / "xquad-to-mlqa" / "hybrid" / f"seed{seed}" / "train" / "train_log.jsonl"
    log.parent.mkdir(parents=True)
    rows = [{"event": "train", "step": 1, "loss": 1.0}]
    rows += [{"event": "dev", "step": step, "xquad-r/multi/map": value} for step, value in curve.items()]
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.mark.parametrize(("fp32_best", "passes"), [(0.705, True), (0.689, False)])
def test_bf16_training_check_compares_each_seeds_dev_map(tmp_path, fp32_best, passes):
    check = load(BENCHMARKS / "bf16_training_check.py")
    for seed in (0, 1):
        write_curve(tmp_path / "bf16", seed, {100: 0.69, 200: 0.70})
        write_curve(tmp_path / "fp32", seed, {100: 0.68, 200: fp32_best})
    result = check.compare(tmp_path / "bf16", tmp_path / "fp32", [0, 1], step=200, tolerance=0.01)
    assert result["passes"] is passes
    assert result["seeds"]["1"]["difference_at_step"] == pytest.approx(0.70 - fp32_best)
    assert result["max_abs_difference"] == pytest.approx(abs(0.70 - fp32_best))


def test_bf16_training_check_names_a_missing_run(tmp_path):
    check = load(BENCHMARKS / "bf16_training_check.py")
    write_curve(tmp_path / "bf16", 0, {200: 0.7})
    with pytest.raises(SystemExit, match="missing .*fp32.*run the grid"):
        check.compare(tmp_path / "bf16", tmp_path / "fp32", [0], step=200, tolerance=0.01)
