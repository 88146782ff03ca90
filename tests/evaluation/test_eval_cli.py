"""``langmix evaluate`` / ``langmix compare`` end to end with the keyword mock model."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

import langmix.model.load
from langmix.cli import app
from langmix.evaluation.report import markdown_report  # noqa: F401  (import check of the report module)

runner = CliRunner()


@pytest.fixture
def mock_model(monkeypatch, keyword_model, tmp_path):
    monkeypatch.setattr(langmix.model.load, "load_model", lambda name: keyword_model)
    monkeypatch.setenv("LANGMIX_HOME", str(tmp_path / "home"))
    return keyword_model


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=True)


def test_evaluate_lareqa_writes_complete_run_and_reuses_cache(mock_model, lareqa_tiny, tmp_path):
    out = tmp_path / "run"
    result = run(
        "evaluate",
        "--model",
        "mock",
        "--benchmark",
        f"lareqa:{lareqa_tiny}",
        "--out",
        str(out),
        "--save-embeddings",
        "--candidates",
        "sentence",
    )
    assert result.exit_code == 0, result.output
    for name in (
        "results.json",
        "per_query.json",
        "report.md",
        "pair_map.png",
        "rank_distance.png",
        "embeddings/queries.npy",
        "embeddings/candidates.jsonl",
    ):
        assert (out / name).is_file(), name
    record = json.loads((out / "results.json").read_text())
    assert record["candidate_mode"] == "sentence" and record["model"] == "mock" and "torch" in record["versions"]
    assert record["metrics"]["lareqa-tiny/multi/map"] == pytest.approx(1.0)
    assert "| lareqa-tiny | mock | sentence |" in (out / "report.md").read_text()
    assert np.load(out / "embeddings" / "queries.npy").shape[0] == 9
    calls = mock_model.calls
    again = run(
        "evaluate",
        "--model",
        "mock",
        "--benchmark",
        f"lareqa:{lareqa_tiny}",
        "--out",
        str(out),
        "--candidates",
        "sentence",
    )
    assert again.exit_code == 0 and mock_model.calls == calls  # every embedding came from the cache
    assert json.loads((out / "results.json").read_text())["embedding_cache"]["misses"] == 0


def test_evaluate_beir_and_miracl(mock_model, beir_tiny, miracl_tiny, tmp_path):
    for spec in (f"beir:{beir_tiny}", f"miracl:{miracl_tiny}"):
        out = tmp_path / spec.split(":")[0]
        result = run("evaluate", "--model", "mock", "--benchmark", spec, "--out", str(out))
        assert result.exit_code == 0, result.output
        assert "ndcg@10" in json.dumps(json.loads((out / "results.json").read_text())["metrics"])


def test_compare_runs(mock_model, lareqa_tiny, tmp_path):
    for mode in ("sentence", "context"):
        assert (
            run(
                "evaluate",
                "--model",
                "mock",
                "--benchmark",
                f"lareqa:{lareqa_tiny}",
                "--out",
                str(tmp_path / mode),
                "--candidates",
                mode,
            ).exit_code
            == 0
        )
    result = run(
        "compare",
        str(tmp_path / "sentence"),
        str(tmp_path / "context"),
        "--out",
        str(tmp_path / "cmp"),
        "--n-resamples",
        "200",
    )
    assert result.exit_code == 0, result.output
    assert "Fisher randomisation" in result.output and "lareqa-tiny/multi/map" in result.output
    record = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert all(0 <= c["p_value"] <= 1 for c in record["comparisons"])


def bad_lareqa(tmp_path, lareqa_tiny):
    """A copy of the tiny benchmark whose English question 'a' points past every sentence."""
    folder = tmp_path / "bad"
    shutil.copytree(lareqa_tiny, folder)
    doc = json.loads((folder / "en.json").read_text())
    doc["data"][0]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] = 999
    (folder / "en.json").write_text(json.dumps(doc))
    return folder


@pytest.mark.parametrize(
    "case, message",
    [
        ("unknown", "unknown benchmark"),
        ("language", "has no file"),
        ("answer", "no sentence holding its answer"),
        ("mode", "unknown candidate mode"),
    ],
)
def test_bad_input_is_one_line_error_without_files(mock_model, lareqa_tiny, tmp_path, case, message):
    from langmix.cli import main  # noqa: F401  (main turns LangmixError into one line, exit 2)
    from langmix.errors import LangmixError

    args = {
        "unknown": ["--benchmark", "squad"],
        "language": ["--benchmark", f"lareqa:{lareqa_tiny}", "--languages", "en,xx"],
        "answer": ["--benchmark", f"lareqa:{bad_lareqa(tmp_path, lareqa_tiny)}"],
        "mode": ["--benchmark", f"lareqa:{lareqa_tiny}", "--candidates", "para"],
    }[case]
    out = tmp_path / "out"
    result = run("evaluate", "--model", "mock", "--out", str(out), *args)
    assert isinstance(result.exception, LangmixError) and message in str(result.exception)
    assert "\n" not in str(result.exception)
    assert not out.exists()


def _evaluate(cli, lareqa_tiny, out, *extra):
    done = cli("evaluate", "--model", "mock", "--benchmark", f"lareqa:{lareqa_tiny}", "--out", out,
               "--candidates", "sentence", *extra)
    assert done.code == 0, done.err[-2000:]
    return out


def test_compare_refuses_runs_made_on_different_queries(mock_model, lareqa_tiny, tmp_path, cli):
    a = _evaluate(cli, lareqa_tiny, tmp_path / "a", "--limit-questions", "2")
    b = _evaluate(cli, lareqa_tiny, tmp_path / "b", "--limit-questions", "3")
    line = cli("compare", a, b, "--n-resamples", "100").error_line()
    assert "were scored on different queries" in line and "--limit-questions" in line


def test_compare_refuses_a_run_whose_evaluation_did_not_finish(mock_model, lareqa_tiny, tmp_path, cli, monkeypatch):
    """A run that dies while writing (here: at report.md) over a finished one leaves no results.json."""
    import langmix.evaluation.report as report

    a = _evaluate(cli, lareqa_tiny, tmp_path / "a")
    b = _evaluate(cli, lareqa_tiny, tmp_path / "b", "--limit-questions", "3")

    def dies(path, text):
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "write_text", dies)
    assert cli("evaluate", "--model", "mock", "--benchmark", f"lareqa:{lareqa_tiny}", "--out", b,
               "--candidates", "sentence").code == 130
    assert (b / "per_query.json").is_file() and not (b / "results.json").exists()
    line = cli("compare", a, b).error_line()
    assert "no results.json: its evaluation did not finish" in line


@pytest.mark.parametrize("args, option", [
    (["evaluate", "--benchmark", "xquad-r", "--out", "o", "--limit-questions", "0"], "--limit-questions"),
    (["evaluate", "--benchmark", "xquad-r", "--out", "o", "--limit-questions", "-1"], "--limit-questions"),
    (["evaluate", "--benchmark", "xquad-r", "--out", "o", "--batch-size", "0"], "--batch-size"),
    (["compare", "a", "b", "--n-resamples", "0"], "--n-resamples"),
    (["encode", "-", "-o", "e.npy", "--batch-size", "0"], "--batch-size"),
], ids=["limit_0", "limit_-1", "eval_batch_0", "resamples_0", "encode_batch_0"])
def test_numbers_out_of_bounds_are_one_line(cli, mock_model, tmp_path, monkeypatch, args, option):
    monkeypatch.chdir(tmp_path)  # the relative paths above
    line = cli(*args).error_line()
    assert f"Invalid value for '{option}'" in line and "greater than or equal to 1" in line
    assert f"see 'langmix {args[0]} --help'" in line and mock_model.calls == 0


def test_limit_questions_0_keeps_nothing_in_the_api(mock_model, lareqa_tiny, tmp_path):
    from langmix.errors import LangmixError
    from langmix.evaluation.runner import run_evaluation

    with pytest.raises(LangmixError, match="keeps nothing"):
        run_evaluation("mock", f"lareqa:{lareqa_tiny}", tmp_path / "run", limit_questions=0)


def test_languages_as_one_string(mock_model, lareqa_tiny, tmp_path):
    from langmix.evaluation.runner import run_evaluation

    result = run_evaluation("mock", f"lareqa:{lareqa_tiny}", tmp_path / "run", "sentence", languages="en")
    assert result.langs == ["en"]


def test_a_beir_run_replaces_a_lareqa_run_in_the_same_folder(mock_model, lareqa_tiny, beir_tiny, tmp_path, cli):
    out = _evaluate(cli, lareqa_tiny, tmp_path / "run", "--save-embeddings")
    assert (out / "pair_map.png").is_file() and (out / "embeddings").is_dir()
    assert cli("evaluate", "--model", "mock", "--benchmark", f"beir:{beir_tiny}", "--out", out).code == 0
    assert sorted(p.name for p in out.iterdir()) == ["per_query.json", "report.md", "results.json"]
    assert "beir-tiny/ndcg@10" in json.loads((out / "per_query.json").read_text())


@pytest.mark.parametrize("command, layout, words", [
    ("encode", "folder_at_out", "is a folder"),
    ("encode", "file_as_parent", "cannot be created"),
    ("evaluate", "file_at_out", "is a file, not a folder"),
    ("evaluate", "file_as_parent", "cannot be created"),
    ("compare", "file_at_out", "is a file, not a folder"),
])
def test_the_output_location_is_checked_before_the_work(mock_model, lareqa_tiny, tmp_path, cli, monkeypatch,
                                                         command, layout, words):
    monkeypatch.setattr(langmix.model.load, "load_model", lambda name: pytest.fail("the work started"))
    out = tmp_path / "x" / "y" if layout == "file_as_parent" else tmp_path / "x"
    if layout == "folder_at_out":
        out.mkdir()
    else:
        (tmp_path / "x").write_text("a file")
    args = {
        "encode": ["encode", "-", "-o", out],
        "evaluate": ["evaluate", "--model", "mock", "--benchmark", f"lareqa:{lareqa_tiny}", "--out", out],
        "compare": ["compare", tmp_path / "a", tmp_path / "b", "--out", out],
    }[command]
    line = cli(*args, stdin="ein Satz\n").error_line()
    assert words in line and "free disk space" not in line


def test_evaluate_debias_lir_records_and_changes_the_scores(mock_model, lareqa_tiny, tmp_path, cli):
    plain = _evaluate(cli, lareqa_tiny, tmp_path / "plain")
    debiased = _evaluate(cli, lareqa_tiny, tmp_path / "lir", "--debias", "lir:0")
    record = json.loads((debiased / "results.json").read_text())
    assert record["debias"] == "lir:0"
    assert json.loads((plain / "results.json").read_text())["debias"] is None
    assert json.loads((plain / "per_query.json").read_text()) != json.loads((debiased / "per_query.json").read_text())


def test_evaluate_debias_center_keeps_mono_and_cross_and_records_the_method(mock_model, lareqa_tiny, tmp_path, cli):
    plain = json.loads((_evaluate(cli, lareqa_tiny, tmp_path / "plain") / "per_query.json").read_text())
    centred = _evaluate(cli, lareqa_tiny, tmp_path / "center", "--debias", "center:0.5")
    assert json.loads((centred / "results.json").read_text())["debias"] == "center:0.5"
    moved = json.loads((centred / "per_query.json").read_text())
    assert {k: v for k, v in moved.items() if "/mono/" in k or "/cross/" in k} == \
        {k: v for k, v in plain.items() if "/mono/" in k or "/cross/" in k}
    assert moved != plain


@pytest.mark.parametrize("args, words", [
    (("--debias", "pca"), "unknown debias method"),
    (("--debias", "lir:-2"), "K < 0"),
    (("--debias", "center:-1"), "S < 0"),
    (("--precision", "fp8"), "unknown precision"),
    (("--precision", "bf16"), "no native bf16"),
])
def test_evaluate_bad_debias_or_precision_is_one_line(mock_model, lareqa_tiny, tmp_path, cli, args, words,
                                                       pretend_cpu_bf16):
    pretend_cpu_bf16(None)
    run = cli("evaluate", "--model", "mock", "--benchmark", f"lareqa:{lareqa_tiny}", "--out", tmp_path / "r", *args)
    assert run.code == 2 and words in run.err and "Traceback" not in run.err


def test_debias_needs_a_lareqa_benchmark(mock_model, beir_tiny, tmp_path, cli):
    run = cli("evaluate", "--model", "mock", "--benchmark", f"beir:{beir_tiny}", "--out", tmp_path / "r",
              "--debias", "lir")
    assert run.code == 2 and "needs a LAReQA benchmark" in run.err


@pytest.mark.parametrize("damage, words", [
    (lambda s, m, u: [1, 2], lambda m, u: "it holds an array, not an object of metric -> {unit id: score}"),
    (lambda s, m, u: s | {m: list(s[m].values())}, lambda m, u: f"{m} holds an array, not an object of unit id"),
    (lambda s, m, u: s | {m: s[m] | {u: "high"}},
     lambda m, u: f"the {m} score of unit '{u}' is \"high\", not a number"),
], ids=["top_level_array", "metric_as_array", "score_as_string"])
def test_compare_names_a_malformed_per_query_file(mock_model, lareqa_tiny, tmp_path, cli, damage, words):
    """A damaged per_query.json is named as malformed, not taken for a run on different queries."""
    a = _evaluate(cli, lareqa_tiny, tmp_path / "a")
    b = _evaluate(cli, lareqa_tiny, tmp_path / "b")
    scores = json.loads((b / "per_query.json").read_text())
    metric = next(iter(scores))
    unit = next(iter(scores[metric]))
    (b / "per_query.json").write_text(json.dumps(damage(scores, metric, unit)))
    line = cli("compare", a, b, "--n-resamples", "100").error_line()
    assert f"{b / 'per_query.json'} is malformed: {words(metric, unit)}" in line
    assert line.endswith("run 'langmix evaluate' into its folder again to rewrite it")
