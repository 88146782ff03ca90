"""Dense retrieval on BEIR / MIRACL collections: faiss search, ranx metrics (nDCG@10, Recall@100, MRR@10).

Search is exact inner product (``IndexFlatIP``; embeddings are L2-normalised so this is cosine) unless
``index`` asks for an approximate index (``ivf`` or ``hnsw``) for large corpora. The top ``k`` = 100
documents per query form a ranx ``Run``; metrics come from ``ranx.evaluate`` and are kept per query.
"""

from __future__ import annotations

import numpy as np

from langmix.data.beir import RetrievalData
from langmix.errors import LangmixError
from langmix.evaluation.cache import EmbeddingCache, encode_cached, texts_hash
from langmix.evaluation.results import RetrievalResult
from langmix.vector_index import IndexKind, build_index

METRICS = ("ndcg@10", "recall@100", "mrr@10")


def dense_search(
    queries: np.ndarray, docs: np.ndarray, k: int = 100, index: IndexKind = "flat"
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` (scores, document rows) per query, rows -1 where fewer than ``k`` documents exist."""
    if queries.shape[1] != docs.shape[1]:
        raise LangmixError(
            f"query dim {queries.shape[1]} differs from document dim {docs.shape[1]}",
            "encode both sides with the same model",
        )
    built = build_index(np.ascontiguousarray(docs, dtype=np.float32), index)
    return built.search(np.ascontiguousarray(queries, dtype=np.float32), min(k, len(docs)))


def score_retrieval(
    data: RetrievalData, query_emb: np.ndarray, doc_emb: np.ndarray, k: int = 100, index: IndexKind = "flat"
) -> RetrievalResult:
    """ranx metrics of the dense run; embedding rows follow ``data.queries`` / ``data.corpus`` order."""
    from ranx import Qrels, Run, evaluate

    qids, docids = list(data.queries), list(data.corpus)
    if len(query_emb) != len(qids) or len(doc_emb) != len(docids):
        raise LangmixError(
            f"got {len(query_emb)} query and {len(doc_emb)} document embeddings for {len(qids)} "
            f"queries and {len(docids)} documents",
            "re-encode the collection (clear the cache)",
        )
    scores, rows = dense_search(query_emb, doc_emb, k, index)
    run = Run(
        {
            q: {docids[r]: float(s) for s, r in zip(sc, rw, strict=True) if r >= 0}
            for q, sc, rw in zip(qids, scores, rows, strict=True)
        }
    )
    evaluate(Qrels(data.qrels), run, list(METRICS), make_comparable=True)
    name = data.name
    per_query = {f"{name}/{m}": {q: float(v) for q, v in run.scores[m].items()} for m in METRICS}
    metrics = {key: float(np.mean(list(v.values()))) for key, v in per_query.items()}
    info = {"n_queries": len(qids), "n_documents": len(docids), "k": k, "index": index}
    return RetrievalResult(name, metrics, per_query, info)


def evaluate_retrieval(
    model,
    data: RetrievalData,
    batch_size: int = 64,
    k: int = 100,
    index: IndexKind = "flat",
    cache: EmbeddingCache | None = None,
    show_progress: bool = False,
    precision: str = "auto",
) -> RetrievalResult:
    """Encode queries and corpus with ``model`` (in ``precision``) and score them."""
    texts = {"query": list(data.queries.values()), "passage": list(data.corpus.values())}
    emb = {
        kind: encode_cached(cache, model, rows, kind, batch_size, show_progress, precision)
        for kind, rows in texts.items()
    }
    result = score_retrieval(data, emb["query"], emb["passage"], k, index)
    result.info["data_hash"] = texts_hash(texts["query"] + texts["passage"])
    return result
