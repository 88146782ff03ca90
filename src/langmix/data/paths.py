"""Where langmix finds its data sets: ``$LANGMIX_DATA``, the repository's ``data/``, or ``../shared/data``.

Files may be plain or gzip-compressed (``x.json`` or ``x.json.gz``); :func:`open_text` reads either.
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Iterator
from pathlib import Path

from langmix.errors import LangmixError

_REPO_DATA = Path(__file__).resolve().parents[3] / "data"


def candidate_roots() -> list[Path]:
    """Folders searched for data sets, first match wins."""
    roots = []
    if os.environ.get("LANGMIX_DATA"):
        roots.append(Path(os.environ["LANGMIX_DATA"]).expanduser())
    roots += [_REPO_DATA, Path.cwd() / "data", Path.cwd().parent / "shared" / "data"]
    return roots


def dataset_dir(name: str) -> Path:
    """Folder of a data set such as ``lareqa/xquad-r``, ``ntrex128`` or ``mkqa``."""
    aliases = {"mkqa": ["mkqa", "mkqa-test"]}
    for root in candidate_roots():
        for sub in aliases.get(name, [name]):
            if (root / sub).is_dir():
                return root / sub
    raise LangmixError(f"data set '{name}' not found in {', '.join(map(str, candidate_roots()))}",
                       "set LANGMIX_DATA to a folder holding it (see data/README.md)")


def find_file(folder: Path, name: str) -> Path | None:
    """``folder/name`` or ``folder/name.gz``, whichever exists."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def open_text(path: str | Path) -> io.TextIOBase:
    """Open a UTF-8 text file, transparently gunzipping ``.gz``."""
    path = Path(path)
    if not path.is_file():
        raise LangmixError(f"file {path} not found", "check the path or set LANGMIX_DATA")
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8")


def text_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """(line number, line) of a UTF-8 text file (plain or ``.gz``); a file that is not UTF-8 or not a
    whole gzip stream is a one-line error instead of a decoder traceback halfway through."""
    try:
        with open_text(path) as fh:
            yield from enumerate(fh, 1)
    except UnicodeDecodeError as err:
        raise LangmixError(f"{path} is not UTF-8 text ({err.reason})", "convert the file to UTF-8") from err
    except (EOFError, gzip.BadGzipFile) as err:
        raise LangmixError(f"{path} is a damaged gzip file ({err})", "download or compress it again") from err
