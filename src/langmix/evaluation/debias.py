r"""Training-free language debiasing of embeddings: LIR (Yang et al., EMNLP 2021, arXiv 2109.04727) and ``center``.

LIR (*Language Information Removal*) observes that in a multilingual encoder the leading principal
directions of one language's embeddings mostly encode *which language* a text is in, not what it means.
Per language :math:`l`, with :math:`\mu_l` the mean of that language's candidate embeddings and
:math:`U_l \in \mathbb{R}^{d \times K}` their top-:math:`K` principal directions (right singular vectors of
the centred matrix), every embedding :math:`e` of language :math:`l` (candidate or query) becomes

.. math::

    e' = \frac{(I - U_l U_l^\top)(e - \mu_l)}{\lVert (I - U_l U_l^\top)(e - \mu_l) \rVert_2}

so the language's own offset and its dominant directions no longer separate it from the other languages in
a multilingual pool. ``K = 0`` removes only the mean. The statistics are fitted on the *candidates* of each
language (what a search system holds at index time; no labels and no queries are used) and applied to
the candidates and the queries of that language.

``center[:S]`` is a document-side language offset in the spirit of SHIFT (Jang et al., 2026, arXiv
2606.18801): every *candidate* of language :math:`l` becomes :math:`p - S\,\mu_l` and queries stay as
they are. SHIFT estimates the offset from parallel translation pairs, relative to a source language; here
:math:`\mu_l` is the mean of language :math:`l`'s candidates in the evaluated pool itself, i.e. it is
estimated on unlabeled test-time data (the index), like LIR's statistics. Subtracting :math:`\mu_l`
rather than a relative vector :math:`\mu_l - \mu_{src}` only shifts every score of a query by the same
:math:`S\,q \cdot \mu_{src}`, so the rankings are the same. Candidates are deliberately *not*
re-normalised: the score :math:`q \cdot p - S\,q \cdot \mu_l` then moves all of language :math:`l`'s
candidates by one constant per query, so every ranking inside one language (mono X and cross X->Y
mAP) is unchanged and only how the languages interleave in a multilingual pool (multi mAP, rank distance,
bias views) moves. That is exact in exact arithmetic; float32 scoring can still flip scores tied to ~1e-7
(a synthetic pool of 7 x 3,000 candidates moved 9 of 21,000 mono values, the mono mAP by 5e-9).
Re-normalising would rescale each candidate differently and reorder them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from langmix.errors import LangmixError

DEFAULT_K = 1
DEFAULT_STRENGTH = 1.0
USAGE = "use lir[:K] (K >= 0 directions, e.g. lir:1) or center[:S] (strength S >= 0, e.g. center:0.5)"


@dataclass(frozen=True)
class Debias:
    """A parsed ``--debias`` spec: ``lir`` with ``k`` principal directions removed per language, or
    ``center`` subtracting ``strength`` times each language's candidate mean from its candidates."""

    method: str
    k: int = DEFAULT_K
    strength: float = DEFAULT_STRENGTH

    @property
    def name(self) -> str:
        return f"lir:{self.k}" if self.method == "lir" else f"{self.method}:{self.strength:g}"


def debias_folder(name: str) -> str:
    """``eval-lir-1`` for ``lir:1``: the evaluation folder of a debiased re-scoring in a reproduce cell."""
    return "eval-" + name.replace(":", "-")


def parse_debias(spec: str | None) -> Debias | None:
    """``lir[:K]`` (K >= 0 directions) or ``center[:S]`` (strength S >= 0); None or empty: no debiasing."""
    if not spec:
        return None
    method, _, value = spec.partition(":")
    if method == "lir":
        return Debias("lir", k=int(_spec_number(spec, value, int, DEFAULT_K, "K")))
    if method == "center":
        return Debias("center", strength=_spec_number(spec, value, float, DEFAULT_STRENGTH, "S"))
    raise LangmixError(f"unknown debias method '{method}'", USAGE)


def _spec_number(spec: str, text: str, kind: type, default: float, symbol: str) -> float:
    """The number after ``:`` in ``spec`` (``default`` when there is none), refused unless finite and >= 0."""
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError as err:
        raise LangmixError(f"debias spec '{spec}' has no {kind.__name__} {symbol}", USAGE) from err
    if not math.isfinite(value):
        raise LangmixError(f"debias spec '{spec}' has a non-finite {symbol}", USAGE)
    if value < 0:
        raise LangmixError(f"debias spec '{spec}' has {symbol} < 0", USAGE)
    return value


def debias_embeddings(
    debias: Debias,
    queries: np.ndarray,
    query_lang: np.ndarray,
    candidates: np.ndarray,
    cand_lang: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(queries, candidates) after ``debias``; language labels per row as in :func:`lir`."""
    if debias.method == "lir":
        return lir(queries, query_lang, candidates, cand_lang, debias.k)
    return queries, center_candidates(candidates, cand_lang, debias.strength)


def center_candidates(candidates: np.ndarray, cand_lang: np.ndarray, strength: float = DEFAULT_STRENGTH) -> np.ndarray:
    """``candidates`` with ``strength`` times its language's mean candidate subtracted from each row.

    The means come from ``candidates`` themselves (the unlabeled pool being searched). Rows are not
    re-normalised, so each language's candidates all move by one score per query (see the module doc).
    """
    out = np.empty_like(candidates)
    for lang in np.unique(cand_lang):
        rows = cand_lang == lang
        mean = candidates[rows].astype(np.float64).mean(0)
        out[rows] = candidates[rows] - (strength * mean).astype(candidates.dtype)
    return out


@dataclass
class LanguageProjection:
    mean: np.ndarray  # (d,)
    directions: np.ndarray  # (K, d) orthonormal rows

    def apply(self, emb: np.ndarray) -> np.ndarray:
        centred = emb - self.mean
        out = centred - (centred @ self.directions.T) @ self.directions
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def fit_lir(emb: np.ndarray, k: int) -> LanguageProjection:
    """Mean and top-``k`` principal directions of one language's embeddings (``emb`` (n, d))."""
    if emb.shape[0] <= k:
        raise LangmixError(f"LIR with K={k} needs more than {k} embeddings of a language, got {emb.shape[0]}",
                           "use a smaller K or a larger pool")
    mean = emb.mean(0)
    _, _, vt = np.linalg.svd((emb - mean).astype(np.float64), full_matrices=False)
    return LanguageProjection(mean.astype(emb.dtype), vt[:k].astype(emb.dtype))


def lir(
    queries: np.ndarray,
    query_lang: np.ndarray,
    candidates: np.ndarray,
    cand_lang: np.ndarray,
    k: int = DEFAULT_K,
) -> tuple[np.ndarray, np.ndarray]:
    """(queries, candidates) with each language's LIR projection, fitted on its candidates, applied.

    ``query_lang`` (nq,) and ``cand_lang`` (nc,) hold a language label per row; every query language
    must have candidates.
    """
    q_out, c_out = np.empty_like(queries), np.empty_like(candidates)
    missing = sorted(set(np.unique(query_lang).tolist()) - set(np.unique(cand_lang).tolist()))
    if missing:
        raise LangmixError(f"query language(s) {missing} have no candidates to fit LIR on",
                           "evaluate on a pool holding every query language")
    for lang in np.unique(cand_lang):
        projection = fit_lir(candidates[cand_lang == lang], k)
        c_out[cand_lang == lang] = projection.apply(candidates[cand_lang == lang])
        rows = query_lang == lang
        if rows.any():
            q_out[rows] = projection.apply(queries[rows])
    return q_out, c_out
