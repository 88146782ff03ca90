from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import langmix.model.encoding
from langmix.errors import LangmixError
from langmix.search import build_search_index, load_index, read_passages
from langmix.search.encoder import model_fingerprint
from langmix.search.index import partial_dir, read_meta


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
    from langmix.model.load import encode, load_model

    expected = encode(load_model(tiny_model_path), [p.text for p in passages], "passage")
    np.testing.assert_allclose(index.faiss_index.reconstruct_n(0, 31), expected, atol=1e-5)
    assert not partial_dir(tiny_index).exists()


class Interrupt:
    """Wraps encode_fast: counts calls and raises KeyboardInterrupt on call number ``at`` (1-based)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, at: int | None) -> None:
        self.real, self.at, self.calls = langmix.model.encoding.encode_fast, at, 0
        monkeypatch.setattr(langmix.model.encoding, "encode_fast", self)

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


@pytest.mark.parametrize("name,where", [("passages.jsonl", "middle"), ("index.faiss", "middle"),
                                        ("index.faiss", "header"), ("passages.offsets.npy", "middle"),
                                        ("passages.offsets.npy", "header")])
def test_same_size_edits_are_refused(tiny_index: Path, damaged_copy, name: str, where: str) -> None:
    damaged = damaged_copy(tiny_index, name, where)
    with pytest.raises(LangmixError, match=rf"index .*idx is damaged \({name} changed since the build\); rebuild it"):
        load_index(damaged)


@pytest.mark.parametrize("edit", [{"dim": 33}, {"languages": {"en": 31}}, {"count": 30}, {"source": "other.jsonl"}])
def test_an_edited_description_is_refused(tiny_index: Path, tmp_path: Path, edit: dict) -> None:
    damaged = shutil.copytree(tiny_index, tmp_path / "idx")
    meta = json.loads((damaged / "index.json").read_text())
    (damaged / "index.json").write_text(json.dumps(meta | edit, indent=2))
    with pytest.raises(LangmixError, match=r"idx/index.json was changed after the build"):
        load_index(damaged)


def test_a_passage_file_changed_under_an_open_index_is_refused(tiny_index: Path, tmp_path: Path, damage) -> None:
    """The passages are read at search time, after the checks: a change since loading is caught then."""
    from langmix.errors import DamagedData

    index = load_index(shutil.copytree(tiny_index, tmp_path / "idx"))
    damage(index.folder / "passages.jsonl")
    with pytest.raises(DamagedData, match="passages.jsonl .*changed since it was opened"):
        index.store.get([0])


def test_a_build_that_fails_before_its_first_shard_leaves_nothing(collection: Path, tiny_model_path: Path,
                                                                  tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing to resume, so no .partial folder that would make a search advise a rerun."""
    out = tmp_path / "idx"
    Interrupt(monkeypatch, at=1)
    with pytest.raises(KeyboardInterrupt):
        build_search_index(read_passages(str(collection)), str(tiny_model_path), out, show_progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".idx.lock"]
    with pytest.raises(LangmixError, match="index .*idx not found"):
        load_index(out)


def test_a_bad_batch_size_is_refused_before_anything_is_written(collection: Path, tiny_model_path: Path,
                                                                tmp_path: Path) -> None:
    with pytest.raises(LangmixError, match="batch size 0 must be positive"):
        build_search_index(read_passages(str(collection)), str(tiny_model_path), tmp_path / "idx", batch_size=0,
                           show_progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(sys.platform == "win32", reason="run_lock needs fcntl")
def test_two_builds_into_one_folder_are_refused(collection: Path, tiny_model_path: Path, tmp_path: Path) -> None:
    """A build holds .DIR.lock beside its folder (the folder itself is replaced whole at the end)."""
    import fcntl

    out = tmp_path / "idx"
    with open(tmp_path / ".idx.lock", "a+") as other:  # another process's build
        other.write("pid 1234 on elsewhere")
        other.flush()
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(LangmixError, match=r"idx is being written by another langmix run \(pid 1234"):
            build_search_index(read_passages(str(collection)), str(tiny_model_path), out, show_progress=False)
    assert not out.exists() and not partial_dir(out).exists()
    assert load_index(build_search_index(read_passages(str(collection)), str(tiny_model_path), out,
                                         show_progress=False)).count == 31


def test_the_rebuild_advice_is_the_recorded_command(tmp_path: Path) -> None:
    from langmix.search.index import rebuild_advice

    meta = {"source": "mlqa-r", "model": "/m/hybrid", "index": "hnsw"}
    assert rebuild_advice(tmp_path, meta) == (
        f"rebuild it with 'langmix index mlqa-r --out {tmp_path} --model /m/hybrid --index hnsw'")
    assert rebuild_advice(tmp_path, {"source": "", "model": "multilingual-e5-small", "index": "flat"}) == (
        f"rebuild it with 'langmix index SOURCE --out {tmp_path}'")
