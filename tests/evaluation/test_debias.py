"""LIR and document centering on synthetic embeddings whose language component is known."""

from __future__ import annotations

import numpy as np
import pytest

from langmix.data.lareqa import LareqaBenchmark, LareqaLanguage, Question
from langmix.errors import LangmixError
from langmix.evaluation.debias import Debias, center_candidates, debias_embeddings, fit_lir, lir, parse_debias
from langmix.evaluation.lareqa import LareqaEmbeddings, build_layout, score_embeddings, score_lareqa

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


@pytest.mark.parametrize(("spec", "expected", "name"), [
    ("lir", Debias("lir", 1), "lir:1"), ("lir:3", Debias("lir", 3), "lir:3"), ("lir:0", Debias("lir", 0), "lir:0"),
    ("center", Debias("center"), "center:1"), ("center:0.5", Debias("center", strength=0.5), "center:0.5"),
    ("center:2", Debias("center", strength=2.0), "center:2"),
])
def test_parse_debias(spec, expected, name):
    assert parse_debias(spec) == expected and expected.name == name


@pytest.mark.parametrize("spec", [None, ""])
def test_no_spec_is_no_debiasing(spec):
    assert parse_debias(spec) is None


@pytest.mark.parametrize(("spec", "words"), [
    ("pca", "unknown debias method 'pca'"), ("lir:x", "no int K"), ("lir:-1", "K < 0"), ("lir:0.5", "no int K"),
    ("center:x", "no float S"), ("center:-0.5", "S < 0"), ("center:nan", "non-finite S"),
    ("center:inf", "non-finite S"),
])
def test_parse_debias_refuses_bad_specs(spec, words):
    with pytest.raises(LangmixError, match=words):
        parse_debias(spec)


def test_query_language_without_candidates_is_refused():
    emb, lang, _ = synthetic()
    with pytest.raises(LangmixError, match="no candidates"):
        lir(emb, lang + 5, emb, lang, k=1)


def test_center_subtracts_each_languages_candidate_mean_times_the_strength_and_leaves_queries_alone():
    emb, lang, _ = synthetic()
    out = center_candidates(emb, lang, 0.5)
    for language in range(LANGS):
        rows = lang == language
        np.testing.assert_allclose(out[rows], emb[rows] - 0.5 * emb[rows].mean(0), atol=1e-6)  # not re-normalised
    queries = emb[:5].copy()
    q, c = debias_embeddings(Debias("center"), queries, lang[:5], emb, lang)
    assert q is queries and np.array_equal(queries, emb[:5])
    np.testing.assert_allclose(c, center_candidates(emb, lang, 1.0))


def test_center_pulls_a_language_biased_pool_towards_meaning():
    emb, lang, _ = synthetic()
    assert translation_hit_rate(emb, center_candidates(emb, lang), lang) > translation_hit_rate(emb, emb, lang)


def parallel_benchmark(n: int = 40) -> LareqaBenchmark:
    """Questions q0..q{n-1} in de, en and fr; question i's answer is sentence i of its language."""
    def language(lang: str) -> LareqaLanguage:
        questions = [Question(f"q{i}", f"{lang} question {i}", i, "article") for i in range(n)]
        return LareqaLanguage(lang, questions, [f"{lang} {i}" for i in range(n)], [""] * n, list(range(n)))

    return LareqaBenchmark("parallel", {lang: language(lang) for lang in ("de", "en", "fr")})


def biased_embeddings(benchmark: LareqaBenchmark, seed: int = 0) -> LareqaEmbeddings:
    """Unit rows: a meaning per question id (its query and its answers share it), noise, and an offset per
    language on queries and candidates alike, so a query prefers its own language's candidates."""
    layout = build_layout(benchmark)
    rng = np.random.default_rng(seed)
    offsets = rng.normal(size=(len(layout.langs), D))
    meaning = {qid.split(":")[1]: rng.normal(size=D) for qid in layout.query_ids}
    candidates = 0.7 * rng.normal(size=(len(layout.cand_lang), D)) + offsets[layout.cand_lang]
    queries = 0.7 * rng.normal(size=(len(layout.query_ids), D)) + offsets[layout.query_lang]
    for row, (qid, answers) in enumerate(zip(layout.query_ids, layout.relevant, strict=True)):
        queries[row] += meaning[qid.split(":")[1]]
        candidates[answers[answers >= 0]] += meaning[qid.split(":")[1]] / 3  # added by each of the 3 translations
    unit = [e / np.linalg.norm(e, axis=1, keepdims=True) for e in (queries, candidates)]
    return LareqaEmbeddings(*(e.astype(np.float32) for e in unit), "synthetic")


def test_center_keeps_every_within_language_ranking_and_moves_only_the_multilingual_pool():
    """Mono X and cross X->Y rank one language's candidates, which all move by the same score per query:
    their per-query values stay equal, bit for bit, while the multilingual pool improves."""
    benchmark = parallel_benchmark()
    embeddings = biased_embeddings(benchmark)
    plain = score_embeddings(benchmark, embeddings)
    centred = score_embeddings(benchmark, embeddings, debias=Debias("center"))
    for key in ("mono/map", "cross/map"):
        assert centred.per_query[f"parallel/{key}"] == plain.per_query[f"parallel/{key}"]
        assert centred.metrics[f"parallel/{key}"] == plain.metrics[f"parallel/{key}"]
    assert plain.metrics["parallel/mono/map"] < 1  # not a trivially perfect ranking
    assert centred.info["debias"] == "center:1"
    assert centred.metrics["parallel/multi/map"] > plain.metrics["parallel/multi/map"]
    assert centred.metrics["parallel/rank_distance"] < plain.metrics["parallel/rank_distance"]
    # the fixture can tell: re-normalising the centred candidates reorders a language's own candidates
    moved = center_candidates(embeddings.candidates, build_layout(benchmark).cand_lang)
    renormalised = score_lareqa(benchmark, embeddings.queries, moved / np.linalg.norm(moved, axis=1, keepdims=True))
    assert renormalised.per_query["parallel/mono/map"] != plain.per_query["parallel/mono/map"]
