"""Per-query ranking metrics computed from *rank counts*, never from a sorted pool.

Tie rule (the one of ``sklearn.metrics.average_precision_score``): a candidate whose score equals a
relevant item's score counts as ranked *ahead* of it (pessimistic). So the rank of relevant item
:math:`j` with score :math:`s_j` in a pool :math:`P` is

.. math:: r_j = |\\{c \\in P : s_c \\ge s_j\\}|

(which is :math:`1 + |\\{c : s_c > s_j\\}|` when there are no ties), and the number of relevant items at
or above it is :math:`h_j = |\\{i \\in R : s_i \\ge s_j\\}|`. Every metric below is a function of
:math:`(r_j, h_j)` only, which is what makes exact full-pool metrics cheap: one comparison pass of each
relevant score against the pool, no sorting.

All functions take arrays shaped ``(n_queries, max_relevant)`` with a boolean ``mask`` marking real
relevant items (queries may have different numbers of relevant items), and return one score per query
(per-query first, mean last, so paired significance tests stay possible).
"""

from __future__ import annotations

import numpy as np
import torch

from langmix.errors import LangmixError


def rank_counts(
    scores: torch.Tensor, pool: torch.Tensor, segments: list[tuple[int, int]] | None = None
) -> torch.Tensor:
    """Count, per relevant score, the pool candidates scoring at least as high.

    ``scores``: (B, R) scores of the relevant items; ``pool``: (B, N) scores of all candidates.
    Returns int32 (B, R, S) with one count per pool segment ``[start, end)`` (one segment, the whole
    pool, when ``segments`` is None), so per-language pools are read off the same pass.
    """
    segments = segments or [(0, pool.shape[1])]
    counts = [
        (pool[:, a:b].unsqueeze(1) >= scores.unsqueeze(2)).sum(-1, dtype=torch.int32)  # (B, R)
        for a, b in segments
    ]
    return torch.stack(counts, dim=2)  # (B, R, S)


def relevant_above(scores: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """:math:`h_j = |\\{i \\in R : s_i \\ge s_j\\}|` for every relevant item (0 where ``mask`` is False)."""
    above = (scores[:, None, :] >= scores[:, :, None]) & mask[:, None, :] & mask[:, :, None]  # (n, R, R)
    return above.sum(-1)


def average_precision(
    rank: np.ndarray, hits: np.ndarray, mask: np.ndarray, k: int | None = None
) -> np.ndarray:
    """Average precision over the whole pool, or AP@k.

    .. math:: \\mathrm{AP@k} = \\frac{1}{|R|} \\sum_{j \\in R,\\; r_j \\le k} \\frac{h_j}{r_j}

    with :math:`k = \\infty` for full AP. The denominator is the number of relevant items |R| (as in ranx
    and trec_eval), not min(k, |R|). A query without relevant items gets NaN.
    """
    n_rel = mask.sum(1)
    keep = mask if k is None else mask & (rank <= k)
    precision = np.where(keep, hits / np.maximum(rank, 1), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_rel > 0, precision.sum(1) / n_rel, np.nan)


def recall_at(rank: np.ndarray, mask: np.ndarray, k: int) -> np.ndarray:
    """:math:`|\\{j \\in R : r_j \\le k\\}| / |R|` (ranx's recall@k)."""
    n_rel = mask.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_rel > 0, (mask & (rank <= k)).sum(1) / n_rel, np.nan)


def reciprocal_rank_at(rank: np.ndarray, mask: np.ndarray, k: int) -> np.ndarray:
    """:math:`1 / \\min_j r_j` if the best-ranked relevant item is within the top k, else 0."""
    best = np.where(mask, rank, np.iinfo(np.int64).max).min(1)
    return np.where(best <= k, 1.0 / np.maximum(best, 1), 0.0)


def rank_distance(rank: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """:math:`\\max_j r_j - \\min_j r_j` over a query's relevant items (KD-SPD's language-bias measure).

    Lower means the answers in different languages sit closer together. Undefined (NaN) with fewer
    than two relevant items.
    """
    high = np.where(mask, rank, -1).max(1)
    low = np.where(mask, rank, np.iinfo(np.int64).max).min(1)
    return np.where(mask.sum(1) >= 2, (high - low).astype(np.float64), np.nan)


def dense_average_precision(scores: np.ndarray, relevant: np.ndarray, k: int | None = None) -> np.ndarray:
    """AP of each row of a dense score matrix ``(n, N)`` against a boolean relevance matrix ``(n, N)``.

    A convenience for small pools and tests; the LAReQA engine uses :func:`rank_counts` blockwise.
    """
    scores, relevant = np.asarray(scores, dtype=np.float64), np.asarray(relevant, dtype=bool)
    if scores.shape != relevant.shape:
        raise LangmixError(
            f"scores {scores.shape} and relevance {relevant.shape} differ in shape",
            "give one relevance flag per score",
        )
    width = max(int(relevant.sum(1).max(initial=0)), 1)
    order = np.argsort(~relevant, axis=1, kind="stable")[:, :width]  # relevant columns first
    mask = np.take_along_axis(relevant, order, 1)
    rel_scores = np.take_along_axis(scores, order, 1)
    rank = rank_counts(torch.from_numpy(rel_scores), torch.from_numpy(scores))[..., 0].numpy()
    return average_precision(rank, relevant_above(rel_scores, mask), mask, k)
