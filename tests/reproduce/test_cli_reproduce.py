"""``langmix reproduce``: help, and a micro end-to-end run (tiny random model, tiny data) that resumes."""

from __future__ import annotations

import pytest
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
    # the alpha the hybrid sampler ran with, as training recorded it (no second load of the corpus)
    recorded = read_json(out / "cells/xquad-to-mlqa/hybrid/seed0/train/metrics.json")["alpha"]
    assert hybrid["effective_alpha"] == 0.5 == recorded
    assert results["cells"]["xquad-to-mlqa/x-y/seed0"]["effective_alpha"] is None
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


@pytest.mark.parametrize("lam, rule, same_as", [(1.0, "best", "x-y"), (0.0, "best", "zero-shot"), (1.0, "goal", "x-y")])
def test_a_wise_ft_row_is_the_trained_or_the_starting_model_at_the_ends(tiny_data, tiny_model_path, tmp_path,
                                                                         lam, rule, same_as):
    """lambda 1 is the trained model and lambda 0 the starting one, bit for bit, so the derived row scores
    exactly as that row; the lambda's dev mAP is recorded (the goal rule scores 0 and 1 as its references), and
    the best-of-three check tests the new row."""
    out = tmp_path / "run"
    config = tmp_path / "wise.yaml"
    config.write_text(f"wise_ft_rows: [x-y]\nwise_ft_lambdas: [{lam}]\nwise_ft_rule: {rule}\n"
                      "train: {data: {dev_benchmark: train}}\n", encoding="utf-8")
    args = ["reproduce", "--quick", "--model", str(tiny_model_path), "--out", str(out), "--config", str(config),
            "--strategies", "zero-shot,x-y", "--alphas", "none", "--steps", "2", "--test-questions", "6",
            "--train-set", "batch_size=3", "--train-set", "data.dev_fraction=0.5", "--train-set", "eval_every=1"]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    results = read_json(out / "results.json")
    wise = results["cells"]["xquad-to-mlqa/x-y/seed0"]["derived"]["wise-ft"]
    assert wise["lambda"] == lam and wise["rule"] == rule
    assert [row["lambda"] for row in wise["dev"]] == ([0.0, 1.0] if rule == "goal" else [lam])
    assert {"xquad-r/mono/map", "xquad-r/cross/map", "xquad-r/multi/map"} <= set(wise["dev"][0])
    assert wise["metrics"] == results["cells"][f"xquad-to-mlqa/{same_as}/seed0"]["metrics"]
    assert (out / "cells/xquad-to-mlqa/x-y/seed0/eval-wise-ft/per_query.json.gz").is_file()
    tested = {r["row"] for r in results["significance"]["best_of_three"]["xquad-to-mlqa"]}
    assert tested == {"x-y", "x-y + wise-ft"}  # x-y against zero-shot on mono
    assert "| x-y + wise-ft |" in (out / "report.md").read_text(encoding="utf-8")


def test_a_center_row_rescores_the_cell_with_mono_and_cross_unchanged(tiny_data, tiny_model_path, tmp_path):
    """``debias: [center]`` re-scores a debias row's embeddings into eval-center-1/, a row of its own."""
    out, config = tmp_path / "run", tmp_path / "center.yaml"
    config.write_text("debias: [center]\ndebias_rows: [zero-shot]\n", encoding="utf-8")
    done = CliRunner().invoke(app, ["reproduce", "--quick", "--model", str(tiny_model_path), "--out", str(out),
                                    "--config", str(config), "--strategies", "zero-shot", "--alphas", "none",
                                    "--test-questions", "6"])
    assert done.exit_code == 0, done.output
    cell = read_json(out / "results.json")["cells"]["xquad-to-mlqa/zero-shot/seed0"]
    centred = cell["debiased"]["center:1"]["metrics"]
    for key in ("mlqa-r/mono/map", "mlqa-r/cross/map"):
        assert centred[key] == cell["metrics"][key]
    assert centred["mlqa-r/multi/map"] != cell["metrics"]["mlqa-r/multi/map"]
    assert (out / "cells/xquad-to-mlqa/zero-shot/seed0/eval-center-1/per_query.json.gz").is_file()
    assert "| mlqa-r (xquad-to-mlqa) | zero-shot + center:1 | 1 |" in (out / "report.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("yaml_text, words", [
    ("wise_ft_rows: [zero-shot]\n", "wise_ft_rows names zero-shot, which trains no model to interpolate"),
    ("wise_ft_rows: [x-y]\nwise_ft_lambdas: []\n", "wise_ft_lambdas is empty"),
    ("wise_ft_rows: [x-y]\nwise_ft_lambdas: [1.5]\n", "wise_ft_lambdas.0=1.5"),
    ("wise_ft_rows: [x-y]\n", "wise_ft_rows needs dev questions to pick lambda on"),  # --quick has no dev set
])
def test_wise_ft_settings_that_cannot_work_are_refused(tmp_path, cli, yaml_text, words):
    config = tmp_path / "wise.yaml"
    config.write_text(yaml_text, encoding="utf-8")
    done = cli("reproduce", "--quick", "--config", str(config), "--out", str(tmp_path / "run"))
    assert words in done.error_line()


@pytest.mark.parametrize("yaml_text, words", [
    ('seeds: "abc"\n', "seeds='abc': Input should be a valid list"),
    ("seeds: [0, abc]\n", "seeds.1='abc': Input should be a valid integer"),
    ("test_questions: -1\n", "test_questions=-1: Input should be greater than 0"),
    ("test_questions: 0\n", "test_questions=0: Input should be greater than 0"),
    ("candidates: para\n", "candidates='para'"),
    ("alphas: [0.5, 2]\n", "alphas.1=2: Input should be less than or equal to 1"),
    ("n_resamples: 0\n", "n_resamples=0"),
    ("sources: {lareqa: -1}\n", "sources.lareqa=-1"),
], ids=["seeds_string", "seed_not_int", "test_questions_-1", "test_questions_0", "candidates", "alpha",
        "n_resamples", "source_weight"])
def test_bad_config_values_fail_before_any_cell(tmp_path, cli, yaml_text, words):
    config = tmp_path / "grid.yaml"
    config.write_text(yaml_text, encoding="utf-8")
    line = cli("reproduce", "--quick", "--config", config, "--out", tmp_path / "run").error_line()
    assert words in line and "fix it in --config" in line
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("args, words", [
    (["--seeds", "0,abc"], "--seeds '0,abc' is not a comma list of integers"),
    (["--alphas", "0.5,half"], "--alphas '0.5,half' is not a comma list of numbers"),
    (["--test-questions", "0"], "Invalid value for '--test-questions'"),
    (["--test-questions", "-1"], "Invalid value for '--test-questions'"),
    (["--steps", "0"], "Invalid value for '--steps'"),
], ids=["seeds", "alphas", "test_questions_0", "test_questions_-1", "steps_0"])
def test_bad_command_line_values_are_one_line(tmp_path, cli, args, words):
    line = cli("reproduce", "--quick", "--out", tmp_path / "run", *args).error_line()
    assert words in line
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("layout, extra, words", [
    ("file_at_out", [], "is a file, not a folder"),
    ("file_at_out", ["--report-only"], "is a file, not a folder"),
    ("file_as_parent", [], "cannot be created"),
], ids=["file", "file_report_only", "file_as_parent"])
def test_an_out_that_cannot_be_a_folder_is_one_line(tmp_path, cli, layout, extra, words):
    (tmp_path / "x").write_text("a file")
    out = tmp_path / "x" / "run" if layout == "file_as_parent" else tmp_path / "x"
    line = cli("reproduce", "--quick", "--out", out, *extra).error_line()
    assert f"--out {out} {words}" in line
    assert (tmp_path / "x").read_text() == "a file"
