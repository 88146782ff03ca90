from __future__ import annotations

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
    source = _write(tmp_path, "c.jsonl", '{"id": 7, "text": "eins", "lang": "de", "title": "T"}\n\n'
                                         '{"_id": "b", "text": "two"}\n{"text": "drei"}\n')
    assert read_passages(source, default_lang="xx") == [
        Passage("7", "eins", "de", "T"), Passage("b", "two", "xx", ""), Passage("4", "drei", "xx", "")]


def test_collection_fixture(collection: Path) -> None:
    passages = read_passages(str(collection))
    assert len(passages) == 31
    assert {p.lang for p in passages} == {"en", "de", "es", "zh", "ar", "hi"}
    assert passages[0] == Passage("berlin-en", "Berlin is the capital and largest city of Germany.", "en", "Berlin")


def test_tsv_positional_and_header(tmp_path: Path) -> None:
    positional = _write(tmp_path, "a.tsv", "d1\tHallo Welt\tde\tGruß\nd2\tbonjour\n")
    assert read_passages(positional) == [Passage("d1", "Hallo Welt", "de", "Gruß"), Passage("d2", "bonjour", "und")]
    header = _write(tmp_path, "b.tsv", "lang\ttext\tid\nfr\tbonjour\tx1\n")
    assert read_passages(header) == [Passage("x1", "bonjour", "fr")]


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
])
def test_bad_sources_name_the_line(tmp_path: Path, name: str, content: str, message: str) -> None:
    with pytest.raises(LangmixError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_passages(_write(tmp_path, name, content))


def test_missing_source_and_folder_without_corpus(tmp_path: Path) -> None:
    with pytest.raises(LangmixError, match="source .*nothing.jsonl not found"):
        read_passages(str(tmp_path / "nothing.jsonl"))
    with pytest.raises(LangmixError, match="has no corpus.jsonl"):
        read_passages(str(tmp_path))
