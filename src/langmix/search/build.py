"""Building an index: encode the passages in resumable shards, then write the folder atomically.

Passages are encoded with the model's passage prompt by :func:`langmix.model.encoding.encode_fast`
(tokenised once, token-length-sorted batches) in shards of ``shard_size`` passages; each finished
shard is saved to ``.DIR.partial/`` at once. A build that is interrupted (Ctrl-C, a killed process, a
full disk) leaves no ``DIR`` (or the previous complete one) and its finished shards: the same command
run again encodes only the missing shards. The partial folder records the model fingerprint, a hash
of the passage texts and the shard size; if any of them changed, the shards are discarded. A build that
fails before its first shard is saved leaves no partial folder: there is nothing to resume.

Settings are checked before anything is written, and a build holds ``.DIR.lock`` beside ``DIR``
(:func:`langmix.io.run_lock`), so a second build into the same folder fails at once instead of racing
the first over the shards and the final rename.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from langmix.errors import LangmixError
from langmix.evaluation.cache import texts_hash
from langmix.io import atomic_dir, read_json, run_lock, write_json, write_npy
from langmix.search.encoder import ModelRef
from langmix.search.index import FAISS_FILE, FORMAT, META_FILE, VERSION, describe_files, lock_file, partial_dir, sealed
from langmix.search.passages import Passage, language_counts
from langmix.search.store import write_store
from langmix.vector_index import INDEX_KINDS, IndexKind, build_index, import_faiss

MANIFEST = "manifest.json"


def build_search_index(
    passages: Sequence[Passage],
    model: str,
    out: str | Path,
    kind: IndexKind = "flat",
    batch_size: int = 64,
    shard_size: int = 4096,
    source: str = "",
    show_progress: bool = True,
) -> Path:
    """Encode ``passages`` with ``model`` and write a complete index folder ``out``; returns ``out``."""
    from langmix.model.load import load_model

    faiss = import_faiss()  # before the encoding, which may take hours
    out = Path(out).expanduser()
    _check_settings(kind, batch_size, shard_size)
    with run_lock(out, lock_file(out)):
        _check_target(out)
        start = time.perf_counter()
        ref = ModelRef.of(model)
        texts = [p.text for p in passages]
        emb = encode_shards(load_model(ref.name), texts, partial_dir(out), ref, batch_size, shard_size,
                            show_progress)
        built = build_index(emb, kind)
        with atomic_dir(out) as tmp:
            faiss.write_index(built, str(tmp / FAISS_FILE))
            write_store(tmp, passages)
            meta = _meta(passages, ref, kind, emb.shape[1], source, time.perf_counter() - start)
            meta["files"] = describe_files(tmp)
            write_json(tmp / META_FILE, sealed(meta))  # last: its presence marks the folder complete
        shutil.rmtree(partial_dir(out), ignore_errors=True)
    return out


def _check_settings(kind: str, batch_size: int, shard_size: int) -> None:
    if kind not in INDEX_KINDS:
        raise LangmixError(f"unknown index kind '{kind}'", f"use one of {', '.join(INDEX_KINDS)}")
    if batch_size < 1:
        raise LangmixError(f"batch size {batch_size} must be positive", "use e.g. 64")
    if shard_size < 1:
        raise LangmixError(f"shard size {shard_size} must be positive", "use e.g. 4096")


def _check_target(out: Path) -> None:
    """Refuse to replace a folder that holds something other than an earlier index."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / META_FILE).is_file())):
        raise LangmixError(f"{out} exists and is not a langmix index", "pick a new folder for --out or remove it")


def encode_shards(model, texts: list[str], work: Path, ref: ModelRef, batch_size: int, shard_size: int,
                  show_progress: bool) -> np.ndarray:
    """(n, dim) passage embeddings, reusing the shards a previous, interrupted build saved in ``work``."""
    from langmix.model.encoding import encode_fast

    _prepare_work(work, {"model_fingerprint": ref.fingerprint, "texts": texts_hash(texts), "shard_size": shard_size})
    parts = []
    try:
        with tqdm(total=len(texts), desc="encode passages", unit="passage", disable=not show_progress) as bar:
            for number, first in enumerate(range(0, len(texts), shard_size)):
                chunk, path = texts[first:first + shard_size], work / f"shard-{number:06d}.npy"
                emb = _saved_shard(path, len(chunk))
                if emb is None:
                    emb = encode_fast(model, chunk, "passage", batch_size=batch_size, on_batch=bar.update)
                    write_npy(path, emb)
                else:
                    bar.update(len(chunk))
                parts.append(emb)
    except BaseException:
        if not any(work.glob("shard-*.npy")):  # nothing to resume: no folder that calls the index half-built
            shutil.rmtree(work, ignore_errors=True)
        raise
    return np.concatenate(parts)


def _prepare_work(work: Path, manifest: dict) -> None:
    if work.is_dir() and (not (work / MANIFEST).is_file() or read_json(work / MANIFEST) != manifest):
        shutil.rmtree(work)  # shards of another model, collection or shard size
    work.mkdir(parents=True, exist_ok=True)
    write_json(work / MANIFEST, manifest)


def _saved_shard(path: Path, rows: int) -> np.ndarray | None:
    if not path.is_file():
        return None
    try:
        emb = np.load(path)
    except (OSError, ValueError):
        return None
    return emb if emb.shape[0] == rows else None


def _meta(passages: Sequence[Passage], ref: ModelRef, kind: str, dim: int, source: str, seconds: float) -> dict:
    return {
        "format": FORMAT,
        "version": VERSION,
        "model": ref.name,
        "model_fingerprint": ref.fingerprint,
        "dim": dim,
        "count": len(passages),
        "index": kind,
        "source": source,
        "languages": dict(language_counts(p.lang for p in passages)),
        "build_seconds": round(seconds, 2),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
