"""Combining run folders: cells of one grid run in parallel (several processes, several machines) into one folder.

A grid's cells are independent, so ``langmix reproduce --protocols P --strategies S --seeds K --out part-i`` can
run in as many processes as a machine holds (a GPU trained at batch 32 is bound by its host, one process a core);
:func:`combine_runs` then copies each part's finished cells into one run folder, as if one process had run them:

- every part must hold a run of the same settings (the same ``results.json`` fingerprint as the destination,
  or as the first part when the destination is new), so no cell of other settings slips in;
- a cell already in the destination is kept, never replaced (the part's copy is reported as skipped);
- the cell's folder (``cells/<id>/``), its record, the protocols' data records and the grid are copied; the
  parts' invocations are appended, so the record of wall time stays complete.

Nothing is deleted from a part, and the destination's ``results.json`` is written atomically after the copies,
so an interrupted combine leaves at worst cell folders without a record: a rerun copies them again.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from langmix.errors import LangmixError
from langmix.io import read_json, run_lock, write_json


def combine_runs(dest: str | Path, parts: list[str | Path]) -> dict[str, list[str]]:
    """Copy the finished cells of each run folder in ``parts`` into ``dest`` (see the module doc); return the
    cell ids ``{"copied": [...], "skipped": [...]}``. The caller redoes the report (``finalize(dest)``)."""
    dest = Path(dest)
    with run_lock(dest):
        target = _read_results(dest) if (dest / "results.json").is_file() else None
        copied, skipped = [], []
        for part in map(Path, parts):
            source = _read_results(part)
            if target is None:
                target = {**source, "cells": {}, "grid": [], "invocations": []}
            _check_same_settings(dest, target, part, source)
            for protocol, info in source.get("protocols", {}).items():
                target.setdefault("protocols", {}).setdefault(protocol, info)
                _copy_missing(part / "data" / protocol, dest / "data" / protocol)
            for cell_id, record in source["cells"].items():
                if cell_id in target["cells"]:
                    skipped.append(cell_id)
                    continue
                _copy_cell(part / "cells" / cell_id, dest / "cells" / cell_id)
                target["cells"][cell_id] = record
                copied.append(cell_id)
            target["grid"] = list(dict.fromkeys([*target.get("grid", []), *source.get("grid", [])]))
            target["invocations"] = [*target.get("invocations", []), *source.get("invocations", [])]
        if target is not None:
            write_json(dest / "results.json", target)
        return {"copied": copied, "skipped": skipped}


def _read_results(folder: Path) -> dict[str, Any]:
    path = folder / "results.json"
    if not path.is_file():
        raise LangmixError(f"{folder} holds no langmix reproduce run (no results.json)",
                           "give the --out folder of a 'langmix reproduce' run")
    return read_json(path)


def _check_same_settings(dest: Path, target: dict[str, Any], part: Path, source: dict[str, Any]) -> None:
    if source.get("fingerprint") != target.get("fingerprint"):
        raise LangmixError(
            f"{part} is a run of other settings than {dest} (fingerprint {source.get('fingerprint')} vs "
            f"{target.get('fingerprint')})",
            "combine only parts run with the same --config and options (the grid selection may differ)",
        )


def _copy_cell(source: Path, dest: Path) -> None:
    """The cell's folder, replacing a leftover of an interrupted combine (a folder without a record)."""
    if not source.is_dir():
        raise LangmixError(f"{source} is missing although its run records the cell",
                           "copy the whole run folder, cells/ included")
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(source, dest)


def _copy_missing(source: Path, dest: Path) -> None:
    """The protocol's data folder, where the destination has none yet (every part made the same data)."""
    if source.is_dir() and not dest.exists():
        shutil.copytree(source, dest)
