from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import langmix.encoding
from langmix.errors import LangmixError
from langmix.search import build_search_index, load_index, read_passages
from langmix.search.index import partial_dir, read_meta
from langmix.search.models import model_fingerprint


def test_build_writes_a_complete_index(collection: Path, tiny_index: Path, tiny_model_path: Path) -> None:
    index = load_index(tiny_index)
    meta = index.meta
    assert (meta["count"], meta["dim"], meta["index"]) == (31, 32, "flat")
    assert meta["model"] == str(tiny_model_path.resolve())
    assert meta["model_fingerprint"] == model_fingerprint(tiny_model_path)
    assert meta["languages"] == {"en": 6, "ar": 5, "de": 5, "es": 5, "hi": 5, "zh": 5}
    passages = read_passages(str(collection))
    assert index.store.get([0, 30, 7]) == [passages[0], passages[30], passages[7]]
    # the faiss rows are the passages' embeddings with the passage prompt, in collection order
    from langmix.model import encode, load_model

    expected = encode(load_model(tiny_model_path), [p.text for p in passages], "passage")
    np.testing.assert_allclose(index.faiss_index.reconstruct_n(0, 31), expected, atol=1e-5)
    assert not partial_dir(tiny_index).exists()


class Interrupt:
    """Wraps encode_fast: counts calls and raises KeyboardInterrupt on call number ``at`` (1-based)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, at: int | None) -> None:
        self.real, self.at, self.calls = langmix.encoding.encode_fast, at, 0
        monkeypatch.setattr(langmix.encoding, "encode_fast", self)

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return self.real(*args, **kwargs)


def test_interrupted_build_never_loads_and_resumes(collection: Path, tiny_model_path: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    passages, out = read_passages(str(collection)), tmp_path / "idx"
    build = dict(passages=passages, model=str(tiny_model_path), out=out, shard_size=8, show_progress=False)
    first = Interrupt(monkeypatch, at=3)  # 4 shards of 8: two are saved, the third is interrupted
    with pytest.raises(KeyboardInterrupt):
        build_search_index(**build)
    assert first.calls == 3
    assert not out.exists()
    assert len(list(partial_dir(out).glob("shard-*.npy"))) == 2
    with pytest.raises(LangmixError, match="is half-built .*rerun the same 'langmix index' command"):
        load_index(out)
    second = Interrupt(monkeypatch, at=None)
    build_search_index(**build)
    assert second.calls == 2  # only the two missing shards
    assert load_index(out).count == 31 and not partial_dir(out).exists()


def test_interrupted_rebuild_keeps_the_old_index(collection: Path, tiny_index: Path, tiny_model_path: Path,
                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "idx"
    shutil.copytree(tiny_index, out)
    Interrupt(monkeypatch, at=1)
    with pytest.raises(KeyboardInterrupt):
        build_search_index(read_passages(str(collection))[:5], str(tiny_model_path), out, show_progress=False)
    assert load_index(out).count == 31


def test_changed_collection_discards_saved_shards(collection: Path, tiny_model_path: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    passages, out = read_passages(str(collection)), tmp_path / "idx"
    Interrupt(monkeypatch, at=2)
    with pytest.raises(KeyboardInterrupt):
        build_search_index(passages, str(tiny_model_path), out, shard_size=8, show_progress=False)
    counter = Interrupt(monkeypatch, at=None)
    build_search_index(passages[1:], str(tiny_model_path), out, shard_size=8, show_progress=False)
    assert counter.calls == 4  # 30 passages: every shard encoded afresh
    assert load_index(out).store.get([0])[0].id == passages[1].id


def test_refuses_to_replace_a_folder_that_is_no_index(collection: Path, tiny_model_path: Path,
                                                      tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(LangmixError, match="exists and is not a langmix index"):
        build_search_index(read_passages(str(collection)), str(tiny_model_path), tmp_path, show_progress=False)
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_damaged_or_foreign_folders_are_refused(tiny_index: Path, tmp_path: Path) -> None:
    with pytest.raises(LangmixError, match="index .*nowhere not found"):
        load_index(tmp_path / "nowhere")
    with pytest.raises(LangmixError, match="is not a langmix index"):
        load_index(tmp_path)
    damaged = tmp_path / "damaged"
    shutil.copytree(tiny_index, damaged)
    with open(damaged / "passages.jsonl", "r+b") as fh:
        fh.truncate(100)
    with pytest.raises(LangmixError, match=r"incomplete or damaged \(passages.jsonl: 100 bytes"):
        read_meta(damaged)
    meta = json.loads((tiny_index / "index.json").read_text())
    (damaged / "index.json").write_text(json.dumps(meta | {"version": 99}))
    with pytest.raises(LangmixError, match="format version 99"):
        read_meta(damaged)


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_indexes(collection: Path, tiny_index: Path, tiny_model_path: Path, tmp_path: Path,
                             kind: str) -> None:
    from langmix.search import open_searchers

    out = build_search_index(read_passages(str(collection)), str(tiny_model_path), tmp_path / kind, kind,
                             show_progress=False)
    assert load_index(out).meta["index"] == kind
    approximate, exact = open_searchers([out, tiny_index])
    # on 31 passages the approximate index probes everything: same top 5 as the exact one
    assert [h.id for h in approximate.search("Berlin", 5).hits] == [h.id for h in exact.search("Berlin", 5).hits]


def test_unknown_index_kind(collection: Path, tiny_model_path: Path, tmp_path: Path) -> None:
    with pytest.raises(LangmixError, match="unknown index kind 'lsh'"):
        build_search_index(read_passages(str(collection)), str(tiny_model_path), tmp_path / "x", "lsh")
