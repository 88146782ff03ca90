"""``langmix evaluate`` / ``langmix compare`` end to end with the keyword mock model."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

import langmix.model
from langmix.cli import app
from langmix.evaluation.report import markdown_report  # noqa: F401  (import check of the report module)

runner = CliRunner()


@pytest.fixture
def mock_model(monkeypatch, keyword_model, tmp_path):
    monkeypatch.setattr(langmix.model, "load_model", lambda name: keyword_model)
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
