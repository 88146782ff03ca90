"""``langmix reproduce``: help, and a micro end-to-end run (tiny random model, tiny data) that resumes."""

from __future__ import annotations

from typer.testing import CliRunner

from langmix.cli import app
from langmix.io import read_json


def test_help_lists_modes_and_grid_options():
    result = CliRunner().invoke(app, ["reproduce", "--help"])
    assert result.exit_code == 0
    for option in ("--quick", "--out", "--model", "--strategies", "--seeds", "--alphas", "--steps"):
        assert option in result.output


def test_unknown_strategy_is_a_one_line_error(tmp_path):
    from langmix.cli import main  # noqa: F401  (main turns LangmixError into one line; invoke raises it)
    from langmix.errors import LangmixError

    result = CliRunner().invoke(app, ["reproduce", "--quick", "--out", str(tmp_path), "--strategies", "x-z"])
    assert isinstance(result.exception, LangmixError)
    assert not (tmp_path / "results.json").exists()


def test_micro_end_to_end_then_resume(tiny_data, tiny_model_path, tmp_path):
    out = tmp_path / "run"
    args = [
        "reproduce",
        "--quick",
        "--model",
        str(tiny_model_path),
        "--out",
        str(out),
        "--strategies",
        "zero-shot,x-y,hybrid",
        "--alphas",
        "none",
        "--steps",
        "2",
        "--test-questions",
        "6",
        "--train-set",
        "batch_size=3",
        "--train-set",
        "data.dev_fraction=0.5",
        "--train-set",
        "eval_every=1",
    ]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    results = read_json(out / "results.json")
    assert sorted(results["cells"]) == [f"xquad-to-mlqa/{r}/seed0" for r in ("hybrid", "x-y", "zero-shot")]
    hybrid = results["cells"]["xquad-to-mlqa/hybrid/seed0"]
    assert hybrid["train"]["steps"] == 2 and hybrid["wall_seconds"] > 0
    assert 0.0 <= hybrid["metrics"]["mlqa-r/multi/map"] <= 1.0
    assert not (out / "cells/xquad-to-mlqa/hybrid/seed0/train/best-model").exists()  # weights not kept
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "| mlqa-r (xquad-to-mlqa) | hybrid | 1 |" in report
    assert (out / "heatmap-xquad-to-mlqa.png").is_file()

    stamps = {cid: cell["started"] for cid, cell in results["cells"].items()}
    second = CliRunner().invoke(app, args)
    assert second.exit_code == 0, second.output
    again = read_json(out / "results.json")
    assert {cid: cell["started"] for cid, cell in again["cells"].items()} == stamps  # nothing reran
