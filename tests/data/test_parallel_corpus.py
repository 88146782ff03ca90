"""ParallelCorpus: id-level split, language filtering, weighted mixing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from langmix.data import parallel
from langmix.data.parallel import ParallelCorpus, ParallelRecord, mix
from langmix.errors import LangmixError


def corpus(n: int, name: str = "c", langs: tuple[str, ...] = ("en", "de")) -> ParallelCorpus:
    """``n`` records ``<name>:<i>`` with query and passage ``"<lang> q<i>"`` / ``"<lang> p<i>"`` in ``langs``."""
    return ParallelCorpus(
        [
            ParallelRecord(
                f"{name}:{i}",
                {lang: f"{lang} q{i}" for lang in langs},
                {lang: f"{lang} p{i}" for lang in langs},
                source=name,
            )
            for i in range(n)
        ],
        name,
    )


@settings(max_examples=30, deadline=None)
@given(n=st.integers(20, 300), fraction=st.floats(0.05, 0.5), seed=st.integers(0, 2**31))
def test_split_by_id_is_disjoint_complete_and_stable(n, fraction, seed):
    data = corpus(n)
    hashed_dev = {r.id for r in data.records if parallel.unit_hash(f"{seed}:{r.id}") < fraction}
    if not hashed_dev:  # small n, small fraction: an empty dev split is refused, not returned
        with pytest.raises(LangmixError, match="leaves"):
            data.split(fraction, seed)
        return
    train, dev = data.split(fraction, seed)
    assert {r.id for r in dev.records} == hashed_dev
    train_ids, dev_ids = {r.id for r in train.records}, {r.id for r in dev.records}
    assert not train_ids & dev_ids
    assert train_ids | dev_ids == {r.id for r in data.records}
    # an id's side depends on (seed, id) only: reordering the corpus or adding records does not move it
    _, dev_of_more = ParallelCorpus(data.records[::-1] + corpus(50, "z").records, "c").split(fraction, seed)
    assert {r.id for r in dev_of_more.records} & train_ids == set()
    assert dev_ids <= {r.id for r in dev_of_more.records}


def test_split_fraction_is_close_to_requested():
    _, dev = corpus(2000).split(0.1, seed=3)
    # binomial(2000, 0.1): sd = 13.4; 4 sd bound
    assert abs(len(dev) - 200) <= 4 * (2000 * 0.1 * 0.9) ** 0.5
    assert {r.id for r in corpus(2000).split(0.1, seed=4)[1].records} != {r.id for r in dev.records}


def test_split_errors():
    with pytest.raises(LangmixError, match="outside"):
        corpus(10).split(1.0, 0)
    with pytest.raises(LangmixError, match="leaves"):
        corpus(1).split(0.01, 0)


def test_filter_languages_drops_records_without_pairs():
    data = ParallelCorpus(
        [ParallelRecord("a", {"en": "q"}, {"de": "p"}), ParallelRecord("b", {"en": "q"}, {"en": "p"})]
    )
    assert [r.id for r in data.filter_languages(["en"]).records] == ["b"]
    assert data.filter_languages(["en", "de"]).records[0].cross_pairs == (("en", "de"),)
    with pytest.raises(LangmixError, match="no language fr"):
        data.filter_languages(["fr"])


def test_mix_weights_set_shares_without_repeating_records():
    a, b = corpus(100, "a"), corpus(1000, "b")
    mixed = mix([a, b], [0.5, 0.5], seed=0)
    sources = [r.source for r in mixed.records]
    # N = min(100 / 0.5, 1000 / 0.5) = 200 records, half from each
    assert sources.count("a") == 100 and sources.count("b") == 100
    assert len({r.id for r in mixed.records}) == len(mixed)
    assert mix([a, b], [0.5, 0.5], seed=0).records == mixed.records
    assert mix([a, b], [0.5, 0.5], seed=1).records != mixed.records
    assert len(mix([a, b], None, seed=0)) == 1100
    assert [r.source for r in mix([a, b], [0, 1], seed=0).records].count("a") == 0


def test_mix_errors():
    with pytest.raises(LangmixError, match="twice"):
        mix([corpus(3, "a"), corpus(3, "a")], None, seed=0)
    with pytest.raises(LangmixError, match="weights"):
        mix([corpus(3, "a")], [1, 2], seed=0)
    with pytest.raises(LangmixError, match="no corpus"):
        mix([], None, seed=0)
