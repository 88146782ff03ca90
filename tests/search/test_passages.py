from __future__ import annotations

import re
from pathlib import Path

import pytest

from langmix.errors import LangmixError
from langmix.search.passages import Passage, read_passages

EVAL_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "evaluation"


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_jsonl_fields_and_defaults(tmp_path: Path) -> None:
    source = _write(tmp_path, "c.jsonl", '{"id": 7, "text": "eins", "lang": "de", "title": "T", "extra": 1}\n\n'
                                         '{"_id": "b", "text": "two", "lang": null, "title": null}\n')
    assert read_passages(source, default_lang="xx") == [Passage("7", "eins", "de", "T"), Passage("b", "two", "xx")]
    no_ids = _write(tmp_path, "n.jsonl", '{"text": "eins"}\n\n{"text": "drei"}\n')
    assert read_passages(no_ids) == [Passage("1", "eins"), Passage("3", "drei")]  # the line numbers


def test_collection_fixture(collection: Path) -> None:
    passages = read_passages(str(collection))
    assert len(passages) == 31
    assert {p.lang for p in passages} == {"en", "de", "es", "zh", "ar", "hi"}
    assert passages[0] == Passage("berlin-en", "Berlin is the capital and largest city of Germany.", "en", "Berlin")


def test_tsv_positional_and_header(tmp_path: Path) -> None:
    positional = _write(tmp_path, "a.tsv", "d1\tHallo Welt\tde\tGruß\nd2\tbonjour\n")
    assert read_passages(positional) == [Passage("d1", "Hallo Welt", "de", "Gruß"), Passage("d2", "bonjour", "und")]
    header = _write(tmp_path, "b.tsv", "lang\ttext\tid\nfr\tbonjour\tx1\n\thallo\tx2\n")
    assert read_passages(header) == [Passage("x1", "bonjour", "fr"), Passage("x2", "hallo")]  # empty lang: none


def test_beir_folder() -> None:
    passages = read_passages(str(EVAL_FIXTURES / "beir-tiny"))
    assert passages and all(p.lang == "und" for p in passages)
    assert len({p.id for p in passages}) == len(passages)


def test_lareqa_candidates() -> None:
    from langmix.data.lareqa import load_lareqa

    lareqa_tiny = EVAL_FIXTURES / "lareqa-tiny"
    passages = read_passages(f"lareqa:{lareqa_tiny}")
    bench = load_lareqa(lareqa_tiny)
    assert len(passages) == sum(len(bench.languages[lang].sentences) for lang in bench.langs)
    assert passages[0].id == "de:0" and passages[0].lang == "de"
    assert passages[0].text == bench.languages["de"].sentences[0]
    context = read_passages(f"lareqa:{lareqa_tiny}", candidates="context")
    assert context[0].text.startswith(passages[0].text) and len(context[0].text) > len(passages[0].text)


@pytest.mark.parametrize("name,content,message", [
    ("c.jsonl", '{"id": "a", "text": "x"}\n{"id": "b", "title": "no text"}\n', "c.jsonl:2 has no text"),
    ("c.jsonl", '{"id": "a", "text": "   "}\n', "c.jsonl:1 has no text"),
    ("c.jsonl", '{"id": "a", "text": "x"}\nnot json\n', "c.jsonl:2 is not JSON"),
    ("c.jsonl", '["a list"]\n', "c.jsonl:1 is not a JSON object"),
    ("c.jsonl", '{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n', "holds the id 'a' twice"),
    ("c.jsonl", "\n\n", "holds no passages"),
    ("c.tsv", "only-one-column\n", "c.tsv:1 has 1 tab-separated column(s)"),
    # issue 25: read strictly, never a silent guess
    ("c.tsv", "text\tlang\nhallo\tde\n", "c.tsv:1 is a header row without an id column"),  # was passage 'text'
    ("c.tsv", "doc_id\tbody\nd1\thallo\n", "c.tsv:1 is a header row with the column 'doc_id'"),
    ("c.tsv", "id\ttext\tid\nd1\thallo\td2\n", "c.tsv:1 is a header row naming a column twice"),
    ("c.tsv", "d1\thallo\tde\tT\t0.5\n", "c.tsv:1 has 5 tab-separated columns, more than the 4 of id, text"),
    ("c.tsv", "id\ttext\nd1\thallo\tde\n", "c.tsv:2 has 3 tab-separated columns, more than the 2 of id, text"),
    ("c.tsv", "d1\thallo\n\tbonjour\n", "c.tsv:2 has no id, while line 1 has one"),
    ("c.jsonl", '{"id": "a", "text": "x", "lang": 5}\n', "c.jsonl:1: lang is int 5, not a string"),
    ("c.jsonl", '{"id": "a", "text": "x", "lang": ""}\n', "c.jsonl:1: lang '' is not a language code"),
    ("c.jsonl", '{"id": "a", "text": "x", "lang": "en us"}\n', "c.jsonl:1: lang 'en us' is not a language code"),
    ("c.jsonl", '{"id": "a", "text": "x", "title": {"t": 1}}\n', 'c.jsonl:1: title is dict {"t": 1}, not a string'),
    ("c.jsonl", '{"id": "a", "text": ["x", "y"]}\n', 'c.jsonl:1: text is list ["x", "y"], not a string'),
    ("c.jsonl", '{"id": 1.5, "text": "x"}\n', "c.jsonl:1: id is float 1.5, not a string or an integer"),
    ("c.jsonl", '{"id": true, "text": "x"}\n', "c.jsonl:1: id is bool true"),
    ("c.jsonl", '{"id": "", "text": "x"}\n', "c.jsonl:1 has an empty id"),
    ("c.jsonl", '{"id": "4", "text": "x"}\n{"text": "y"}\n', "c.jsonl:2 has no id, while line 1 has one"),
])
def test_bad_sources_name_the_line(tmp_path: Path, name: str, content: str, message: str) -> None:
    with pytest.raises(LangmixError, match=re.escape(message)):
        read_passages(_write(tmp_path, name, content))


def test_missing_source_and_folder_without_corpus(tmp_path: Path) -> None:
    with pytest.raises(LangmixError, match="source .*nothing.jsonl not found"):
        read_passages(str(tmp_path / "nothing.jsonl"))
    with pytest.raises(LangmixError, match="has no corpus.jsonl"):
        read_passages(str(tmp_path))


@pytest.mark.parametrize("kwargs, message", [
    ({"candidates": "context"}, "--candidates applies to LAReQA benchmarks (xquad-r, mlqa-r, lareqa:FOLDER), not to"),
    ({"default_lang": ""}, "--lang '' is not a language code"),
    ({"default_lang": " "}, "--lang ' ' is not a language code"),
])
def test_options_that_do_not_apply_or_name_no_language_are_refused(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(LangmixError, match=re.escape(message)):
        read_passages(_write(tmp_path, "c.jsonl", '{"id": "a", "text": "x"}\n'), **kwargs)
    with pytest.raises(LangmixError, match="--lang does not apply to lareqa:"):
        read_passages(f"lareqa:{EVAL_FIXTURES / 'lareqa-tiny'}", default_lang="de")


@pytest.mark.parametrize("args, message", [
    (["--candidates", "context"], "--candidates applies to LAReQA benchmarks"),
    (["--lang", ""], "--lang '' is not a language code"),
])
def test_index_command_refuses_options_it_would_ignore(tmp_path: Path, cli, args: list[str], message: str) -> None:
    source = _write(tmp_path, "c.jsonl", '{"id": "a", "text": "x"}\n')
    assert message in cli("index", source, "--out", tmp_path / "idx", *args).error_line()
    assert not (tmp_path / "idx").exists()
