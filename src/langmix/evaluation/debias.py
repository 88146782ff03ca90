r"""Training-free removal of language identity from embeddings: LIR (Yang et al., EMNLP 2021, arXiv 2109.04727).

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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from langmix.errors import LangmixError

DEFAULT_K = 1


@dataclass(frozen=True)
class Debias:
    """A parsed ``--debias`` spec: method ``lir`` with ``k`` principal directions removed per language."""

    method: str
    k: int

    @property
    def name(self) -> str:
        return f"{self.method}:{self.k}"


def debias_folder(name: str) -> str:
    """``eval-lir-1`` for ``lir:1``: the evaluation folder of a debiased re-scoring in a reproduce cell."""
    return "eval-" + name.replace(":", "-")


def parse_debias(spec: str | None) -> Debias | None:
    """``lir`` or ``lir:K`` (K >= 0 directions); None or empty: no debiasing."""
    if not spec:
        return None
    method, _, k_text = spec.partition(":")
    if method != "lir":
        raise LangmixError(f"unknown debias method '{method}'", "use lir or lir:K (e.g. lir:1)")
    try:
        k = int(k_text) if k_text else DEFAULT_K
    except ValueError as err:
        raise LangmixError(f"debias spec '{spec}' has no integer K", "write lir:K with K >= 0, e.g. lir:1") from err
    if k < 0:
        raise LangmixError(f"debias spec '{spec}' has K < 0", "write lir:K with K >= 0, e.g. lir:1")
    return Debias(method, k)


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
