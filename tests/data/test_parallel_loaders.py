"""Loaders of parallel training corpora on the tiny fixtures in tests/fixtures/data (see its README)."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from langmix.data.lareqa import load_lareqa
from langmix.data.loaders import load_corpus
from langmix.errors import LangmixError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"


def test_lareqa_groups_translations_by_question_id():
    corpus = load_corpus(f"lareqa:{FIXTURES / 'xquad-r'}")
    assert len(corpus) == 9 and corpus.languages == ["de", "en", "zh"]
    lacking_zh = [r for r in corpus.records if "zh" not in r.queries]
    assert [r.id for r in lacking_zh] == ["xquad-r:56beb86b3aeaaa14008c92bf"]
    english = json.loads((FIXTURES / "xquad-r" / "en.json").read_text())["data"][0]["paragraphs"][0]
    record = corpus.records[0]
    qa = english["qas"][0]
    assert record.id.endswith(qa["id"]) and record.queries["en"] == qa["question"]
    # passage = answer sentence + its paragraph; negatives = the paragraph's other sentences, same format
    answer = next(
        s
        for s, (b, e) in zip(english["sentences"], english["sentence_breaks"], strict=True)
        if b <= qa["answers"][0]["answer_start"] <= e
    )
    assert record.passages["en"] == f"{answer.strip()} {english['context'].strip()}"
    assert len(record.negatives["en"]) == len(english["sentences"]) - 1
    assert all(n.endswith(english["context"].strip()) for n in record.negatives["en"])
    assert record.passages["en"] not in record.negatives["en"]


def test_lareqa_sentence_candidates_articles_and_max_negatives():
    corpus = load_corpus(f"lareqa:{FIXTURES / 'xquad-r'}", ["en", "de"], candidates="sentence", max_negatives=2)
    record = corpus.records[0]
    assert (
        record.passages["en"]
        in json.loads((FIXTURES / "xquad-r" / "en.json").read_text())["data"][0]["paragraphs"][0]["context"]
    )
    assert len(record.negatives["de"]) == 2 and corpus.languages == ["de", "en"]
    assert len(load_corpus(f"lareqa:{FIXTURES / 'xquad-r'}", articles={"Super_Bowl_50"})) == 9
    with pytest.raises(LangmixError, match="no records"):
        load_corpus(f"lareqa:{FIXTURES / 'xquad-r'}", articles={"Another_article"})
    with pytest.raises(LangmixError, match="unknown candidates"):
        load_corpus(f"lareqa:{FIXTURES / 'xquad-r'}", candidates="paragraph")


def test_ntrex_inverse_cloze_windows_stay_in_their_document():
    corpus = load_corpus("ntrex128", folder=FIXTURES / "ntrex128", window=2)
    lines = (FIXTURES / "ntrex128" / "newstest2019-ref.eng-US.txt").read_text().splitlines()
    docs = (FIXTURES / "ntrex128" / "DOCUMENT_IDS.tsv").read_text().splitlines()
    assert corpus.languages == ["de", "en", "zh"]
    for record in corpus.records:
        i = int(record.id.removeprefix("ntrex:"))
        context = [j for j in range(i - 2, i + 3) if j != i and 0 <= j < len(docs) and docs[j] == docs[i]]
        assert record.queries["en"] == lines[i]
        assert record.passages["en"] == " ".join(lines[j] for j in context)
    # stride = window + 1 by default: no query sentence appears in another record's passage
    queries = {r.queries["en"] for r in corpus.records}
    assert not any(q in r.passages["en"] for r in corpus.records for q in queries - {r.queries["en"]})
    # documents of 16, 6 and 2 lines with stride 3: 6 + 2 + 1 queries
    assert len(corpus) == 9
    assert len(load_corpus("ntrex128", ["en"], folder=FIXTURES / "ntrex128", window=1, stride=1)) == 24


def test_mkqa_is_cross_only_translation_pairs():
    corpus = load_corpus("mkqa", folder=FIXTURES / "mkqa")
    assert corpus.languages == ["en", "es", "zh"] and len(corpus) == 12
    first = json.loads((FIXTURES / "mkqa" / "mkqa-zh_cn.jsonl").read_text().splitlines()[0])
    record = next(r for r in corpus.records if r.id == "mkqa:" + first["id"].removesuffix("_zh_cn"))
    assert record.queries["zh"] == record.passages["zh"] == first["question"]
    assert record.cross_only and record.mono_languages == () and len(record.cross_pairs) == 6


def test_squad_translate_train_aligned_by_question_id():
    corpus = load_corpus(f"squad:{FIXTURES / 'squad' / 'train.{lang}.json'}")
    by_id = {r.id: r for r in corpus.records}
    assert sorted(by_id) == ["squad:q1", "squad:q2", "squad:q3"]
    assert sorted(by_id["squad:q2"].queries) == ["de", "en"]
    assert by_id["squad:q3"].passages["es"] == "París es la capital de Francia."
    assert len(load_corpus(f"squad:{FIXTURES / 'squad' / 'train.{lang}.json'}", ["es"])) == 2


def test_mmarco_groups_lines_of_one_query():
    corpus = load_corpus(f"mmarco:{FIXTURES / 'mmarco' / 'triples.{lang}.tsv'}")
    assert len(corpus) == 2
    cat = corpus.records[0]
    assert cat.queries == {"de": "was ist eine katze", "en": "what is a cat"}
    assert cat.negatives["en"] == ("A car is a vehicle.", "Cats is a musical.")


def test_jsonl_layout():
    corpus = load_corpus(f"jsonl:{FIXTURES / 'corpus.jsonl'}")
    a, b, c = corpus.records
    assert a.negatives == {"en": ("Milan is in Italy.",)} and a.mono_languages == ("en", "it")
    assert b.mono_languages == ("en",) and b.cross_pairs == (("en", "it"),)
    assert c.cross_only and c.mono_languages == ()
    only_en = load_corpus(f"jsonl:{FIXTURES / 'corpus.jsonl'}", ["en"])
    assert [r.id for r in only_en.records] == ["a", "b"]  # c has no English mono pair and no cross pair left


@pytest.mark.parametrize(
    "spec, kw, message",
    [
        ("nonsense", {}, "unknown corpus spec"),
        ("jsonl:/nonexistent/x.jsonl", {}, "not found"),
        ("squad:/nonexistent/train.json", {}, "no {lang} placeholder"),
        ("squad:/nonexistent/train.{lang}.json", {}, "no file matches"),
        ("mkqa", {"languages": ["xx"], "folder": FIXTURES / "mkqa"}, "no language xx"),
    ],
)
def test_bad_specs_fail_with_one_line(spec, kw, message):
    with pytest.raises(LangmixError, match=message) as err:
        load_corpus(spec, **kw)
    assert "\n" not in str(err.value)


def test_bad_files_fail_with_one_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "queries": {"en": "q"}}\n')
    with pytest.raises(LangmixError, match="bad.jsonl:1 is not a langmix JSONL record"):
        load_corpus(f"jsonl:{bad}")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(LangmixError, match="holds no records"):
        load_corpus(f"jsonl:{empty}")
    duplicate = tmp_path / "dup.jsonl"
    duplicate.write_text('{"id": "x", "queries": {"en": "q"}, "passages": {"en": "p"}}\n' * 2)
    with pytest.raises(LangmixError, match="twice"):
        load_corpus(f"jsonl:{duplicate}")
    (tmp_path / "t.en.tsv").write_text("only\ttwo\n")
    with pytest.raises(LangmixError, match="not 3"):
        load_corpus(f"mmarco:{tmp_path / 't.{lang}.tsv'}")
    with gzip.open(tmp_path / "s.en.json.gz", "wt") as fh:
        fh.write('{"data": [{"paragraphs": [{"qas": [{"id": "1", "question": "q"}]}]}]}')
    with pytest.raises(LangmixError, match="not a SQuAD file"):
        load_corpus(f"squad:{tmp_path / 's.{lang}.json'}")


GOOD = {"id": "x", "queries": {"en": "q", "de": "f"}, "passages": {"en": "p", "de": "a"}}


@pytest.mark.parametrize("change, words", [
    ({"cross_only": "false"}, "cross_only='false': Input should be a valid boolean"),
    ({"negatives": {"en": "text"}}, "negatives.en='text': Input should be a valid array"),
    ({"negatives": {"en": [1]}}, "negatives.en.0=1: Input should be a valid string"),
    ({"queries": {"en": None}}, "queries.en=None: Input should be a valid string"),
    ({"id": True}, "id=True: Input should be a valid string"),
    ({"source": 3}, "source=3: Input should be a valid string"),
    ({"passages": None}, "passages=None: Input should be an object"),
    ({"queries": {"": "q"}}, "queries.key='': Value error, not a language code such as en or zh-CN"),
    ({"negatives": {"en us": ["n"]}}, "negatives.key='en us': Value error, not a language code"),
    ({"passages": {"en": " "}}, "passages.en=' ': Value error, blank text"),
    ({"negatives": {"en": [""]}}, "negatives.en.0='': Value error, blank text"),
    ({"id": ""}, "id='': Value error, empty"),
], ids=["cross_only_string", "negatives_string", "negative_int", "query_null", "id_bool", "source_int",
        "passages_null", "lang_empty", "lang_with_space", "passage_blank", "negative_empty", "id_empty"])
def test_jsonl_fields_are_type_checked_not_coerced(tmp_path, change, words):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(GOOD) + "\n" + json.dumps({**GOOD, "id": "y", **change}) + "\n", encoding="utf-8")
    with pytest.raises(LangmixError, match=re.escape("bad.jsonl:2 is not a langmix JSONL record")) as err:
        load_corpus(f"jsonl:{bad}")
    assert words in str(err.value) and "\n" not in str(err.value)


def test_jsonl_keeps_valid_records_as_they_were(tmp_path):
    """Integer ids and unknown fields are accepted as before; negatives become tuples."""
    path = tmp_path / "ok.jsonl"
    path.write_text(json.dumps({**GOOD, "id": 7, "note": "ignored", "negatives": {"en": ["n"]}}) + "\n")
    (record,) = load_corpus(f"jsonl:{path}").records
    assert record.id == "7" and record.negatives == {"en": ("n",)} and record.source == "jsonl"
    assert not record.cross_only


@pytest.mark.parametrize("spec, name, content", [
    ("jsonl:{}", "bad.jsonl", (json.dumps(GOOD) + "\n").replace('"q"', '"caf\u00e9"').encode("latin-1")),
    ("mmarco:{}", "t.{lang}.tsv", "caf\u00e9\tp\tn\n".encode("latin-1")),
    ("jsonl:{}", "cut.jsonl.gz", gzip.compress((json.dumps(GOOD) + "\n").encode())[:-12]),
], ids=["jsonl_latin1", "mmarco_latin1", "jsonl_gz_cut"])
def test_files_that_are_not_utf8_or_not_whole_are_one_line(tmp_path, spec, name, content):
    (tmp_path / name.replace("{lang}", "en")).write_bytes(content)
    with pytest.raises(LangmixError, match="is not UTF-8 text|is a damaged gzip file") as err:
        load_corpus(spec.format(tmp_path / name))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("languages", ["en", "en,", ["en"]])
def test_languages_as_one_string_is_a_code_not_letters(languages):
    corpus = load_corpus(f"jsonl:{FIXTURES / 'corpus.jsonl'}", languages)
    assert [r.id for r in corpus.records] == ["a", "b"]
    assert load_corpus(f"jsonl:{FIXTURES / 'corpus.jsonl'}").filter_languages(languages).languages == ["en"]
    assert load_lareqa(FIXTURES / "xquad-r", languages).langs == ["en"]
