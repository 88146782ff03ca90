"""Training corpus and test benchmark of a protocol, built once per run folder and written to disk.

The training corpus of a protocol is LAReQA training questions plus NTREX-128 inverse-cloze records and
MKQA translation pairs, each restricted to the protocol's languages (a source lacking a language simply
has no data in it), mixed with :func:`langmix.data.parallel.mix` by the ``sources`` weights, shuffled with a
fixed data seed and written as langmix JSONL (``jsonl:PATH`` is what :func:`langmix.training.loop.train`
loads). Every training seed therefore sees the same records; the seed changes the dev split, the batches
and the initial dropout masks.

No test question ever enters training: for the cross-benchmark protocols the test set is another
benchmark; for the article split the test articles are chosen by a hash of their title and all their
question ids (in every language) are removed from the training corpus. The dev split used for early
stopping is drawn by :func:`langmix.training.loop.train` from the training corpus only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from langmix.data.lareqa import LareqaBenchmark, load_lareqa
from langmix.data.loaders import load_corpus
from langmix.data.parallel import ParallelCorpus, ParallelRecord, mix, unit_hash
from langmix.errors import LangmixError
from langmix.evaluation.lareqa import subset_benchmark
from langmix.io import atomic_path, read_json, write_json
from langmix.reproduce.grid import Protocol

DATA_SEED = 1234  # fixed: the training records must not change with the training seed
EXTRA_SOURCES = ("ntrex128", "mkqa")


@dataclass
class ProtocolData:
    train_path: Path  # langmix JSONL of the training corpus
    benchmark: LareqaBenchmark  # the test set (possibly a subset)
    info: dict  # sizes, held-out articles, sources: goes into results.json


def held_out_articles(benchmark: LareqaBenchmark, fraction: float) -> list[str]:
    """Test articles of an article split: titles (English, shared by XQuAD-R's languages) hashing below
    ``fraction``; at least one article is held out and at least one kept."""
    titles = sorted({q.article for data in benchmark.languages.values() for q in data.questions})
    held = [t for t in titles if unit_hash(f"test-article:{t}") < fraction]
    if not held:
        held = [min(titles, key=lambda t: unit_hash(f"test-article:{t}"))]
    if len(held) == len(titles):
        raise LangmixError(
            f"article_test_fraction {fraction} holds out every article", "use a fraction such as 0.33"
        )
    return held


def select_test_qids(benchmark: LareqaBenchmark, limit: int | None) -> list[str] | None:
    """``limit`` question ids, those held by the most languages first, ties in a fixed hashed order.

    Preferring ids present in many languages, in an order unrelated to the files (MLQA-R ids exist in at
    most 4 of its 7 languages, grouped by language in the files), keeps every language pair populated.
    """
    if limit is None:
        return None
    count: dict[str, int] = {}
    for lang in benchmark.langs:
        for q in benchmark.languages[lang].questions:
            count[q.qid] = count.get(q.qid, 0) + 1
    return sorted(count, key=lambda qid: (-count[qid], unit_hash(f"test-question:{qid}")))[:limit]


def build_test_benchmark(
    protocol: Protocol,
    languages: list[str] | None,
    questions: int | None,
    article_fraction: float,
) -> tuple[LareqaBenchmark, list[str]]:
    """(test benchmark, held-out articles) of ``protocol``; ``questions`` keeps that many question ids."""
    langs = [lang for lang in languages or [] if lang in _benchmark_langs(protocol.test)] or None
    bench = load_lareqa(protocol.test, langs)
    articles: list[str] = []
    if protocol.article_split:
        articles = held_out_articles(bench, article_fraction)
        bench = subset_benchmark(bench, articles=articles, restrict_pool=True)
    qids = select_test_qids(bench, questions)
    if qids is not None:
        bench = subset_benchmark(bench, qids=qids, restrict_pool=True)
    return bench, articles


def _benchmark_langs(name: str) -> tuple[str, ...]:
    from langmix.reproduce.grid import MLQA_LANGS, XQUAD_LANGS

    return XQUAD_LANGS if name == "xquad-r" else MLQA_LANGS


def build_train_corpus(
    protocol: Protocol,
    sources: dict[str, float],
    exclude_qids: set[str],
    max_records: int | None,
    max_negatives: int | None = None,
    candidates: str = "context",
) -> tuple[ParallelCorpus, dict[str, int]]:
    """The mixed, shuffled training corpus and the number of records per source; LAReQA passages are
    ``candidates`` (sentence + paragraph, or the sentence) and records keep at most ``max_negatives`` hard
    negatives (with context each is a paragraph long: unused ones cost disk)."""
    unknown = set(sources) - {"lareqa", *EXTRA_SOURCES}
    if unknown:
        raise LangmixError(
            f"unknown training source(s) {', '.join(sorted(unknown))}", "use lareqa, ntrex128 and mkqa"
        )
    corpora, weights = [], []
    for source, weight in sources.items():
        if weight <= 0:
            continue
        spec = protocol.lareqa_train if source == "lareqa" else source
        extra = {"max_negatives": max_negatives, "candidates": candidates} if source == "lareqa" else {}
        corpus = _load_source(spec, protocol.languages, **extra)
        if source == "lareqa" and exclude_qids:
            kept = [r for r in corpus.records if r.id.split(":", 1)[1] not in exclude_qids]
            corpus = ParallelCorpus(kept, corpus.name)
        corpora.append(corpus)
        weights.append(weight)
    mixed = mix(corpora, weights, DATA_SEED)
    order = torch.randperm(len(mixed), generator=torch.Generator().manual_seed(DATA_SEED)).tolist()
    records = [mixed.records[i] for i in order][:max_records]
    counts: dict[str, int] = {}
    for record in records:
        counts[record.source] = counts.get(record.source, 0) + 1
    return ParallelCorpus(records, mixed.name), counts


def _load_source(spec: str, languages: tuple[str, ...], **kw) -> ParallelCorpus:
    """``spec`` restricted to the protocol languages it has (MKQA lacks some; that is no error here)."""
    full = load_corpus(spec, **kw)
    wanted = [lang for lang in languages if lang in full.languages]
    return full.filter_languages(wanted)


def write_jsonl(corpus: ParallelCorpus, path: Path) -> None:
    """The layout :func:`langmix.data.formats.load_jsonl` reads (docs/data-formats.md), written atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for r in corpus.records:
            fh.write(json.dumps(_record_json(r), ensure_ascii=False) + "\n")


def _record_json(r: ParallelRecord) -> dict:
    row = {"id": r.id, "queries": r.queries, "passages": r.passages, "source": r.source}
    negatives = {k: list(v) for k, v in r.negatives.items() if v}
    if negatives:
        row["negatives"] = negatives
    if r.cross_only:
        row["cross_only"] = True
    return row


def prepare_protocol(
    protocol: Protocol,
    folder: Path,
    sources: dict[str, float],
    max_records: int | None,
    test_languages: list[str] | None,
    test_questions: int | None,
    article_fraction: float,
    max_negatives: int | None = None,
    candidates: str = "context",
) -> ProtocolData:
    """Build (or reuse from ``folder``) the training JSONL and the test benchmark of ``protocol``."""
    bench, articles = build_test_benchmark(protocol, test_languages, test_questions, article_fraction)
    train_path, info_path = folder / "train.jsonl", folder / "data.json"
    if not (train_path.is_file() and info_path.is_file()):
        exclude: set[str] = set()
        if articles:  # the whole held-out articles, not just the (possibly limited) test questions
            full, _ = build_test_benchmark(protocol, None, None, article_fraction)
            exclude = {q.qid for d in full.languages.values() for q in d.questions}
        corpus, counts = build_train_corpus(protocol, sources, exclude, max_records, max_negatives, candidates)
        write_jsonl(corpus, train_path)
        write_json(
            info_path,
            {
                "train_records": len(corpus),
                "train_records_by_source": counts,
                "train_languages": list(protocol.languages),
                "train_candidates": candidates,
                "sources": sources,
                "held_out_articles": articles,
                "excluded_test_qids": len(exclude),
            },
        )
    info = read_json(info_path)
    info.update(
        {
            "test": protocol.test,
            "test_languages": bench.langs,
            "test_questions": {lang: len(d.questions) for lang, d in bench.languages.items()},
            "test_candidates": {lang: len(d.sentences) for lang, d in bench.languages.items()},
        }
    )
    return ProtocolData(train_path, bench, info)
