"""``langmix reproduce --combine``: cells of one grid run in parallel folders, copied into one run folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from langmix.cli import app
from langmix.errors import LangmixError
from langmix.io import read_json
from langmix.reproduce import combine_runs


def _part(tiny_model_path: Path, out: Path, strategies: str, *extra: str) -> dict:
    args = ["reproduce", "--quick", "--model", str(tiny_model_path), "--out", str(out), "--strategies", strategies,
            "--alphas", "none", "--steps", "2", "--test-questions", "6", "--train-set", "batch_size=3", *extra]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    return read_json(out / "results.json")


def test_parts_run_apart_combine_into_one_run_with_their_cells_and_report(tiny_data, tiny_model_path, tmp_path):
    zero = _part(tiny_model_path, tmp_path / "a", "zero-shot")
    xy = _part(tiny_model_path, tmp_path / "b", "x-y")
    dest = tmp_path / "all"
    done = CliRunner().invoke(app, ["reproduce", "--out", str(dest), "--combine", str(tmp_path / "a"),
                                    "--combine", str(tmp_path / "b")])
    assert done.exit_code == 0, done.output
    assert "copied 2 cells into" in done.output
    combined = read_json(dest / "results.json")
    assert combined["fingerprint"] == zero["fingerprint"] == xy["fingerprint"]
    assert set(combined["cells"]) == {"xquad-to-mlqa/zero-shot/seed0", "xquad-to-mlqa/x-y/seed0"}
    for part in (zero, xy):
        for cell_id, record in part["cells"].items():
            assert combined["cells"][cell_id]["metrics"] == record["metrics"]
            assert (dest / "cells" / cell_id / "eval" / "per_query.json.gz").is_file()
    assert combined["grid"] == [*zero["grid"], *xy["grid"]]
    assert len(combined["invocations"]) == 2
    assert (dest / "data" / "xquad-to-mlqa" / "data.json").is_file()
    report = (dest / "report.md").read_text(encoding="utf-8")
    assert "| mlqa-r (xquad-to-mlqa) | x-y | 1 |" in report
    assert "| mlqa-r (xquad-to-mlqa) | zero-shot | 1 |" in report

    stamp = (dest / "cells/xquad-to-mlqa/x-y/seed0/eval/results.json").stat().st_mtime_ns
    assert combine_runs(dest, [tmp_path / "b"]) == {"copied": [], "skipped": ["xquad-to-mlqa/x-y/seed0"]}
    assert (dest / "cells/xquad-to-mlqa/x-y/seed0/eval/results.json").stat().st_mtime_ns == stamp  # kept

    _part(tiny_model_path, tmp_path / "other", "zero-shot", "--train-set", "lr=1e-3")
    with pytest.raises(LangmixError, match="is a run of other settings than .* combine only parts run with the same"):
        combine_runs(dest, [tmp_path / "other"])
    with pytest.raises(LangmixError, match="holds no langmix reproduce run .*give the --out folder"):
        combine_runs(dest, [tmp_path / "nothing"])
