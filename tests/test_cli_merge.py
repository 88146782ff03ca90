"""``langmix merge``: WiSE-FT and soups from the command line, lambda picked on a run's dev questions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from langmix.model.load import load_model
from langmix.model.merge import merge_models


def _same_bits(model, reference) -> bool:
    mine, theirs = model.state_dict(), reference.state_dict()
    return mine.keys() == theirs.keys() and all(
        torch.equal(mine[k].view(torch.int32), theirs[k].view(torch.int32)) for k in mine)


def test_help_says_what_merge_is_for(cli) -> None:
    assert " merge " in cli("--help").out
    shown = cli("merge", "--help")
    text = " ".join(shown.out.replace("\u2502", " ").split())  # rich's box edges cut wrapped lines
    assert shown.code == 0
    assert "WiSE-FT" in text and "model soup" in text and "default: uniform" in text


def test_merge_writes_the_weighted_average_with_its_record(cli, tiny_model_path: Path, build_tiny, tmp_path) -> None:
    other = build_tiny(seed=1)
    run = cli("merge", tiny_model_path, other, "--weights", "0.25,0.75", "--out", tmp_path / "soup")
    assert run.code == 0, run.err
    saved = load_model(tmp_path / "soup", device="cpu")
    assert _same_bits(saved, merge_models([tiny_model_path, other], [0.25, 0.75]))
    record = json.loads((tmp_path / "soup" / "merge.json").read_text(encoding="utf-8"))
    assert record["inputs"] == [{"model": str(tiny_model_path.resolve()), "weight": 0.25},
                                {"model": str(other.resolve()), "weight": 0.75}]


def test_the_default_model_is_an_input_and_another_architecture_is_refused(cli, tiny_model_path, tmp_path) -> None:
    line = cli("merge", "multilingual-e5-small", tiny_model_path, "--out", tmp_path / "m").error_line()
    assert f"{tiny_model_path.resolve()} differs from multilingual-e5-small in vocab_size (250002 vs 250037)" in line
    assert not (tmp_path / "m").exists()


def test_lambda_is_picked_on_the_runs_dev_questions(cli, tiny_dev_run: Path, tiny_model_path: Path, tmp_path) -> None:
    tuned = tiny_dev_run / "best-model"
    run = cli("merge", tiny_model_path, tuned, "--lambdas", "0,1", "--dev-run", tiny_dev_run, "--out", tmp_path / "w")
    assert run.code == 0, run.err
    header, *rows = [line.split("\t") for line in run.out.splitlines()]
    assert header == ["lambda", "xquad-r/multi/map"] and [r[0] for r in rows] == ["0", "1"]
    best_of_run = json.loads((tiny_dev_run / "metrics.json").read_text(encoding="utf-8"))["best"]
    assert float(rows[1][1]) == pytest.approx(best_of_run["xquad-r/multi/map"], abs=5e-5)  # lambda 1: the run's model
    record = json.loads((tmp_path / "w" / "merge.json").read_text(encoding="utf-8"))["dev_selection"]
    chosen = max(record["scores"], key=lambda row: row["xquad-r/multi/map"])["lambda"]
    assert record["lambda"] == chosen and record["metric"] == "xquad-r/multi/map"
    winner = tuned if chosen == 1 else tiny_model_path
    assert _same_bits(load_model(tmp_path / "w", device="cpu"), load_model(winner, device="cpu"))


@pytest.mark.parametrize("args,message", [
    (["A", "B", "C", "--lambdas", "0,1", "--dev-run", "R"], "--lambdas takes two models"),
    (["A", "B", "--dev-run", "R"], "--dev-run and --dev-metric only pick a lambda"),
    (["A", "B", "--lambdas", "0.5,2", "--dev-run", "R"], "lambda 2 is outside [0, 1]"),
    (["A", "B", "--weights", "0.5,x"], "--weights '0.5,x' is not a comma list of numbers"),
    (["A", "B", "--weights", "0.5,0.6"], "weights 0.5,0.6 sum to 1.1, not 1"),
])
def test_bad_options_are_one_line_errors_before_any_model_loads(cli, tmp_path, args: list[str], message: str) -> None:
    assert message in cli("merge", *args, "--out", tmp_path / "m").error_line()


def test_an_out_folder_with_files_is_never_replaced(cli, tmp_path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "model.safetensors").write_text("a model", encoding="utf-8")
    assert "already holds files; pick a new folder" in cli("merge", "A", "B", "--out", tmp_path / "m").error_line()
    assert (tmp_path / "m" / "model.safetensors").read_text(encoding="utf-8") == "a model"
