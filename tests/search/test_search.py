from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from langmix.errors import LangmixError
from langmix.search import SearchResult, open_searchers, search_all
from langmix.search.search import MAX_QUERY_CHARS, Hit, check_k, check_query


def _result(langs: list[str]) -> SearchResult:
    return SearchResult("idx", "q", [Hit(i, 1.0 - i / 10, f"p{i}", lang, "", "") for i, lang in enumerate(langs, 1)])


def test_shares_count_languages_largest_first() -> None:
    result = _result(["zh", "en", "de", "en", "en", "zh", "en", "de", "en", "en"])
    assert result.shares() == [("en", 6), ("de", 2), ("zh", 2)]
    assert result.shares_line() == "top-10: en 6, de 2, zh 2"
    assert result.to_dict()["shares"][0] == {"lang": "en", "count": 6}


@pytest.mark.parametrize("query,message", [
    ("", "the query is empty"), ("  \n\t", "the query is empty"),
    ("x" * (MAX_QUERY_CHARS + 1), f"the query has {MAX_QUERY_CHARS + 1} characters"),
])
def test_bad_queries(query: str, message: str) -> None:
    with pytest.raises(LangmixError, match=message):
        check_query(query)


def test_query_is_stripped_and_k_bounded() -> None:
    assert check_query("  Wo liegt Berlin? ") == "Wo liegt Berlin?"
    assert check_k(100) == 100
    for k in (0, 101):
        with pytest.raises(LangmixError, match=f"k = {k} is out of range"):
            check_k(k)


def test_real_model_finds_the_fact_in_every_language(e5_index: Path) -> None:
    searcher = open_searchers([e5_index])[0]
    result = searcher.search("Wie hoch ist der Mount Everest?", k=6)
    assert [h.rank for h in result.hits] == [1, 2, 3, 4, 5, 6]
    assert all(a.score >= b.score for a, b in zip(result.hits, result.hits[1:], strict=False))
    assert result.hits[0].id == "everest-de"
    assert {h.id for h in result.hits} == {f"everest-{lang}" for lang in ("en", "de", "es", "zh", "ar", "hi")}
    assert result.shares_line() == "top-6: ar 1, de 1, en 1, es 1, hi 1, zh 1"


def test_k_beyond_the_collection_returns_all(tiny_index: Path) -> None:
    assert len(open_searchers([tiny_index])[0].search("Berlin", k=100).hits) == 31


def test_index_and_model_must_match(tiny_index: Path, e5_index: Path, embedded_model_path: Path,
                                    tiny_model_path: Path, tmp_path: Path) -> None:
    with pytest.raises(LangmixError, match=r"was built with model .*model'.*not with '.*multilingual-e5-small'"):
        open_searchers([tiny_index], model=str(embedded_model_path))
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model_path, copy)
    assert open_searchers([tiny_index], model=str(copy))[0].index.count == 31  # same files, other folder: fine
    weights = next(copy.rglob("model.safetensors"))
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # a retrained model: same name and shapes, other weights
    weights.write_bytes(bytes(data))
    with pytest.raises(LangmixError, match="fingerprint"):
        open_searchers([tiny_index], model=str(copy))


def test_recorded_model_gone(tiny_index: Path, tiny_model_path: Path, tmp_path: Path) -> None:
    import json

    from langmix.search.index import sealed

    moved = tmp_path / "idx"
    shutil.copytree(tiny_index, moved)
    meta = json.loads((moved / "index.json").read_text())  # resealed: a model moved away, not an edited index
    (moved / "index.json").write_text(json.dumps(sealed(meta | {"model": str(tmp_path / "deleted-model")})))
    with pytest.raises(LangmixError, match="which is not found here; pass --model"):
        open_searchers([moved])
    assert open_searchers([moved], model=str(tiny_model_path))[0].index.count == 31


def test_two_indexes_of_one_model_share_it_and_encode_once(tiny_index: Path, tmp_path: Path) -> None:
    twin = tmp_path / "twin"
    shutil.copytree(tiny_index, twin)
    first, second = open_searchers([tiny_index, twin])
    assert first.encoder is second.encoder
    calls = []
    encode = first.encoder.encode
    first.encoder.encode = lambda q: calls.append(q) or encode(q)
    results = search_all([first, second], " Berlin ", k=3)
    assert calls == ["Berlin"]
    assert [r.index for r in results] == ["random-init", "twin"]
    assert [h.id for h in results[0].hits] == [h.id for h in results[1].hits]


def test_one_query_runs_on_one_thread_and_the_counts_come_back() -> None:
    import faiss
    import torch

    from langmix.search.threads import cpu_threads

    torch_before, faiss_before = torch.get_num_threads(), faiss.omp_get_max_threads()
    with cpu_threads():
        assert (torch.get_num_threads(), faiss.omp_get_max_threads()) == (1, 1)
    assert (torch.get_num_threads(), faiss.omp_get_max_threads()) == (torch_before, faiss_before)
