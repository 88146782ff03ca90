"""Inner-product faiss indexes over L2-normalised embeddings (so the score is the cosine): the index kinds, the
``faiss`` import behind the ``search`` extra, and the index build that ``langmix index`` and the BEIR/MIRACL
evaluation share.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, get_args

import numpy as np

from langmix.errors import LangmixError, require

if TYPE_CHECKING:
    import faiss

IndexKind = Literal["flat", "ivf", "hnsw"]  # exact inner product, or approximate for large collections
INDEX_KINDS: tuple[str, ...] = get_args(IndexKind)


def import_faiss():
    """The ``faiss`` module, or a one-line error naming the ``search`` extra that installs it (training and
    LAReQA evaluation never need it)."""
    return require("faiss", "search", "dense search (langmix index / search / serve, BEIR/MIRACL evaluation)")


def build_index(docs: np.ndarray, index: IndexKind = "flat", nlist: int | None = None) -> faiss.Index:
    """An inner-product faiss index over ``docs`` (n, d) float32."""
    faiss = import_faiss()
    dim = docs.shape[1]
    if index == "flat":
        out = faiss.IndexFlatIP(dim)
    elif index == "hnsw":
        out = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
    elif index == "ivf":
        # faiss's rules of thumb: about 4 sqrt(n) lists, but at least 39 training points per list
        nlist = nlist or max(1, min(int(4 * np.sqrt(len(docs))), len(docs) // 39))
        out = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        out.train(docs)
        out.nprobe = max(1, nlist // 4)  # probe a quarter of the lists: recall over speed
    else:
        raise LangmixError(f"unknown index kind '{index}'", f"use one of {', '.join(INDEX_KINDS)}")
    out.add(docs)
    return out
