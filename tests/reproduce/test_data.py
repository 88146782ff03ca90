"""Protocol data: no test question in training, stable slices, JSONL round trip."""

from __future__ import annotations

from langmix.data.lareqa import load_lareqa
from langmix.data.loaders import load_corpus
from langmix.reproduce.data import build_test_benchmark, held_out_articles, prepare_protocol, select_test_qids
from langmix.reproduce.grid import PROTOCOLS

SOURCES = {"lareqa": 2.0, "ntrex128": 1.0, "mkqa": 1.0}


def test_article_split_keeps_test_articles_out_of_training(tiny_data, tmp_path):
    lareqa_only = {"lareqa": 1.0}  # no subsampling by the mix, so every kept question must be there
    data = prepare_protocol(PROTOCOLS["xquad-articles"], tmp_path, lareqa_only, None, None, None, 0.4)
    held = set(data.info["held_out_articles"])
    test_articles = {q.article for d in data.benchmark.languages.values() for q in d.questions}
    assert held and test_articles == held
    full = load_lareqa("xquad-r")
    held_qids = {q.qid for d in full.languages.values() for q in d.questions if q.article in held}
    train = load_corpus(f"jsonl:{data.train_path}")
    train_qids = {r.id.split(":", 1)[1] for r in train.records if r.source == "xquad-r"}
    assert train_qids and not train_qids & held_qids
    # the kept articles do train
    assert train_qids == {q.qid for q in full.languages["en"].questions} - held_qids


def test_held_out_articles_never_all_or_none(tiny_data):
    bench = load_lareqa("xquad-r")
    titles = {q.article for q in bench.languages["en"].questions}
    assert 1 <= len(held_out_articles(bench, 0.0)) < len(titles)
    assert held_out_articles(bench, 0.4) == held_out_articles(bench, 0.4)


def test_test_slice_prefers_ids_in_most_languages(tiny_data):
    bench = load_lareqa("mlqa-r")
    qids = select_test_qids(bench, 3)
    in_all = set.intersection(*({q.qid for q in d.questions} for d in bench.languages.values()))
    assert set(qids) == in_all  # the fixture has exactly 3 ids in en, de and zh
    sliced, _ = build_test_benchmark(PROTOCOLS["xquad-to-mlqa"], None, 3, 0.33)
    assert {q.qid for d in sliced.languages.values() for q in d.questions} == in_all


def test_training_corpus_is_reused_and_round_trips(tiny_data, tmp_path):
    first = prepare_protocol(PROTOCOLS["mlqa-to-xquad"], tmp_path, SOURCES, None, None, None, 0.33)
    stamp = first.train_path.stat().st_mtime_ns
    again = prepare_protocol(PROTOCOLS["mlqa-to-xquad"], tmp_path, SOURCES, None, None, None, 0.33)
    assert again.train_path.stat().st_mtime_ns == stamp  # built once per run folder
    corpus = load_corpus(f"jsonl:{first.train_path}")
    assert len(corpus) == first.info["train_records"]
    assert {r.source for r in corpus.records} == {"mlqa-r", "ntrex128", "mkqa"}
    assert all(r.cross_only for r in corpus.records if r.source == "mkqa")
    assert set(corpus.languages) <= set(PROTOCOLS["mlqa-to-xquad"].languages)
    assert any(any(r.negatives.values()) for r in corpus.records)  # LAReQA hard negatives kept by default


def test_unused_hard_negatives_are_not_written(tiny_data, tmp_path):
    data = prepare_protocol(
        PROTOCOLS["xquad-to-mlqa"], tmp_path, SOURCES, None, None, None, 0.33, max_negatives=0
    )
    assert not any(any(r.negatives.values()) for r in load_corpus(f"jsonl:{data.train_path}").records)
