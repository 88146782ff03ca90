"""LIR on synthetic embeddings whose language component is known."""

from __future__ import annotations

import numpy as np
import pytest

from langmix.errors import LangmixError
from langmix.evaluation.debias import Debias, fit_lir, lir, parse_debias

D, N, LANGS = 32, 200, 3


def synthetic(seed: int = 0):
    """Meaning s_i shared by the translations of item i; language l adds a fixed offset o_l plus a random
    amount along its own direction v_l; everything L2-normalised. Returns (emb (L*N, d), lang (L*N,), v)."""
    rng = np.random.default_rng(seed)
    meaning = rng.normal(size=(N, D))
    offsets = 3.0 * rng.normal(size=(LANGS, D))
    directions = np.linalg.qr(rng.normal(size=(D, LANGS)))[0].T  # (L, d) orthonormal
    rows, langs = [], []
    for lang in range(LANGS):
        spread = 4.0 * rng.normal(size=(N, 1)) * directions[lang]
        rows.append(meaning + offsets[lang] + spread + 0.1 * rng.normal(size=(N, D)))
        langs += [lang] * N
    emb = np.concatenate(rows)
    return (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32), np.array(langs), directions


def translation_hit_rate(queries, candidates, lang) -> float:
    """Share of queries whose best match in the multilingual pool (every other text, all languages) is a
    translation of the same item in another language, not a same-language text."""
    scores = queries @ candidates.T
    item = np.tile(np.arange(N), LANGS)
    np.fill_diagonal(scores, -np.inf)  # the query's own text is not a candidate
    best = scores.argmax(1)
    return float(np.mean((item[best] == item) & (lang[best] != lang)))


def test_fit_removes_the_known_language_direction():
    emb, lang, directions = synthetic()
    for language in range(LANGS):
        own = emb[lang == language]
        projection = fit_lir(own, 1)
        assert abs(projection.directions[0] @ directions[language]) > 0.9  # the top direction is the language's
        out = projection.apply(own)
        np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
        assert np.abs(out @ directions[language]).mean() < 0.1 * np.abs(own @ directions[language]).mean()


def test_lir_turns_a_language_biased_pool_into_a_meaning_ranked_one():
    emb, lang, _ = synthetic()
    before = translation_hit_rate(emb, emb, lang)
    q, c = lir(emb, lang, emb, lang, k=1)
    after = translation_hit_rate(q, c, lang)
    assert before < 0.2 and after > 0.9, (before, after)
    q0, c0 = lir(emb, lang, emb, lang, k=0)  # the mean alone leaves the spread direction in place
    assert translation_hit_rate(q0, c0, lang) < after


@pytest.mark.parametrize(("spec", "expected"), [("lir", Debias("lir", 1)), ("lir:3", Debias("lir", 3)),
                                                ("lir:0", Debias("lir", 0)), (None, None), ("", None)])
def test_parse_debias(spec, expected):
    assert parse_debias(spec) == expected


@pytest.mark.parametrize("spec", ["pca", "lir:x", "lir:-1"])
def test_parse_debias_refuses_bad_specs(spec):
    with pytest.raises(LangmixError):
        parse_debias(spec)


def test_query_language_without_candidates_is_refused():
    emb, lang, _ = synthetic()
    with pytest.raises(LangmixError, match="no candidates"):
        lir(emb, lang + 5, emb, lang, k=1)
