"""Searching indexes: the top k passages of a question, and the language make-up of that top k.

The language shares are the point of langmix's search: a model biased towards the query's language
fills its top k with that language even when the collection answers in every language. They are
returned with every result list (``top-10: en 6, de 2, zh 2``) so the CLI and the web page show them
beside the hits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from langmix.errors import LangmixError
from langmix.search.encoder import QueryEncoder, checked_ref
from langmix.search.index import SearchIndex, load_index
from langmix.search.passages import language_counts
from langmix.search.threads import cpu_threads

MAX_QUERY_CHARS = 1000  # a question, not a document: longer input is a paste gone wrong
MAX_K = 100


@dataclass(frozen=True)
class Hit:
    rank: int
    score: float
    id: str
    lang: str
    title: str
    text: str


@dataclass
class SearchResult:
    index: str
    query: str
    hits: list[Hit]

    def shares(self) -> list[tuple[str, int]]:
        """(language, count) over the hits, largest first, ties by language code."""
        return language_counts(hit.lang for hit in self.hits)

    def shares_line(self) -> str:
        """E.g. ``top-10: en 6, de 2, zh 2``."""
        return f"top-{len(self.hits)}: " + ", ".join(f"{lang} {n}" for lang, n in self.shares())

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "query": self.query,
            "k": len(self.hits),
            "hits": [asdict(hit) for hit in self.hits],
            "shares": [{"lang": lang, "count": n} for lang, n in self.shares()],
        }


def check_query(query: str) -> str:
    """The query without surrounding blanks, or an error if it is empty or too long to be a question."""
    query = query.strip()
    if not query:
        raise LangmixError("the query is empty", "type a question")
    if len(query) > MAX_QUERY_CHARS:
        raise LangmixError(f"the query has {len(query)} characters, more than {MAX_QUERY_CHARS}",
                           "shorten it to a question")
    return query


def check_k(k: int) -> int:
    if not 1 <= k <= MAX_K:
        raise LangmixError(f"k = {k} is out of range", f"ask for 1 to {MAX_K} results")
    return k


class Searcher:
    """One index with the query encoder of the model that built it."""

    def __init__(self, index: SearchIndex, encoder: QueryEncoder) -> None:
        if encoder.ref.fingerprint != index.model.fingerprint:
            raise LangmixError(f"index {index.folder} needs model '{index.model.name}'",
                               "open it with langmix.search.open_searchers")
        self.index, self.encoder = index, encoder

    @property
    def name(self) -> str:
        return self.index.folder.name

    def search(self, query: str, k: int = 10) -> SearchResult:
        """The top ``k`` passages for ``query`` (encoded with the index's model) and their languages."""
        return search_all([self], query, k)[0]

    def search_vector(self, query: str, vector: np.ndarray, k: int) -> SearchResult:
        """The top ``k`` for an already encoded ``query`` (vector (1, dim) from this index's model)."""
        scores, rows = self.index.faiss_index.search(vector, min(check_k(k), self.index.count))
        found = [(float(s), int(r)) for s, r in zip(scores[0], rows[0], strict=True) if r >= 0]
        passages = self.index.store.get([r for _, r in found])
        hits = [Hit(rank, score, p.id, p.lang, p.title, p.text)
                for rank, ((score, _), p) in enumerate(zip(found, passages, strict=True), 1)]
        return SearchResult(self.name, query, hits)


def open_searchers(folders: Sequence[str | Path], model: str | None = None) -> list[Searcher]:
    """A searcher per index folder; indexes built with the same model share one loaded model.

    ``model``, if given, must be the model the indexes were built with (same fingerprint).
    """
    encoders: dict[str, QueryEncoder] = {}
    searchers = []
    for folder in folders:
        index = load_index(folder)
        ref = checked_ref(index.model, model, str(index.folder))
        if ref.fingerprint not in encoders:
            encoders[ref.fingerprint] = QueryEncoder.load(ref)
        searchers.append(Searcher(index, encoders[ref.fingerprint]))
    return searchers


def search_all(searchers: Sequence[Searcher], query: str, k: int = 10) -> list[SearchResult]:
    """One question against several indexes, encoded once per distinct model, on one thread (see
    :mod:`langmix.search.threads`)."""
    query, k = check_query(query), check_k(k)
    vectors: dict[int, np.ndarray] = {}
    results = []
    with cpu_threads():
        for searcher in searchers:
            key = id(searcher.encoder)
            if key not in vectors:
                vectors[key] = searcher.encoder.encode(query)
            results.append(searcher.search_vector(query, vectors[key], k))
    return results
