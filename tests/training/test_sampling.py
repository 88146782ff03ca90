"""Batch samplers: the language rule of each strategy, no duplicate ids, determinism, length, resume.

Random corpora (hypothesis) draw, per record, query and passage languages among en/de/zh/ar and a
``cross_only`` flag; the expected number of usable records and the infeasible cases are computed here
independently of langmix.training.sampling, from the strategy definitions.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from langmix.data.parallel import Pair, ParallelCorpus, ParallelRecord
from langmix.errors import LangmixError
from langmix.training.sampling import STRATEGIES, HybridBatchSampler, batch_makeup, make_sampler

LANGS = ("en", "de", "zh", "ar")


@st.composite
def corpora(draw) -> ParallelCorpus:
    n = draw(st.integers(1, 60))
    records = []
    for i in range(n):
        queries = draw(st.sets(st.sampled_from(LANGS), min_size=1))
        passages = draw(st.sets(st.sampled_from(LANGS), min_size=1))
        records.append(
            ParallelRecord(
                f"r{i}",
                {lang: f"q{i}{lang}" for lang in queries},
                {lang: f"p{i}{lang}" for lang in passages},
                cross_only=draw(st.booleans()) and i % 3 == 0,
            )
        )
    return ParallelCorpus(records, "random")


def full_corpus(n: int = 400, langs: tuple[str, ...] = LANGS) -> ParallelCorpus:
    """``n`` records with a query and a passage in every language of ``langs``."""
    return ParallelCorpus(
        [
            ParallelRecord(f"r{i}", {lang: f"q{i}{lang}" for lang in langs}, {lang: f"p{i}{lang}" for lang in langs})
            for i in range(n)
        ],
        "full",
    )


def mono(record: ParallelRecord) -> set[str]:
    return set() if record.cross_only else set(record.queries) & set(record.passages)


def cross(record: ParallelRecord) -> set[tuple[str, str]]:
    return {(q, p) for q in record.queries for p in record.passages if q != p}


def expected_size(strategy: str, data: ParallelCorpus, batch_size: int, alpha: float) -> int | None:
    """Usable records by the strategy definition, or None where construction must fail."""
    records = data.records
    if strategy in ("x-x", "en-en"):
        wanted = (lambda r: mono(r)) if strategy == "x-x" else (lambda r: mono(r) & {"en"})
        if strategy == "en-en" and "en" not in data.languages:
            return None
        n = sum(bool(wanted(r)) for r in records)
        return n if n >= batch_size else None
    pools = {lang: sum(lang in mono(r) for r in records) for lang in LANGS}
    big = {lang for lang, v in pools.items() if v >= batch_size}  # smaller languages are skipped
    mono_ok = bool(big)
    mono_ids = {i for i, r in enumerate(records) if mono(r) & big}
    cross_ids = {i for i, r in enumerate(records) if cross(r)}
    cross_ok = len(data.languages) >= 2 and len(cross_ids) >= batch_size
    if strategy == "x-x-mono":
        return len(mono_ids) if mono_ok else None
    if strategy == "x-y":
        return len(cross_ids) if cross_ok else None
    need_mono, need_cross = alpha > 0, alpha < 1  # hybrid
    if (need_mono and not mono_ok) or (need_cross and not cross_ok):
        return None
    return len((mono_ids if need_mono else set()) | (cross_ids if need_cross else set()))


def is_mono_batch(batch: list[Pair], data: ParallelCorpus) -> bool:
    langs = {p.query_lang for p in batch} | {p.passage_lang for p in batch}
    return len(langs) == 1 and all(p.query_lang in mono(data.records[p.record]) for p in batch)


def is_cross_batch(batch: list[Pair], data: ParallelCorpus) -> bool:
    return all((p.query_lang, p.passage_lang) in cross(data.records[p.record]) for p in batch)


def obeys_rule(strategy: str, batch: list[Pair], data: ParallelCorpus) -> bool:
    per_pair_mono = all(p.query_lang == p.passage_lang and p.query_lang in mono(data.records[p.record]) for p in batch)
    return {
        "x-x-mono": is_mono_batch(batch, data),
        "x-y": is_cross_batch(batch, data),
        "hybrid": is_mono_batch(batch, data) or is_cross_batch(batch, data),
        "x-x": per_pair_mono,
        "en-en": per_pair_mono and all(p.query_lang == "en" for p in batch),
    }[strategy]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=corpora(),
    strategy=st.sampled_from(STRATEGIES),
    batch_size=st.integers(1, 12),
    seed=st.integers(0, 2**31),
    epoch=st.integers(0, 5),
    alpha=st.sampled_from([0.0, 0.3, 1.0]),
    drop_last=st.booleans(),
)
def test_every_batch_obeys_the_strategy(data, strategy, batch_size, seed, epoch, alpha, drop_last):
    size = expected_size(strategy, data, batch_size, alpha)
    if size is None:
        with pytest.raises(LangmixError):
            make_sampler(strategy, data, batch_size, seed=seed, alpha=alpha, drop_last=drop_last)
        return
    sampler = make_sampler(strategy, data, batch_size, seed=seed, alpha=alpha, drop_last=drop_last)
    sampler.set_epoch(epoch)
    batches = list(sampler)
    assert len(batches) == len(sampler) == (size // batch_size if drop_last else math.ceil(size / batch_size))
    for batch in batches:
        ids = [data.records[p.record].id for p in batch]
        assert len(ids) == len(set(ids)), "a record id twice in one batch"
        assert obeys_rule(strategy, batch, data), (strategy, batch)
    assert sum(map(len, batches)) == (len(batches) * batch_size if drop_last else size)
    assert batches == list(sampler), "same seed and epoch must replay the same batches"


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_seed_and_epoch_determine_the_batches(strategy):
    data = full_corpus()
    first = make_sampler(strategy, data, 16, seed=7)
    torch.manual_seed(123)  # the global RNG must neither influence nor be consumed by the sampler
    global_state = torch.get_rng_state()
    batches = list(first)
    assert torch.equal(torch.get_rng_state(), global_state)
    torch.manual_seed(456)
    assert list(make_sampler(strategy, data, 16, seed=7)) == batches
    first.set_epoch(1)
    assert list(first) != batches
    assert list(make_sampler(strategy, data, 16, seed=8)) != batches


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_state_dict_resumes_mid_epoch(strategy):
    data = full_corpus()
    original = make_sampler(strategy, data, 16, seed=3, alpha=0.4)
    original.set_epoch(2)
    uninterrupted = list(original)
    state = original.state_dict()
    resumed = make_sampler(strategy, data, 16, seed=0, alpha=0.4)
    resumed.load_state_dict(state)
    # the trainer skips the k batches it already did
    assert list(resumed)[5:] == uninterrupted[5:]
    assert resumed.state_dict() == state


def test_load_state_dict_refuses_other_options():
    state = make_sampler("x-y", full_corpus(), 16).state_dict()
    with pytest.raises(LangmixError, match="batch_size"):
        make_sampler("x-y", full_corpus(), 8).load_state_dict(state)
    with pytest.raises(LangmixError, match="strategy"):
        make_sampler("x-x", full_corpus(), 16).load_state_dict(state)


@pytest.mark.parametrize("alpha", [0.2, 0.5, 0.9])
def test_hybrid_mono_share_within_binomial_bound(alpha):
    data = full_corpus(200)
    sampler = make_sampler("hybrid", data, 8, seed=11, alpha=alpha)
    kinds = []
    for epoch in range(20):
        sampler.set_epoch(epoch)
        kinds += [is_mono_batch(batch, data) for batch in sampler]
    n, mono_batches = len(kinds), sum(kinds)
    # mono batches ~ Binomial(n, alpha); with 4 languages a 8-pair x-y batch is never mono and vice versa
    assert abs(mono_batches - n * alpha) <= 4 * math.sqrt(n * alpha * (1 - alpha))


def test_hybrid_proportional_alpha_counts_combinations():
    # every record has 4 mono and 4 * 3 = 12 cross combinations: alpha = 4 / 16
    assert make_sampler("hybrid", full_corpus(50), 8, alpha="proportional").alpha == pytest.approx(0.25)
    # adding cross-only records (6 cross each for 3 languages) lowers it: 50*4 / (50*16 + 50*6)
    cross_only = [
        ParallelRecord(f"c{i}", {x: x for x in ("en", "de", "zh")}, {x: x for x in ("en", "de", "zh")}, cross_only=True)
        for i in range(50)
    ]
    mixed = ParallelCorpus(full_corpus(50).records + cross_only)
    assert HybridBatchSampler(mixed, 8, alpha="proportional").alpha == pytest.approx(200 / 1100)


def test_mono_language_drawn_in_proportion_to_its_records():
    # 300 records in en and de, 100 more only in en: en has 400 of 700 mono records
    records = full_corpus(300, ("en", "de")).records + [
        ParallelRecord(f"e{i}", {"en": "q"}, {"en": "p"}) for i in range(100)
    ]
    sampler = make_sampler("x-x-mono", ParallelCorpus(records), 10, seed=5)
    langs = []
    for epoch in range(30):
        sampler.set_epoch(epoch)
        langs += [batch[0].query_lang for batch in sampler]
    n, p = len(langs), 400 / 700
    assert abs(langs.count("en") - n * p) <= 4 * math.sqrt(n * p * (1 - p))


def test_x_y_draws_every_cross_combination():
    sampler = make_sampler("x-y", full_corpus(100, ("en", "de", "zh")), 10, seed=1)
    seen = set()
    for epoch in range(5):
        sampler.set_epoch(epoch)
        seen |= {(p.query_lang, p.passage_lang) for batch in sampler for p in batch}
    assert seen == {(q, p) for q in ("en", "de", "zh") for p in ("en", "de", "zh") if q != p}


def test_language_restriction():
    sampler = make_sampler("x-x", full_corpus(), 8, languages=["de", "zh"])
    assert {p.query_lang for batch in sampler for p in batch} == {"de", "zh"}


@pytest.mark.parametrize(
    "strategy, data, kw, message",
    [
        ("y-y", full_corpus(20), {}, "unknown strategy 'y-y'; use one of x-x-mono, x-y, hybrid, x-x, en-en"),
        ("en-en", full_corpus(20, ("de", "zh")), {}, "no language en"),
        ("x-y", full_corpus(20, ("en",)), {}, "x-y needs at least 2 languages"),
        ("x-x", full_corpus(20), {"batch_size": 21}, "batches of 21 need that many records but 'full' has 20"),
        ("hybrid", full_corpus(20), {"alpha": 1.5}, "alpha 1.5 is not in"),
        ("hybrid", full_corpus(20), {"alpha": "half"}, "alpha 'half' is not in"),
        (
            "x-x-mono",
            ParallelCorpus([ParallelRecord("m", {"en": "a", "de": "b"}, {"en": "a", "de": "b"}, cross_only=True)]),
            {"batch_size": 1},
            "monolingual pairs",
        ),
        ("x-x", full_corpus(20), {"languages": ["fr"]}, "no language fr"),
        ("x-x", full_corpus(20), {"shuffle": True}, "unknown option"),
    ],
)
def test_bad_requests_fail_with_one_line(strategy, data, kw, message):
    kw = {"batch_size": 4, **kw}
    with pytest.raises(LangmixError, match=message.replace("(", r"\(")) as err:
        make_sampler(strategy, data, **kw)
    assert "\n" not in str(err.value)


def test_batch_makeup():
    assert batch_makeup([Pair(0, "en", "en"), Pair(1, "de", "en"), Pair(2, "de", "en")]) == {
        "mono_share": 1 / 3,
        "cross_share": 1 - 1 / 3,
        "languages": ["de", "en"],
        "pair_counts": {"de-en": 2, "en-en": 1},
    }


def test_x_x_mono_skips_languages_too_small_for_a_batch():
    records = full_corpus(20, ("en",)).records + [ParallelRecord(f"d{i}", {"de": "q"}, {"de": "p"}) for i in range(3)]
    with pytest.warns(UserWarning, match="skips {'de': 3}"):
        sampler = make_sampler("x-x-mono", ParallelCorpus(records), 8)
    assert len(sampler) == 20 // 8 and {p.query_lang for batch in sampler for p in batch} == {"en"}
