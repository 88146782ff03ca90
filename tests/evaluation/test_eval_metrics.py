"""Per-query metric kernels against independent implementations (sklearn, ranx)."""

from __future__ import annotations

import numpy as np
import pytest
from ranx import Qrels, Run, evaluate
from sklearn.metrics import average_precision_score

from langmix.evaluation import metrics as M


def random_case(seed: int, n_queries: int = 40, pool: int = 60, levels: int = 7):
    """Integer scores from a handful of levels, so ties (also between relevant items) are frequent."""
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, levels, size=(n_queries, pool)).astype(np.float32)
    relevant = rng.random((n_queries, pool)) < 0.08
    relevant[np.arange(n_queries), rng.integers(0, pool, n_queries)] = True  # at least one per query
    return scores, relevant


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_average_precision_matches_sklearn_with_ties(seed):
    scores, relevant = random_case(seed)
    assert any(len(np.unique(row)) < len(row) for row in scores)  # the case really has ties
    ours = M.dense_average_precision(scores, relevant)
    theirs = [average_precision_score(r, s) for s, r in zip(scores, relevant, strict=True)]
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_tie_rule_is_pessimistic():
    # Relevant item tied with two non-relevant ones at the top: rank 3, AP 1/3 (sklearn agrees).
    scores, relevant = np.array([[1.0, 1.0, 1.0, 0.0]]), np.array([[True, False, False, False]])
    assert M.dense_average_precision(scores, relevant)[0] == pytest.approx(1 / 3)
    assert average_precision_score(relevant[0], scores[0]) == pytest.approx(1 / 3)


def _ranx_scores(scores: np.ndarray, relevant: np.ndarray, metrics: list[str]) -> dict[str, np.ndarray]:
    """Per-query ranx scores; ids zero-padded because ranx returns queries in sorted id order."""
    qrels = Qrels({f"q{i:03d}": {f"d{j:03d}": 1 for j in np.flatnonzero(r)} for i, r in enumerate(relevant)})
    run = Run({f"q{i:03d}": {f"d{j:03d}": float(v) for j, v in enumerate(s)} for i, s in enumerate(scores)})
    return evaluate(qrels, run, metrics, return_mean=False)


def _rank_view(scores: np.ndarray, relevant: np.ndarray):
    width = int(relevant.sum(1).max())
    order = np.argsort(~relevant, axis=1, kind="stable")[:, :width]
    mask = np.take_along_axis(relevant, order, 1)
    rel_scores = np.take_along_axis(scores, order, 1)
    rank = (scores[:, None, :] >= rel_scores[:, :, None]).sum(-1)
    return rank, M.relevant_above(rel_scores, mask), mask


def test_cut_metrics_match_ranx_without_ties():
    # ranx breaks ties by document order, so the comparison uses distinct scores.
    rng = np.random.default_rng(3)
    scores = rng.random((30, 80))
    relevant = rng.random((30, 80)) < 0.06
    relevant[:, 5] = True
    rank, hits, mask = _rank_view(scores, relevant)
    ref = _ranx_scores(scores, relevant, ["map@20", "recall@1", "recall@10", "mrr@10", "map"])
    np.testing.assert_allclose(M.average_precision(rank, hits, mask, k=20), ref["map@20"], rtol=1e-9)
    np.testing.assert_allclose(M.average_precision(rank, hits, mask), ref["map"], rtol=1e-9)
    np.testing.assert_allclose(M.recall_at(rank, mask, 1), ref["recall@1"], rtol=1e-9)
    np.testing.assert_allclose(M.recall_at(rank, mask, 10), ref["recall@10"], rtol=1e-9)
    np.testing.assert_allclose(M.reciprocal_rank_at(rank, mask, 10), ref["mrr@10"], rtol=1e-9)


def test_rank_distance_and_undefined_cases():
    rank = np.array([[3, 9, 4], [7, 0, 0], [2, 2, 0]])
    mask = np.array([[True, True, True], [True, False, False], [True, True, False]])
    out = M.rank_distance(rank, mask)
    assert out[0] == 6 and np.isnan(out[1]) and out[2] == 0
    no_relevant = M.average_precision(rank, rank, np.zeros_like(mask))
    assert np.isnan(no_relevant).all()
