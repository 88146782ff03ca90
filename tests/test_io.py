from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from langmix.errors import LangmixError
from langmix.io import atomic_dir, atomic_path, read_json, write_json


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    write_json(target, {"map": 0.5})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("{ half")
        raise RuntimeError("killed mid-write")
    assert read_json(target) == {"map": 0.5}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no temp file left behind


def test_atomic_dir_replaces_whole_folder_and_uses_normal_permissions(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    with atomic_dir(folder) as tmp:
        (tmp / "a").write_text("1")
    with atomic_dir(folder) as tmp:
        (tmp / "b").write_text("2")
    assert sorted(p.name for p in folder.iterdir()) == ["b"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o777 & ~umask
    write_json(tmp_path / "r.json", {})
    assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == 0o666 & ~umask


def test_unwritable_target_is_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(LangmixError, match="could not write|Not a directory"):
        write_json(blocker / "sub" / "r.json", {})
