"""An index folder as ``langmix index`` writes it, and loading one that is complete.

Layout of ``DIR``::

    index.faiss            the faiss index over the passage embeddings (inner product = cosine)
    passages.jsonl         {"id", "text", "lang", "title"}, one line per faiss row
    passages.offsets.npy   byte offset of every line (:mod:`langmix.search.store`)
    index.json             written last: model name and fingerprint, dimension, count, index kind,
                           source, languages, build time, and the size of every other file

The folder is assembled under a temp name and renamed into place (:func:`langmix.io.atomic_dir`), so
``DIR`` is either absent, the previous complete index, or the new complete one. Loading still checks
``index.json`` and the recorded file sizes, so a folder copied half-way or edited by hand is refused
with a message rather than searched. Embeddings of an unfinished build wait in ``.DIR.partial``
beside it (see :mod:`langmix.search.build`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langmix.errors import LangmixError
from langmix.evaluation.beir import import_faiss
from langmix.io import read_json
from langmix.search.models import ModelRef
from langmix.search.store import OFFSETS_FILE, PASSAGES_FILE, PassageStore

if TYPE_CHECKING:
    import faiss

META_FILE = "index.json"
FAISS_FILE = "index.faiss"
DATA_FILES = (FAISS_FILE, PASSAGES_FILE, OFFSETS_FILE)
FORMAT = "langmix-index"
VERSION = 1


def partial_dir(folder: Path) -> Path:
    """Where an unfinished build of ``folder`` keeps its encoded shards."""
    return folder.parent / f".{folder.name}.partial"


@dataclass
class SearchIndex:
    folder: Path
    meta: dict[str, Any]
    faiss_index: faiss.Index
    store: PassageStore

    @property
    def model(self) -> ModelRef:
        return ModelRef(self.meta["model"], self.meta["model_fingerprint"])

    @property
    def count(self) -> int:
        return int(self.meta["count"])


def read_meta(folder: str | Path) -> dict[str, Any]:
    """``index.json`` of a complete index, else a one-line error saying why it cannot be searched."""
    folder = Path(folder).expanduser()
    build = f"build it with 'langmix index SOURCE --out {folder}'"
    if not (folder / META_FILE).is_file() and (partial_dir(folder).is_dir() or folder.name.endswith(".partial")):
        raise LangmixError(f"index {folder} is half-built (its build was interrupted)",
                           "rerun the same 'langmix index' command to resume it")
    if not folder.is_dir():
        raise LangmixError(f"index {folder} not found", build)
    if not (folder / META_FILE).is_file():
        raise LangmixError(f"{folder} is not a langmix index (no {META_FILE})", build)
    meta = read_json(folder / META_FILE)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise LangmixError(f"{folder / META_FILE} is not a langmix index description", build)
    if meta.get("version") != VERSION:
        raise LangmixError(f"index {folder} has format version {meta.get('version')}, this langmix reads {VERSION}",
                           f"rebuild it: {build}")
    _check_files(folder, meta)
    return meta


def _check_files(folder: Path, meta: dict[str, Any]) -> None:
    for name in DATA_FILES:
        path = folder / name
        size = path.stat().st_size if path.is_file() else None
        if size != meta.get("files", {}).get(name):
            raise LangmixError(f"index {folder} is incomplete or damaged ({name}: {size} bytes, "
                               f"expected {meta.get('files', {}).get(name)})",
                               f"rebuild it with 'langmix index SOURCE --out {folder}'")


def load_index(folder: str | Path) -> SearchIndex:
    """A complete index, ready to search (the model is loaded separately: see ``langmix.search.search``)."""
    folder = Path(folder).expanduser()
    meta = read_meta(folder)
    built = import_faiss().read_index(str(folder / FAISS_FILE))
    store = PassageStore(folder)
    if built.ntotal != meta["count"] or len(store) != meta["count"]:
        raise LangmixError(f"index {folder} holds {built.ntotal} vectors and {len(store)} passages, "
                           f"not {meta['count']}", f"rebuild it with 'langmix index SOURCE --out {folder}'")
    return SearchIndex(folder, meta, built, store)
