"""The passages beside an index: a JSONL file read by byte offset, so a search touches only its k hits.

A million passages as Python objects would cost gigabytes of memory and seconds of start-up; the
offsets array (n + 1 int64) costs 8 MB and lets any row be read with one seek. Since the file is read
at every search, long after loading checked it, each read first checks that it is still the file that
was opened (inode, size, modification time: one ``fstat``), so a file replaced or edited under a
running server is refused rather than read at the old offsets.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from langmix.errors import DamagedData
from langmix.search.passages import Passage

PASSAGES_FILE = "passages.jsonl"
OFFSETS_FILE = "passages.offsets.npy"


def write_store(folder: Path, passages: Sequence[Passage]) -> None:
    """Write the passages (one JSON object per line) and the byte offset of every line into ``folder``."""
    offsets = np.zeros(len(passages) + 1, dtype=np.int64)
    with open(folder / PASSAGES_FILE, "wb") as fh:
        for i, passage in enumerate(passages):
            line = (json.dumps(passage.to_dict(), ensure_ascii=False) + "\n").encode("utf-8")
            fh.write(line)
            offsets[i + 1] = offsets[i] + len(line)
    np.save(folder / OFFSETS_FILE, offsets)


class PassageStore:
    """Read access to the passages of an index folder by row number."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / PASSAGES_FILE
        self.offsets = np.load(folder / OFFSETS_FILE, allow_pickle=False)
        self._opened = _identity(os.stat(self.path))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def get(self, rows: Sequence[int]) -> list[Passage]:
        """The passages at ``rows``, in that order (one open file per call: safe from any thread)."""
        problem = f"{PASSAGES_FILE} of index {self.path.parent} changed since it was opened"
        try:
            with open(self.path, "rb") as fh:
                if _identity(os.fstat(fh.fileno())) != self._opened:
                    raise DamagedData(problem, "restart the search to load it again")
                return [Passage(**json.loads(self._line(fh, row))) for row in rows]
        except (OSError, ValueError, TypeError) as err:  # ValueError: JSON or UTF-8; TypeError: other fields
            raise DamagedData(f"{problem} ({err})", "restart the search to load it again") from err

    def _line(self, fh, row: int) -> bytes:
        fh.seek(int(self.offsets[row]))
        return fh.read(int(self.offsets[row + 1] - self.offsets[row]))


def _identity(stat: os.stat_result) -> tuple[int, int, int, int]:
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns
