"""Atomic file writing: every result, checkpoint and cache is written to a temp sibling, then renamed; and where
langmix keeps its models and caches (:func:`langmix_home`).

A reader therefore sees either the old complete file or the new complete file, never a torn one;
a full disk or a killed process leaves what was already written intact. A temp sibling is named
``.<name>.<pid>@<host>.<random>.tmp``, so the next write of the same target can tell the leftovers of a
killed writer (its process is gone) from a live concurrent write, and deletes them.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

try:  # POSIX only; run_lock is a no-op elsewhere
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

from langmix.errors import LangmixError


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path next to ``path``; on success rename it over ``path``, else delete it."""
    path = Path(path)
    try:
        _make_parent(path)
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise write_error(path, err) from err
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.chmod(0o666 & ~_umask())  # mkstemp makes 0600; results should read like any file
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except OSError as err:
        tmp_path.unlink(missing_ok=True)
        raise write_error(path, err) from err
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temp folder next to ``path``; on success it replaces ``path`` as a whole."""
    path = Path(path)
    old = path.with_name(f".{path.name}.old")  # the replaced version, deleted once the new one is in place
    try:
        _make_parent(path)
        shutil.rmtree(old, ignore_errors=True)  # left by a writer killed between the two renames below
        tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent))
    except OSError as err:
        raise write_error(path, err) from err
    tmp.chmod(0o777 & ~_umask())  # mkdtemp makes 0700
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise write_error(path, err) from err
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _make_parent(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path.parent, path.name)


# ---------------------------------------------------------------------------------------- temp leftovers
_TEMP = re.compile(r"\.(?P<name>.+?)\.(?:(?P<pid>\d+)@(?P<host>[^/]+)\.)?[a-z0-9_]{8}\.tmp\Z")
LEGACY_TEMP_AGE_S = 24 * 3600  # temps named before writers were (no pid@host): stale after a day


def _temp_prefix(path: Path) -> str:
    return f".{path.name}.{os.getpid()}@{socket.gethostname()}."


def remove_stale_temps(folder: Path, name: str | None = None) -> list[Path]:
    """Delete the temp siblings (of target ``name``, or of any target) that a killed writer left in
    ``folder``; return them. Live writes of other processes and other hosts are left alone."""
    removed = []
    with contextlib.suppress(OSError):
        for entry in folder.glob(".*.tmp"):
            match = _TEMP.match(entry.name)
            if match and name in (None, match["name"]) and _is_stale(entry, match):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                removed.append(entry)
    return removed


def _is_stale(entry: Path, match: re.Match) -> bool:
    """Its writer's process is gone (on this host; elsewhere it cannot be told, so it is kept)."""
    if match["pid"] is None:
        return time.time() - entry.lstat().st_mtime > LEGACY_TEMP_AGE_S
    if match["host"] != socket.gethostname():
        return False
    try:
        os.kill(int(match["pid"]), 0)
    except ProcessLookupError:
        return True
    except OSError:  # the process exists but belongs to another user
        pass
    return False


# ---------------------------------------------------------------------------------------- errors, checks
def write_error(path: Path, err: OSError) -> LangmixError:
    """One line naming what failed and the fix that suits the cause (disk, permissions, a file in the way)."""
    code = err.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        fix = "free disk space, then run again"
    elif code == errno.EFBIG:
        fix = "raise the file-size limit (ulimit -f) or free disk space, then run again"
    elif code in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = "pick a folder you can write to"
    elif code in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR):
        fix = "a file or folder of that name is in the way; remove it or pick another path"
    else:
        fix = "check the path, or free disk space and run again"
    return LangmixError(f"could not write {path}: {err.strerror or err}", fix)


def check_writable(path: str | Path, folder: bool, option: str = "--out") -> Path:
    """Fail before any work when ``path`` could not be written at the end: a folder where a file goes
    (or a file where a folder goes), a file where a parent folder must be, or no write permission."""
    path = Path(path).expanduser()
    if folder and path.exists() and not path.is_dir():
        raise LangmixError(f"{option} {path} is a file, not a folder", f"give a folder path to {option}")
    if not folder and path.is_dir():
        raise LangmixError(f"{option} {path} is a folder", f"give a file path to {option}, e.g. {path / 'out.npy'}")
    base = path if folder else path.parent
    while not base.exists() and base != base.parent:
        base = base.parent
    if not base.is_dir():
        raise LangmixError(f"{option} {path} cannot be created: {base} is a file", "pick a path below a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise LangmixError(f"{option} {path} cannot be written: no permission in {base}",
                           "pick a folder you can write to")
    return path


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=_json_default) + "\n")


def gzip_file(path: str | Path) -> Path:
    """Replace ``path`` by ``path.gz`` (written atomically, deterministic: no name or time in the header)."""
    path = Path(path)
    target = path.with_name(path.name + ".gz")
    with atomic_path(target) as tmp, open(path, "rb") as src, open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as out:
            shutil.copyfileobj(src, out)
    path.unlink()
    return target


def write_npy(path: str | Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, array)
        fh.flush()
        # NumPy writes the data through C stdio and can drop a failed final flush (a file-size limit)
        written = os.fstat(fh.fileno()).st_size
        if written != fh.tell():
            raise OSError(errno.EFBIG, f"only {written} of {fh.tell()} bytes reached the file")


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_json(path: str | Path) -> Any:
    """A JSON file, gzip-compressed when its name ends in ``.gz``."""
    path = Path(path)
    if not path.is_file():
        raise LangmixError(f"file {path} not found", "check the path")
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                return json.load(fh)
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, EOFError) as err:  # a torn or non-gzip .gz
        raise LangmixError(f"{path} is not a readable gzip file ({err})", "regenerate the file") from err
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise LangmixError(f"{path} is not valid JSON ({err})", "regenerate or fix the file") from err


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


_HELD_LOCKS: set[Path] = set()


@contextlib.contextmanager
def run_lock(folder: str | Path, lock: str | Path | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``folder/.lock`` while the block runs, so that two processes never write one
    run folder at once (a second ``langmix reproduce`` or ``--report-only`` on a running grid would otherwise
    rewrite results.json under it and lose a cell). ``lock`` names another lock file, for a folder that is
    replaced whole (an index: see :func:`langmix.search.index.lock_file`). Re-entrant within a process;
    released when the process dies, so a killed run never leaves a stale lock. Without ``fcntl`` (Windows)
    it does nothing. A lock that cannot be written (``folder`` is a file, no permission) is a one-line error."""
    path = Path(Path(folder) / ".lock" if lock is None else lock).resolve()
    if fcntl is None or path in _HELD_LOCKS:
        yield
        return
    try:
        _make_parent(path)
        handle = open(path, "a+", encoding="utf-8")  # closed by the with below
    except OSError as err:
        raise write_error(path, err) from err
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "a process"
            raise LangmixError(f"{folder} is being written by another langmix run ({owner})",
                               "wait for it to finish or stop it, then run this command again") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}")
        handle.flush()
        _HELD_LOCKS.add(path)
        try:
            yield
        finally:
            _HELD_LOCKS.discard(path)


def langmix_home() -> Path:
    """``$LANGMIX_HOME`` (default ``~/.cache/langmix``), created if missing: models and caches live there."""
    home = Path(os.environ.get("LANGMIX_HOME", Path.home() / ".cache" / "langmix")).expanduser()
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise LangmixError(
            f"LANGMIX_HOME {home} cannot be used as a folder ({err.strerror or err})",
            "point LANGMIX_HOME at a folder you can write to, or unset it for ~/.cache/langmix",
        ) from err
    return home
