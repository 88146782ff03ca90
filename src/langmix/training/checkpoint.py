"""Complete, atomic, verifiable training checkpoints.

A checkpoint is a folder ``<run>/checkpoints/step-00001234/`` holding ``state.pt`` (model weights,
optimiser, step, epoch, batch within the epoch, sampler state, RNG states, resolved config, best metric)
and, written last, ``complete.json`` with the SHA-256 of ``state.pt``. The folder is built under a temp
name, every file is fsync'ed, then it is renamed into place (:func:`langmix.io.atomic_dir`), so a process
killed at any moment leaves either no new folder or a complete one. On loading, a folder whose marker is
missing or whose checksum does not match is skipped: a torn checkpoint is never loaded, nor one whose weights
or optimiser state hold inf/nan. A run that diverged moves the checkpoints whose weights led to the inf/nan
aside, to ``diverged-step-…`` (:func:`set_aside`), so a resume takes the last good one. A failed write
(full disk, Ctrl-C) removes its temp folder and leaves the earlier checkpoints as they were; the temp
folder of a process killed while writing is removed by the next checkpoint written into the run.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from langmix.errors import LangmixError
from langmix.io import atomic_dir, file_sha256, remove_stale_temps

STATE_FILE = "state.pt"
MARKER_FILE = "complete.json"
PREFIX = "step-"
DIVERGED = "diverged-"


def checkpoint_root(run_dir: str | Path) -> Path:
    return Path(run_dir) / "checkpoints"


def rng_state() -> dict[str, Any]:
    """Every RNG a training step draws from (Python, NumPy, torch CPU and all CUDA devices)."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(run_dir: str | Path, step: int, state: dict[str, Any], keep: int = 2) -> Path:
    """Write ``state`` as checkpoint ``step`` atomically; then keep only the newest ``keep`` complete ones."""
    root = checkpoint_root(run_dir)
    path = root / f"{PREFIX}{step:08d}"
    remove_stale_temps(root)
    with atomic_dir(path) as tmp:
        state_path = tmp / STATE_FILE
        _save_state(state, state_path)
        marker = {"step": step, "sha256": file_sha256(state_path), "bytes": state_path.stat().st_size}
        with open(tmp / MARKER_FILE, "w", encoding="utf-8") as fh:
            json.dump(marker, fh)
            _fsync(fh)
    _fsync_dir(root)
    for old in complete_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return path


def _save_state(state: dict[str, Any], path: Path) -> None:
    """``torch.save`` into ``path``, fsync'ed. A write failing inside torch's zip writer (a full disk, or
    Ctrl-C) comes out as a RuntimeError whose context is the real cause: raise that cause instead."""
    try:
        with open(path, "wb") as fh:
            torch.save(state, fh)
            _fsync(fh)
    except RuntimeError as err:
        if isinstance(err.__context__, OSError | KeyboardInterrupt):
            raise err.__context__ from None
        raise


def is_complete(path: Path) -> bool:
    """True when the marker exists and ``state.pt`` has the recorded size and SHA-256."""
    marker, state = path / MARKER_FILE, path / STATE_FILE
    if not (marker.is_file() and state.is_file()):
        return False
    try:
        meta = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return state.stat().st_size == meta.get("bytes") and file_sha256(state) == meta.get("sha256")


def complete_checkpoints(run_dir: str | Path) -> list[Path]:
    """Complete checkpoint folders, oldest first (temp folders start with '.', so they never match)."""
    root = checkpoint_root(run_dir)
    if not root.is_dir():
        return []
    folders = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith(PREFIX))
    return [p for p in folders if is_complete(p)]


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    found = complete_checkpoints(run_dir)
    return found[-1] if found else None


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The state of a complete checkpoint whose weights and optimiser state are finite."""
    path = Path(path)
    if not is_complete(path):
        raise LangmixError(f"checkpoint {path} is incomplete or corrupt", "resume from an earlier checkpoint")
    # weights_only=False: the state holds NumPy RNG state and Python tuples written by this package itself
    state = torch.load(path / STATE_FILE, map_location="cpu", weights_only=False)
    bad = nonfinite_tensors({"model": state.get("model"), "optimizer": state.get("optimizer")})
    if bad:  # written by a langmix that did not check (a run diverged just before it)
        raise LangmixError(
            f"checkpoint {path} holds inf/nan in {len(bad)} tensors (e.g. {bad[0]}): the run had diverged",
            f"move {path.name} out of {path.parent} to resume from the checkpoint before it",
        )
    return state


def nonfinite_tensors(state: Any) -> list[str]:
    """Names (dotted paths) of the floating-point tensors in a nested state dict that hold inf or nan."""
    return [name for name, tensor in _tensors(state) if tensor.is_floating_point() and not tensor.isfinite().all()]


def _tensors(obj: Any, prefix: str = "") -> Iterator[tuple[str, torch.Tensor]]:
    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from _tensors(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(obj, list | tuple):
        for i, value in enumerate(obj):
            yield from _tensors(value, f"{prefix}.{i}" if prefix else str(i))


def set_aside(run_dir: str | Path, first_step: int) -> list[Path]:
    """Rename the complete checkpoints of step ``first_step`` and later to ``diverged-step-…`` (kept to look at,
    never resumed); return their new paths. A diverged folder of the same name, from an earlier try, is replaced."""
    moved = []
    for path in complete_checkpoints(run_dir):
        if int(path.name.removeprefix(PREFIX)) >= first_step:
            target = path.with_name(DIVERGED + path.name)
            shutil.rmtree(target, ignore_errors=True)
            path.rename(target)
            moved.append(target)
    if moved:
        _fsync_dir(checkpoint_root(run_dir))
    return moved


def _fsync(fh) -> None:
    fh.flush()
    os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    # the rename is only durable once the parent folder's entry is on disk
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
