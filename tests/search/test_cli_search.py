from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from langmix.cli import app
from langmix.errors import LangmixError

runner = CliRunner()


@pytest.mark.parametrize("command", ["index", "search", "serve"])
def test_help(command: str) -> None:
    assert runner.invoke(app, ["--help"]).output.count(f" {command} ") >= 1
    assert runner.invoke(app, [command, "--help"]).exit_code == 0


def test_index_then_search(collection: Path, tiny_model_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "idx"
    built = runner.invoke(app, ["index", str(collection), "--model", str(tiny_model_path), "--out", str(out)])
    assert built.exit_code == 0, built.output
    assert f"indexed 31 passages (en 6, ar 5, de 5, es 5, hi 5, zh 5) with {tiny_model_path.resolve()}" in built.output
    found = runner.invoke(app, ["search", str(out), "Wo liegt Berlin?", "-k", "4"])
    assert found.exit_code == 0, found.output
    lines = found.stdout.strip().splitlines()
    assert len(lines) == 5
    rank, score, lang, pid = lines[0].split()[:4]
    assert (rank, lang) == ("1", pid.rsplit("-", 1)[1]) and 0 < float(score) <= 1
    assert lines[-1].startswith("top-4: ")
    assert sum(int(part.split()[1]) for part in lines[-1].removeprefix("top-4: ").split(", ")) == 4


def test_search_json(tiny_index: Path) -> None:
    found = runner.invoke(app, ["search", str(tiny_index), "Kaffee", "-k", "3", "--json"])
    data = json.loads(found.stdout)
    assert (data["query"], data["k"], data["index"]) == ("Kaffee", 3, "random-init")
    assert [h["rank"] for h in data["hits"]] == [1, 2, 3]
    assert set(data["hits"][0]) == {"rank", "score", "id", "lang", "title", "text"}
    assert sum(s["count"] for s in data["shares"]) == 3


def test_snippet_is_one_cut_line() -> None:
    from langmix.cli.search import snippet

    assert snippet("T", "a\n b  c") == "T | a b c"
    assert snippet("", "x" * 300, limit=10) == "x" * 9 + "…"


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-c", "from langmix.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=300, env=env)


def _half_built(tmp_path: Path) -> str:
    (tmp_path / ".idx.partial").mkdir()
    return str(tmp_path / "idx")


def _no_text(tmp_path: Path) -> str:
    (tmp_path / "c.jsonl").write_text('{"id": "1", "text": "ok"}\n{"id": "2", "txt": "typo"}\n')
    return str(tmp_path / "c.jsonl")


@pytest.mark.parametrize("make_args,message", [
    (lambda tmp, idx: ["search", idx, "   "], "the query is empty; type a question"),
    (lambda tmp, idx: ["search", _half_built(tmp), "q"], "is half-built (its build was interrupted); rerun"),
    (lambda tmp, idx: ["index", _no_text(tmp), "--out", str(tmp / "o")], "c.jsonl:2 has no text"),
])
def test_cli_errors_are_one_line(tiny_index: Path, tmp_path: Path, make_args, message: str) -> None:
    result = _run_cli(*make_args(tmp_path, str(tiny_index)))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("langmix: error:")]
    assert len(errors) == 1 and message in errors[0]


def _error_line(*args: str) -> str:
    result = _run_cli(*args)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("langmix: error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def test_a_damaged_index_is_one_line(tiny_index: Path, damaged_copy) -> None:
    line = _error_line("search", str(damaged_copy(tiny_index, "passages.jsonl")), "q")
    assert "idx is damaged (passages.jsonl changed since the build); rebuild it with 'langmix index" in line


def test_a_source_file_is_no_index(collection: Path) -> None:
    line = _error_line("search", str(collection), "q")
    assert f"{collection} is a file, not an index folder; build an index from it with 'langmix index" in line
    assert f"--out {collection} " not in line  # not an index over its own source file


def test_a_failed_build_leaves_nothing_half_built(collection: Path, tmp_path: Path) -> None:
    out = tmp_path / "idx"
    line = _error_line("index", str(collection), "--out", str(out), "--batch-size", "0")
    assert "Invalid value for '--batch-size'" in line
    assert list(tmp_path.iterdir()) == []
    assert "idx not found; build it with 'langmix index" in _error_line("search", str(out), "q")


def test_a_port_out_of_range_is_one_line(tiny_index: Path) -> None:
    line = _error_line("serve", str(tiny_index), "--port", "70000")
    assert "Invalid value for '--port'" in line and "65535" in line


@pytest.mark.parametrize("make_args,message", [
    (lambda tmp, idx, m: ["search", idx, "x" * 1001], "the query has 1001 characters"),
    (lambda tmp, idx, m: ["search", idx, "q", "-k", "0"], "k = 0 is out of range"),
    (lambda tmp, idx, m: ["search", str(tmp / "none"), "q"], "not found; build it with 'langmix index"),
    (lambda tmp, idx, m: ["search", idx, "q", "--model", m], "was built with model"),
    (lambda tmp, idx, m: ["index", "no-such.jsonl", "--out", str(tmp / "o")], "source no-such.jsonl not found"),
    (lambda tmp, idx, m: ["serve", idx, idx, idx], "got 3 index folders"),
])
def test_cli_bad_input(tiny_index: Path, embedded_model_path: Path, tmp_path: Path, make_args, message: str) -> None:
    result = runner.invoke(app, make_args(tmp_path, str(tiny_index), str(embedded_model_path)))
    assert isinstance(result.exception, LangmixError), result.output
    assert message in str(result.exception)


def test_serve_refuses_a_busy_port_before_loading(tiny_index: Path) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = runner.invoke(app, ["serve", str(tiny_index), "--port", str(port)])
    assert isinstance(result.exception, LangmixError)
    assert f"cannot listen on 127.0.0.1:{port}" in str(result.exception)


def test_serve_refuses_two_folders_of_one_name(tiny_index: Path, tmp_path: Path) -> None:
    twin = tmp_path / tiny_index.name
    twin.mkdir()
    result = runner.invoke(app, ["serve", str(tiny_index), str(twin)])
    assert "share the folder name 'random-init'" in str(result.exception)
