"""Embedding cache: encode once, score often.

An entry is keyed by the model's identity, the prompt kind and a hash of the exact texts encoded (so
candidate mode, language selection and subsets each get their own entry and can never be confused).
Entries are ``.npy`` files written atomically under ``$LANGMIX_HOME/cache/embeddings``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from langmix.io import langmix_home, write_npy
from langmix.model.load import Kind, encode
from langmix.precision import precision_name


def texts_hash(texts: Sequence[str]) -> str:
    """sha256 over the texts, length-prefixed so that ``["ab", "c"]`` and ``["a", "bc"]`` differ."""
    digest = hashlib.sha256()
    for text in texts:
        data = text.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def model_identity(name_or_path: str | Path) -> str:
    """A model name, or for a local folder its resolved path plus the size and mtime of each file,
    so that retraining into the same folder invalidates the cache."""
    path = Path(name_or_path).expanduser()
    if not path.is_dir():
        return str(name_or_path)
    files = sorted(p for p in path.rglob("*") if p.is_file())
    stamp = ";".join(f"{p.relative_to(path)}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)
    return f"{path.resolve()}|{hashlib.sha256(stamp.encode()).hexdigest()[:16]}"


def model_device(model) -> str:
    """Where ``model`` runs (a SentenceTransformer's ``device``; the CPU for anything without one)."""
    return str(getattr(model, "device", "cpu"))


class EmbeddingCache:
    """``encode`` with a disk cache; ``model_id`` names the weights (see :func:`model_identity`)."""

    def __init__(self, model_id: str, root: str | Path | None = None) -> None:
        self.model_id = model_id
        self.root = Path(root) if root is not None else langmix_home() / "cache" / "embeddings"
        self.hits = 0
        self.misses = 0

    def path(self, texts: Sequence[str], kind: Kind, precision: str = "fp32") -> Path:
        # fp32 keys stay as they were before precision existed, so older cache entries keep serving
        tag = "" if precision == "fp32" else f"\n{precision}"
        key = hashlib.sha256(f"{self.model_id}\n{kind}\n{texts_hash(texts)}{tag}".encode()).hexdigest()[:32]
        return self.root / f"{key}.npy"

    def encode(
        self, model, texts: Sequence[str], kind: Kind, batch_size: int = 64, show_progress: bool = False,
        precision: str = "auto",
    ) -> np.ndarray:
        # keyed by what "auto" resolves to here, so fp32 and bf16 embeddings never serve for each other
        path = self.path(texts, kind, precision_name(precision, model_device(model)))
        if path.is_file():
            cached = np.load(path)
            if cached.shape[0] == len(texts):
                self.hits += 1
                return cached
        self.misses += 1
        emb = encode(model, texts, kind, batch_size=batch_size, show_progress=show_progress, precision=precision)
        write_npy(path, emb)
        return emb


def encode_cached(
    cache: EmbeddingCache | None, model, texts: Sequence[str], kind: Kind, batch_size: int = 64,
    show_progress: bool = False, precision: str = "auto",
) -> np.ndarray:
    """:func:`langmix.model.load.encode`, through ``cache`` when there is one."""
    if cache is not None:
        return cache.encode(model, texts, kind, batch_size, show_progress, precision)
    return encode(model, texts, kind, batch_size=batch_size, show_progress=show_progress, precision=precision)
