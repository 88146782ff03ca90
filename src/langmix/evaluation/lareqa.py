"""LAReQA evaluation (XQuAD-R, MLQA-R): mono, cross and multilingual mAP, rank distance, bias views.

Protocol (Roy et al., 2020). The pool holds every sentence of every language. A query's relevant
answers are its answer sentence in every language that has its question id. Candidates are encoded
as passages, either ``sentence + " " + paragraph`` (mode ``context``, the protocol) or the sentence
alone (mode ``sentence``).

Every pool is read off one pass: per block of queries the score block ``Q C^T`` against the whole pool
is computed once, and for each relevant answer we count the candidates of *each language* scoring at
least as high (:func:`langmix.evaluation.metrics.rank_counts`). Then

- multi (all languages): rank = sum of the counts over languages; AP over all relevant answers;
- mono X / cross X->Y: the pool of language Y holds exactly one relevant answer, so AP = 1 / rank, with
  rank = the count in language Y; the (X, Y) cell is the mean over queries of X whose id exists in Y;
- own answer removed: subtract from each other answer's rank and hits whether the own-language answer
  scored at least as high.

Aggregation: multi metrics are means over all queries (one pool, one task); mono is the macro mean
over languages; cross is the macro mean over ordered language pairs that share ids; rank distance and
bias views are means per query language, then over languages.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from langmix.data.lareqa import (
    CandidateMode,
    LareqaBenchmark,
    LareqaLanguage,
    Question,
    check_candidate_mode,
    load_lareqa,
)
from langmix.errors import LangmixError
from langmix.evaluation import metrics
from langmix.evaluation.cache import EmbeddingCache, encode_cached, texts_hash
from langmix.evaluation.debias import Debias, debias_embeddings
from langmix.evaluation.results import LareqaResult, result_record
from langmix.io import write_json

TOP_K = 10  # depth of the own-language-share bias view


def candidate_texts(language: LareqaLanguage, mode: CandidateMode) -> list[str]:
    """Passage texts of a language's candidates: the sentence, plus its paragraph in ``context`` mode."""
    if check_candidate_mode(mode) == "sentence":
        return list(language.sentences)
    return [f"{s} {c}" for s, c in zip(language.sentences, language.contexts, strict=True)]


# ----------------------------------------------------------------------------------------------- subsets
def subset_benchmark(
    benchmark: LareqaBenchmark,
    qids: Iterable[str] | None = None,
    articles: Iterable[str] | None = None,
    restrict_pool: bool = True,
) -> LareqaBenchmark:
    """Keep the questions whose id is in ``qids`` and/or whose article is in ``articles``.

    With ``restrict_pool`` the pool shrinks to the paragraphs holding an answer of a kept question (in
    each language), which is what an article-disjoint dev split needs; otherwise the whole pool stays.
    """
    keep_ids = set(qids) if qids is not None else None
    keep_articles = set(articles) if articles is not None else None

    def kept(q: Question) -> bool:
        return (keep_ids is None or q.qid in keep_ids) and (
            keep_articles is None or q.article in keep_articles
        )

    out = {}
    for lang, data in benchmark.languages.items():
        questions = [q for q in data.questions if kept(q)]
        if questions:
            out[lang] = (
                _restrict(data, questions)
                if restrict_pool
                else LareqaLanguage(lang, questions, data.sentences, data.contexts, data.paragraph)
            )
    if not out:
        raise LangmixError("the subset holds no question", "check the question ids or article titles given")
    return LareqaBenchmark(name=benchmark.name, languages=out)


def _restrict(data: LareqaLanguage, questions: list[Question]) -> LareqaLanguage:
    paragraphs = {data.paragraph[q.answer] for q in questions}
    rows = [i for i, p in enumerate(data.paragraph) if p in paragraphs]
    new_index = {old: new for new, old in enumerate(rows)}
    return LareqaLanguage(
        lang=data.lang,
        questions=[Question(q.qid, q.text, new_index[q.answer], q.article) for q in questions],
        sentences=[data.sentences[i] for i in rows],
        contexts=[data.contexts[i] for i in rows],
        paragraph=[data.paragraph[i] for i in rows],
    )


def first_questions(benchmark: LareqaBenchmark, n: int) -> LareqaBenchmark:
    """The first ``n`` question ids (in file order of the first language), with their paragraphs as pool."""
    if n < 1:
        raise LangmixError(f"--limit-questions {n} keeps nothing", "give a positive number")
    ids: list[str] = []
    for lang in benchmark.langs:
        for q in benchmark.languages[lang].questions:
            if q.qid not in ids and len(ids) < n:
                ids.append(q.qid)
    return subset_benchmark(benchmark, qids=ids)


# ----------------------------------------------------------------------------------------------- layout
@dataclass
class LareqaLayout:
    """Row layout shared by embeddings and metrics: languages concatenated in sorted order."""

    langs: list[str]
    query_lang: np.ndarray  # (nq,) language index of each query row
    query_ids: list[str]  # "lang:qid" per query row
    relevant: np.ndarray  # (nq, nL) global candidate row of the answer in language L, or -1
    cand_lang: np.ndarray  # (nc,) language index of each candidate row
    segments: list[tuple[int, int]]  # candidate rows [start, end) of each language

    @property
    def mask(self) -> np.ndarray:
        return self.relevant >= 0


def build_layout(benchmark: LareqaBenchmark) -> LareqaLayout:
    langs = benchmark.langs
    segments, start = [], 0
    answers: dict[str, dict[str, int]] = {}  # qid -> lang -> global candidate row
    for lang in langs:
        data = benchmark.languages[lang]
        segments.append((start, start + len(data.sentences)))
        for q in data.questions:
            if not 0 <= q.answer < len(data.sentences):
                raise LangmixError(
                    f"{lang} question {q.qid} points at sentence {q.answer} of {len(data.sentences)}",
                    "the answer must index a candidate sentence",
                )
            if lang in answers.setdefault(q.qid, {}):
                raise LangmixError(
                    f"{lang} has question id {q.qid} twice", "question ids must be unique per language"
                )
            answers[q.qid][lang] = start + q.answer
        start += len(data.sentences)
    rows = [(i, q.qid) for i, lang in enumerate(langs) for q in benchmark.languages[lang].questions]
    relevant = np.full((len(rows), len(langs)), -1, dtype=np.int64)
    for r, (_, qid) in enumerate(rows):
        for j, lang in enumerate(langs):
            relevant[r, j] = answers[qid].get(lang, -1)
    cand_lang = np.concatenate([np.full(b - a, i) for i, (a, b) in enumerate(segments)])
    return LareqaLayout(
        langs=langs,
        query_lang=np.array([i for i, _ in rows]),
        query_ids=[f"{langs[i]}:{qid}" for i, qid in rows],
        relevant=relevant,
        cand_lang=cand_lang,
        segments=segments,
    )


# ----------------------------------------------------------------------------------------------- encoding
@dataclass
class LareqaEmbeddings:
    """Query and candidate embeddings, rows in :class:`LareqaLayout` order."""

    queries: np.ndarray  # (nq, d) float32
    candidates: np.ndarray  # (nc, d) float32
    data_hash: str  # sha256 over every text encoded, in order


def embed_benchmark(
    model,
    benchmark: LareqaBenchmark,
    mode: CandidateMode = "context",
    batch_size: int = 64,
    cache: EmbeddingCache | None = None,
    show_progress: bool = False,
    precision: str = "auto",
) -> LareqaEmbeddings:
    """Encode each language's queries and candidates once (through the cache when given), under one
    progress bar counting texts."""
    check_candidate_mode(mode)
    parts = []  # (kind, texts) in layout order: per language its queries, then its candidates
    for lang in benchmark.langs:
        data = benchmark.languages[lang]
        parts += [("query", [q.text for q in data.questions]), ("passage", candidate_texts(data, mode))]
    encoded: dict[str, list[np.ndarray]] = {"query": [], "passage": []}
    with tqdm(total=sum(len(rows) for _, rows in parts), desc="encode", unit="text", leave=None,
              disable=not show_progress) as bar:
        for kind, rows in parts:
            encoded[kind].append(encode_cached(cache, model, rows, kind, batch_size, False, precision))
            bar.update(len(rows))
    queries, candidates, texts = encoded["query"], encoded["passage"], [t for _, rows in parts for t in rows]
    return LareqaEmbeddings(
        np.concatenate(queries).astype(np.float32, copy=False),
        np.concatenate(candidates).astype(np.float32, copy=False),
        texts_hash(texts),
    )


def check_embeddings(layout: LareqaLayout, queries: np.ndarray, candidates: np.ndarray) -> None:
    nq, nc = len(layout.query_ids), len(layout.cand_lang)
    if queries.ndim != 2 or candidates.ndim != 2:
        raise LangmixError(
            f"embeddings must be 2-D, got {queries.shape} and {candidates.shape}", "give (rows, dim) arrays"
        )
    if queries.shape[0] != nq or candidates.shape[0] != nc:
        raise LangmixError(
            f"got {queries.shape[0]} query and {candidates.shape[0]} candidate embeddings for "
            f"{nq} queries and {nc} candidates",
            "re-encode the benchmark (clear the cache)",
        )
    if queries.shape[1] != candidates.shape[1]:
        raise LangmixError(
            f"query dim {queries.shape[1]} differs from candidate dim {candidates.shape[1]}",
            "encode both sides with the same model",
        )


# ----------------------------------------------------------------------------------------------- scoring
@dataclass
class RankTable:
    """Everything the metrics need, per query row: scores of its relevant answers and rank counts."""

    rel_scores: np.ndarray  # (nq, nL) score of the answer in each language (garbage where no answer)
    counts: np.ndarray  # (nq, nL, nL) [q, j, L]: candidates of language L scoring >= answer j
    own_top: np.ndarray  # (nq,) share of the top-10 of the multilingual pool in the query's language


def rank_table(
    layout: LareqaLayout,
    queries: np.ndarray,
    candidates: np.ndarray,
    block_size: int = 1024,
    show_progress: bool = False,
    top_k: int = TOP_K,
) -> RankTable:
    """One blocked pass of ``Q C^T`` over the whole pool (float32, torch threads).

    Memory is ``block_size x n_candidates`` floats for the score block plus ``block_size x n_languages x
    segment`` booleans for the comparisons.
    """
    check_embeddings(layout, queries, candidates)
    q_all, c_all = (
        torch.from_numpy(np.ascontiguousarray(queries)),
        torch.from_numpy(np.ascontiguousarray(candidates)),
    )
    relevant = torch.from_numpy(layout.relevant).clamp(min=0)
    cand_lang, query_lang = torch.from_numpy(layout.cand_lang), torch.from_numpy(layout.query_lang)
    k = min(top_k, c_all.shape[0])
    rel_scores, counts, own_top = [], [], []
    with torch.inference_mode():
        for start in tqdm(range(0, q_all.shape[0], block_size), desc="scoring", disable=not show_progress):
            sl = slice(start, start + block_size)
            scores = q_all[sl] @ c_all.T  # (B, nc)
            rel = scores.gather(1, relevant[sl])  # (B, nL)
            rel_scores.append(rel)
            counts.append(metrics.rank_counts(rel, scores, layout.segments))  # (B, nL, nL)
            top = scores.topk(k, dim=1).indices  # (B, k)
            own_top.append((cand_lang[top] == query_lang[sl, None]).float().mean(1))
    return RankTable(
        torch.cat(rel_scores).numpy(),
        torch.cat(counts).numpy().astype(np.int64),
        torch.cat(own_top).numpy().astype(np.float64),
    )


def score_lareqa(
    benchmark: LareqaBenchmark,
    queries: np.ndarray,
    candidates: np.ndarray,
    mode: str = "context",
    block_size: int = 1024,
    show_progress: bool = False,
) -> LareqaResult:
    """All LAReQA metrics from embeddings whose rows follow :func:`build_layout`."""
    layout = build_layout(benchmark)
    table = rank_table(layout, queries, candidates, block_size, show_progress)
    return metrics_from_table(benchmark.name, mode, layout, table)


def metrics_from_table(name: str, mode: str, layout: LareqaLayout, table: RankTable) -> LareqaResult:
    mask, langs = layout.mask, layout.langs
    rows = np.arange(len(layout.query_ids))
    own = layout.query_lang
    rank = table.counts.sum(2)  # (nq, nL) rank in the multilingual pool
    hits = metrics.relevant_above(table.rel_scores, mask)
    lang_rank = np.diagonal(table.counts, axis1=1, axis2=2)  # (nq, nL) rank of answer L within pool L
    per_query = {
        "multi/map": metrics.average_precision(rank, hits, mask),
        "multi/map@20": metrics.average_precision(rank, hits, mask, k=20),
        "multi/recall@1": metrics.recall_at(rank, mask, 1),
        "multi/recall@10": metrics.recall_at(rank, mask, 10),
        "multi/mrr@10": metrics.reciprocal_rank_at(rank, mask, 10),
        "mono/map": 1.0 / lang_rank[rows, own],
        "rank_distance": metrics.rank_distance(rank, mask),
        "bias/top10_own_share": table.own_top,
        "bias/map_without_own": _map_without_own(table, rank, hits, mask, own),
    }
    ids = np.array(layout.query_ids)
    out_metrics: dict[str, float] = {}
    out_per_query: dict[str, dict[str, float]] = {}
    for key, values in per_query.items():
        ok = ~np.isnan(values)
        out_per_query[f"{name}/{key}"] = dict(zip(ids[ok].tolist(), values[ok].tolist(), strict=True))
        by_lang = {lang: _mean(values[own == i]) for i, lang in enumerate(langs)}
        overall = _mean(values) if key.startswith("multi/") else _mean(list(by_lang.values()))
        out_metrics[f"{name}/{key}"] = overall
        out_metrics.update({f"{name}/{key}/{lang}": v for lang, v in by_lang.items()})
    pair_map, cross_units = _pairs(layout, lang_rank)
    cross = [
        pair_map[i, j]
        for i in range(len(langs))
        for j in range(len(langs))
        if i != j and not np.isnan(pair_map[i, j])
    ]
    out_metrics[f"{name}/cross/map"] = _mean(cross)
    out_metrics.update(
        {
            f"{name}/cross/map/{langs[i]}-{langs[j]}": float(pair_map[i, j])
            for i in range(len(langs))
            for j in range(len(langs))
            if i != j and not np.isnan(pair_map[i, j])
        }
    )
    out_per_query[f"{name}/cross/map"] = cross_units
    rd = per_query["rank_distance"][~np.isnan(per_query["rank_distance"])]
    for q in (50, 90):
        out_metrics[f"{name}/rank_distance/p{q}"] = float(np.percentile(rd, q)) if rd.size else float("nan")
    info = {
        "n_queries": int(len(ids)),
        "n_candidates": int(len(layout.cand_lang)),
        "n_cross_pairs": len(cross),
        "tie_rule": "pessimistic: candidates scoring equal to a relevant answer rank ahead of it",
    }
    return LareqaResult(name, mode, langs, out_metrics, out_per_query, pair_map, info)


def _map_without_own(table: RankTable, rank, hits, mask, own) -> np.ndarray:
    """AP in the multilingual pool after deleting the query's own-language answer from the pool."""
    rows = np.arange(len(own))
    own_score = table.rel_scores[rows, own][:, None]
    beaten = (own_score >= table.rel_scores) & mask  # own answer ranked at or above answer j
    keep = mask.copy()
    keep[rows, own] = False
    return metrics.average_precision(rank - beaten, hits - beaten, keep)


def _pairs(layout: LareqaLayout, lang_rank: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    n = len(layout.langs)
    pair_map = np.full((n, n), np.nan)
    units: dict[str, float] = {}
    for x in range(n):
        for y in range(n):
            rows = np.flatnonzero((layout.query_lang == x) & layout.mask[:, y])
            if rows.size == 0:
                continue
            ap = 1.0 / lang_rank[rows, y]
            pair_map[x, y] = ap.mean()
            if x != y:
                units.update(
                    {
                        f"{layout.query_ids[r]}>{layout.langs[y]}": float(v)
                        for r, v in zip(rows, ap, strict=True)
                    }
                )
    return pair_map, units


def _mean(values) -> float:
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else float("nan")


# ----------------------------------------------------------------------------------------------- public API
def evaluate_lareqa(
    model,
    benchmark: LareqaBenchmark,
    mode: CandidateMode = "context",
    batch_size: int = 64,
    cache: EmbeddingCache | None = None,
    show_progress: bool = False,
    precision: str = "auto",
    debias: Debias | None = None,
) -> tuple[LareqaResult, LareqaEmbeddings]:
    """Encode ``benchmark`` with ``model`` (anything :func:`langmix.model.encode` accepts, in ``precision``)
    and score it, after removing language identity from the embeddings when ``debias`` says so."""
    embeddings = embed_benchmark(model, benchmark, mode, batch_size, cache, show_progress, precision)
    return score_embeddings(benchmark, embeddings, mode, debias, show_progress), embeddings


def score_embeddings(
    benchmark: LareqaBenchmark,
    embeddings: LareqaEmbeddings,
    mode: CandidateMode = "context",
    debias: Debias | None = None,
    show_progress: bool = False,
) -> LareqaResult:
    """All metrics of ``embeddings``, optionally debiased (:mod:`langmix.evaluation.debias`) first."""
    queries, candidates = embeddings.queries, embeddings.candidates
    if debias is not None:
        layout = build_layout(benchmark)
        queries, candidates = debias_embeddings(debias, queries, layout.query_lang, candidates, layout.cand_lang)
    result = score_lareqa(benchmark, queries, candidates, mode, show_progress=show_progress)
    result.info["data_hash"] = embeddings.data_hash
    result.info["debias"] = debias.name if debias is not None else None
    return result


class LareqaEvaluator:
    """sentence-transformers-style evaluator: ``evaluator(model) -> {"xquad-r/multi/map": ..., ...}``.

    ``primary_metric`` (default the multilingual mAP) and ``greater_is_better`` drive early stopping and
    model selection; pass a :func:`subset_benchmark` of a dev split.
    """

    greater_is_better = True

    def __init__(
        self,
        benchmark: LareqaBenchmark,
        mode: CandidateMode = "context",
        batch_size: int = 64,
        primary_metric: str = "multi/map",
        precision: str = "auto",
    ) -> None:
        self.benchmark, self.mode, self.batch_size = benchmark, check_candidate_mode(mode), batch_size
        self.precision = precision
        self.primary_metric = f"{benchmark.name}/{primary_metric}"
        self.last_result: LareqaResult | None = None

    def __call__(
        self, model, output_path: str | Path | None = None, epoch: int = -1, steps: int = -1
    ) -> dict[str, float]:
        result, _ = evaluate_lareqa(model, self.benchmark, self.mode, self.batch_size, precision=self.precision)
        self.last_result = result
        if output_path is not None:
            suffix = f"-epoch{epoch}" if epoch >= 0 else ""
            suffix += f"-step{steps}" if steps >= 0 else ""
            write_json(
                Path(output_path) / f"{self.benchmark.name}-eval{suffix}.json",
                result_record(result, extra={"epoch": epoch, "steps": steps}),
            )
        return result.metrics


def dev_evaluator(
    spec: str,
    record_ids: Iterable[str],
    mode: str = "context",
    languages: list[str] | None = None,
    precision: str = "auto",
) -> LareqaEvaluator:
    """A :class:`LareqaEvaluator` on the held-out questions of a training corpus loaded from LAReQA ``spec``
    (``xquad-r``, ``mlqa-r``, ``lareqa:FOLDER`` or a folder).

    Training records of a LAReQA corpus have ids ``<benchmark name>:<question id>``; the pool is restricted
    to the paragraphs of the held-out questions, so dev mAP never sees a training answer.
    """
    benchmark = load_lareqa(spec.removeprefix("lareqa:"), languages)
    prefix = f"{benchmark.name}:"
    known = {q.qid for data in benchmark.languages.values() for q in data.questions}
    qids = [rid[len(prefix):] for rid in record_ids if rid.startswith(prefix) and rid[len(prefix):] in known]
    if not qids:
        raise LangmixError(f"no held-out record comes from '{spec}'",
                           "set data.dev_benchmark to a LAReQA benchmark listed in data.corpus, or to null")
    return LareqaEvaluator(subset_benchmark(benchmark, qids=qids), mode, precision=precision)
