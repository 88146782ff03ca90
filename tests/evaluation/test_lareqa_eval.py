"""LAReQA metrics: a hand-computed case, a sklearn cross-check of the blocked engine, subsets, errors."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from langmix.data.lareqa import load_lareqa
from langmix.errors import LangmixError
from langmix.evaluation.lareqa import (
    LareqaEvaluator,
    build_layout,
    evaluate_lareqa,
    rank_table,
    score_lareqa,
    subset_benchmark,
)

# Rows: queries de:a de:b de:c en:a en:b en:c en:d fr:a fr:b; columns: candidates d0 d1 d2 e0 e1 e2 e3 f0 f1
# (d_i / e_i / f_i answer question a, b, c, d in that order). Unless written out, a query scores its
# own-language answer 1, its other-language answers 0.5, everything else 0.
EN_A = [0.5, 0.1, 0.0, 0.9, 0.95, 0.2, 0.3, 0.4, 0.7]
DE_B = [0.6, 0.8, 0.1, 0.2, 0.3, 0.9, 0.0, 0.5, 0.3]  # e1 and f1 tie at 0.3


def hand_scores(layout) -> np.ndarray:
    rows = []
    for r, uid in enumerate(layout.query_ids):
        if uid == "en:a":
            rows.append(EN_A)
        elif uid == "de:b":
            rows.append(DE_B)
        else:
            row = np.zeros(len(layout.cand_lang))
            for lang, cand in enumerate(layout.relevant[r]):
                if cand >= 0:
                    row[cand] = 1.0 if lang == layout.query_lang[r] else 0.5
            rows.append(row)
    return np.array(rows, dtype=np.float32)


@pytest.fixture
def hand_case(lareqa_tiny):
    benchmark = load_lareqa(lareqa_tiny)
    layout = build_layout(benchmark)
    # Identity candidates turn query rows into the score matrix itself.
    return benchmark, layout, hand_scores(layout), np.eye(len(layout.cand_lang), dtype=np.float32)


def test_layout_of_tiny_case(hand_case):
    _, layout, _, _ = hand_case
    assert layout.langs == ["de", "en", "fr"]
    assert layout.query_ids == ["de:a", "de:b", "de:c", "en:a", "en:b", "en:c", "en:d", "fr:a", "fr:b"]
    assert layout.relevant[3].tolist() == [0, 3, 7]  # en:a -> d0, e0, f0
    assert layout.relevant[6].tolist() == [-1, 6, -1]  # en:d exists in English only


def test_hand_computed_metrics(hand_case):
    benchmark, _, queries, candidates = hand_case
    result = score_lareqa(benchmark, queries, candidates)
    m, q = result.metrics, result.per_query
    name = benchmark.name
    # en:a multi ranks e0=2, d0=4, f0=5: AP = (1/2 + 2/4 + 3/5) / 3; de:b ranks d1=2, e1=f1=6 (tie): AP = 0.5
    assert q[f"{name}/multi/map"]["en:a"] == pytest.approx(1.6 / 3)
    assert q[f"{name}/multi/map"]["de:b"] == pytest.approx(0.5)
    assert m[f"{name}/multi/map"] == pytest.approx((1.6 / 3 + 0.5 + 7) / 9)
    assert m[f"{name}/multi/map/en"] == pytest.approx((1.6 / 3 + 3) / 4)
    # mono: en:a ranks e0 second among English -> 1/2; all else 1. Macro over de, en, fr.
    assert m[f"{name}/mono/map/en"] == pytest.approx(3.5 / 4)
    assert m[f"{name}/mono/map"] == pytest.approx((3.5 / 4 + 1 + 1) / 3)
    # cross: en->fr (en:a 1/2, en:b 1), de->en (1, 1/2, 1), de->fr (1, 1/2); en->de, fr->en, fr->de perfect.
    assert m[f"{name}/cross/map/en-fr"] == pytest.approx(0.75)
    assert m[f"{name}/cross/map/de-en"] == pytest.approx(2.5 / 3)
    assert m[f"{name}/cross/map/en-de"] == pytest.approx(1.0)
    assert result.info["n_cross_pairs"] == 6
    assert m[f"{name}/cross/map"] == pytest.approx((1 + 0.75 + 2.5 / 3 + 0.75 + 1 + 1) / 6)
    assert not np.isnan(result.pair_map[2, 1])  # fr->en exists
    # rank distance: en:a 5-2, en:b 3-1 (tie of the other two), en:c 2-1, en:d undefined; de 2, 4, 1; fr 2, 2
    assert q[f"{name}/rank_distance"]["en:a"] == 3 and "en:d" not in q[f"{name}/rank_distance"]
    assert m[f"{name}/rank_distance/de"] == pytest.approx(7 / 3)
    assert m[f"{name}/rank_distance"] == pytest.approx((2 + 7 / 3 + 2) / 3)
    # own answer removed: en:a -> d0 rank 3, f0 rank 4: (1/3 + 2/4)/2; de:b -> e1, f1 rank 5, 2 hits: 0.4
    assert q[f"{name}/bias/map_without_own"]["en:a"] == pytest.approx((1 / 3 + 0.5) / 2)
    assert q[f"{name}/bias/map_without_own"]["de:b"] == pytest.approx(0.4)
    # multilingual-pool cut metrics for en:a: best relevant at rank 2
    assert q[f"{name}/multi/mrr@10"]["en:a"] == pytest.approx(0.5)
    assert q[f"{name}/multi/recall@1"]["en:a"] == 0.0
    assert m[f"{name}/multi/recall@1"] == pytest.approx((0 + 0 + 1 / 3 + 1 / 2 + 1 + 1 / 3 + 1 / 2 + 1 / 3 + 1 / 3) / 9)


def test_own_language_share_of_top_k(hand_case):
    benchmark, layout, queries, candidates = hand_case
    table = rank_table(layout, queries, candidates, top_k=3)
    # en:a top 3: e1, e0, f1 -> 2/3 English; de:b top 3: e2, d1, d0 -> 2/3 German
    assert table.own_top[layout.query_ids.index("en:a")] == pytest.approx(2 / 3)
    assert table.own_top[layout.query_ids.index("de:b")] == pytest.approx(2 / 3)


def test_engine_matches_sklearn_with_ties_and_any_block_size(lareqa_tiny):
    benchmark = load_lareqa(lareqa_tiny)
    layout = build_layout(benchmark)
    rng = np.random.default_rng(0)
    queries = rng.integers(0, 3, (len(layout.query_ids), 4)).astype(np.float32)  # few levels: many ties
    candidates = rng.integers(0, 3, (len(layout.cand_lang), 4)).astype(np.float32)
    scores = queries @ candidates.T
    result = score_lareqa(benchmark, queries, candidates, block_size=2)
    same = score_lareqa(benchmark, queries, candidates, block_size=1000)
    assert result.metrics == same.metrics
    for r, uid in enumerate(layout.query_ids):
        truth = np.zeros(len(layout.cand_lang), dtype=bool)
        truth[layout.relevant[r][layout.relevant[r] >= 0]] = True
        expected = average_precision_score(truth, scores[r])
        assert result.per_query[f"{benchmark.name}/multi/map"][uid] == pytest.approx(expected)


def test_mock_model_end_to_end_and_evaluator(lareqa_tiny, keyword_model):
    benchmark = load_lareqa(lareqa_tiny)
    result, emb = evaluate_lareqa(keyword_model, benchmark, mode="sentence")
    # Keyword embeddings: every answer sentence ties only with its translations -> perfect retrieval.
    assert result.metrics[f"{benchmark.name}/multi/map"] == pytest.approx(1.0)
    assert result.metrics[f"{benchmark.name}/cross/map"] == pytest.approx(1.0)
    assert emb.queries.shape == (9, 7) and result.mode == "sentence"
    evaluator = LareqaEvaluator(benchmark, mode="context")
    metrics = evaluator(keyword_model)
    assert evaluator.primary_metric in metrics and evaluator.greater_is_better


def test_subset_restricts_questions_and_pool(lareqa_tiny):
    benchmark = load_lareqa(lareqa_tiny)
    sub = subset_benchmark(benchmark, qids=["c", "d"])
    assert sorted(sub.languages) == ["de", "en"]  # fr has neither c nor d
    en = sub.languages["en"]
    assert [q.qid for q in en.questions] == ["c", "d"] and len(en.sentences) == 2  # their paragraph only
    assert en.sentences[en.questions[0].answer] == "en sentence about cherry."
    whole = subset_benchmark(benchmark, qids=["c"], restrict_pool=False)
    assert len(whole.languages["en"].sentences) == 4
    with pytest.raises(LangmixError, match="no question"):
        subset_benchmark(benchmark, qids=["zzz"])


def test_embedding_count_and_dim_mismatch_are_one_line_errors(hand_case):
    benchmark, _, queries, candidates = hand_case
    with pytest.raises(LangmixError, match="candidate embeddings") as err:
        score_lareqa(benchmark, queries, candidates[:-1])
    assert "\n" not in str(err.value)
    with pytest.raises(LangmixError, match="dim"):
        score_lareqa(benchmark, queries[:, :5], candidates)
