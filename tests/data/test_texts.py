"""``langmix.data.texts.read_texts``: the input reader of ``langmix encode`` goes through ``text_lines``."""

from __future__ import annotations

import gzip

import pytest

from langmix.data.texts import read_texts
from langmix.errors import LangmixError


def test_gzipped_and_plain_jsonl_give_the_same_texts_and_blank_lines_are_skipped(tmp_path):
    body = '{"text": "ein Satz"}\n\n{"text": "一句话"}\n'
    (tmp_path / "t.jsonl").write_text(body, encoding="utf-8")
    with gzip.open(tmp_path / "t.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write(body)
    assert read_texts(str(tmp_path / "t.jsonl")) == read_texts(str(tmp_path / "t.jsonl.gz")) == ["ein Satz", "一句话"]


def test_a_tsv_column_and_errors_that_name_file_and_line(tmp_path):
    (tmp_path / "t.tsv").write_text("1\tone\n2\ttwo\n", encoding="utf-8")
    assert read_texts(str(tmp_path / "t.tsv"), column=1) == ["one", "two"]
    with pytest.raises(LangmixError, match=r"t.tsv:1 has 2 tab-separated column\(s\), no column 2"):
        read_texts(str(tmp_path / "t.tsv"), column=2)
    (tmp_path / "latin.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(LangmixError, match="latin.txt is not UTF-8 text .*convert the file to UTF-8"):
        read_texts(str(tmp_path / "latin.txt"))
