"""training.run_dev: a finished run's dev set rebuilt, so choices after training are made on it, not on a test set."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from langmix.errors import LangmixError
from langmix.model.load import load_model
from langmix.training.run_dev import run_dev_evaluator


def test_the_rebuilt_dev_set_scores_the_best_model_as_the_run_did(tiny_dev_run: Path) -> None:
    evaluator, metric = run_dev_evaluator(tiny_dev_run)
    saved = json.loads((tiny_dev_run / "metrics.json").read_text(encoding="utf-8"))
    assert metric == saved["selection_metric"] == "xquad-r/multi/map"
    scores = evaluator(load_model(tiny_dev_run / "best-model", device="cpu"))
    assert scores[metric] == pytest.approx(saved["best"][metric], abs=1e-6)
    assert scores["xquad-r/mono/map"] == pytest.approx(saved["best"]["xquad-r/mono/map"], abs=1e-6)


def test_changed_training_data_are_refused(tiny_dev_run: Path, tmp_path: Path) -> None:
    """The run's config.json points at a copy of its data with one question reworded: other dev data."""
    config = json.loads((tiny_dev_run / "config.json").read_text(encoding="utf-8"))
    data = tmp_path / "xquad-r"
    # a run records its data paths relative to its own folder
    shutil.copytree(tiny_dev_run / config["data"]["corpus"][0].removeprefix("lareqa:"), data)
    text = (data / "de.json").read_text(encoding="utf-8")
    (data / "de.json").write_text(text.replace("?", " ?", 1), encoding="utf-8")
    config["data"]["corpus"] = [f"lareqa:{data}"]
    config["data"]["dev_benchmark"] = f"lareqa:{data}"
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(config), encoding="utf-8")
    shutil.copy(tiny_dev_run / "data.json", run / "data.json")
    with pytest.raises(LangmixError, match="differ from those the run was trained on"):
        run_dev_evaluator(run)


def test_a_folder_without_a_run_or_without_a_dev_benchmark_is_refused(tiny_dev_run: Path, tmp_path: Path) -> None:
    with pytest.raises(LangmixError, match="is not a langmix train run folder"):
        run_dev_evaluator(tmp_path)
    config = json.loads((tiny_dev_run / "config.json").read_text(encoding="utf-8"))
    config["data"]["dev_benchmark"] = None
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(LangmixError, match="has no dev benchmark"):
        run_dev_evaluator(tmp_path)
