from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from langmix.cli import app

runner = CliRunner()


def test_every_subcommand_has_help() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("encode", "data", "model"):
        assert command in result.output
        assert runner.invoke(app, [command, "--help"]).exit_code == 0


@pytest.mark.parametrize("suffix,content,extra", [
    (".jsonl", '{"text": "ein Satz"}\n{"text": "一句话"}\n', []),
    (".tsv", "id1\tein Satz\nid2\t一句话\n", ["--column", "1"]),
    (".txt", "ein Satz\n\n一句话\n", []),
])
def test_encode_reads_formats(tiny_model_path: Path, tmp_path: Path, suffix: str, content: str,
                              extra: list[str]) -> None:
    src = tmp_path / f"in{suffix}"
    src.write_text(content, encoding="utf-8")
    out = tmp_path / "emb.npy"
    result = runner.invoke(app, ["encode", str(src), "-o", str(out), "--model", str(tiny_model_path), *extra])
    assert result.exit_code == 0, result.output
    emb = np.load(out)
    assert emb.shape == (2, 32)
    from langmix.model.load import encode, load_model

    np.testing.assert_allclose(emb, encode(load_model(tiny_model_path), ["ein Satz", "一句话"], "passage"), atol=1e-5)


def _run_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from langmix.cli import main; main()", *args], input=stdin,
                          capture_output=True, text=True, timeout=120, env={"HF_HUB_OFFLINE": "1", "PATH": ""})


@pytest.mark.parametrize("args,stdin,message", [
    (["encode", "/no/such/file.jsonl", "-o", "x.npy"], "", "input file /no/such/file.jsonl not found"),
    (["encode", "-", "-o", "x.npy"], "", "no texts in stdin"),
    (["encode", "-", "-o", "x.npy", "--kind", "doc"], "x\n", "unknown prompt kind 'doc'"),
    (["encode", "-", "-o", "x.npy", "--model", "nobody/nothing"], "x\n", "not found locally"),
])
def test_cli_errors_are_one_line_exit_2(args: list[str], stdin: str, message: str) -> None:
    result = _run_cli(*args, stdin=stdin)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.startswith("langmix: error")]) == 1


def test_jsonl_without_field_is_reported(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"body": "x"}) + "\n")
    result = runner.invoke(app, ["encode", str(src), "-o", str(tmp_path / "e.npy"), "--model", "unused"])
    assert "no field 'text'" in str(result.exception)


@pytest.mark.parametrize("value, kind", [(None, "NoneType"), (5, "int"), (["a"], "list")])
def test_jsonl_field_that_is_not_text_is_reported(tmp_path: Path, cli, value, kind: str) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"text": "fine"}) + "\n" + json.dumps({"text": value}) + "\n")
    line = cli("encode", src, "-o", tmp_path / "e.npy", "--model", "unused").error_line()
    assert f"in.jsonl:2: field 'text' holds {kind}, not text" in line


@pytest.mark.parametrize("name, content, extra, message", [
    ("in.jsonl", '{"text": "a"}\n\n\n{"body": "b"}\n', [], "in.jsonl:4 has no field 'text'"),  # said line 2
    ("in.jsonl", '{"text": "a"}\n\nnot json\n', [], "in.jsonl:3 is not JSON"),
    ("in.tsv", "1\ta\n\n2\n", ["--column", "1"], "in.tsv:3 has 1 tab-separated column(s), no column 1"),
])
def test_encode_names_the_file_line_of_a_bad_input_line(tmp_path: Path, cli, name: str, content: str,
                                                        extra: list[str], message: str) -> None:
    src = tmp_path / name
    src.write_text(content, encoding="utf-8")
    assert message in cli("encode", src, "-o", tmp_path / "e.npy", "--model", "unused", *extra).error_line()
