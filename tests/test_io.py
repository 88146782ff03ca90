from __future__ import annotations

import errno
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from langmix.errors import LangmixError
from langmix.io import (
    LEGACY_TEMP_AGE_S,
    atomic_dir,
    atomic_path,
    check_writable,
    read_json,
    write_error,
    write_json,
)


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


def _run_python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)


def test_npy_cut_short_by_a_file_size_limit_is_an_error_not_a_file(tmp_path: Path) -> None:
    """NumPy writes through C stdio and loses the failed final flush: the size check must catch it."""
    target = tmp_path / "emb.npy"
    done = _run_python(
        "import resource, numpy as np\n"
        "from langmix.errors import LangmixError\n"
        "from langmix.io import write_npy\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1024, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))\n"
        "try:\n"
        f"    write_npy({str(target)!r}, np.ones((2, 384), np.float32))\n"
        "except LangmixError as err:\n"
        "    print(err)\n"
    )
    assert done.returncode == 0, done.stderr
    assert "could not write" in done.stdout and "file-size limit" in done.stdout
    assert list(tmp_path.iterdir()) == []


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_write_removes_the_temps_of_killed_writers_only(tmp_path: Path) -> None:
    host = socket.gethostname()
    dead = tmp_path / f".r.json.{_dead_pid()}@{host}.abcdefgh.tmp"
    dead_dir = tmp_path / f".r.json.{_dead_pid()}@{host}.ijklmnop.tmp"
    live = tmp_path / f".r.json.{os.getppid()}@{host}.qrstuvwx.tmp"  # our parent process is alive
    elsewhere = tmp_path / f".r.json.{_dead_pid()}@another-host.abcdefgh.tmp"
    legacy_old, legacy_new = tmp_path / ".r.json.abcdefgh.tmp", tmp_path / ".r.json.ijklmnop.tmp"
    other_target = tmp_path / f".s.json.{_dead_pid()}@{host}.abcdefgh.tmp"
    for path in (dead, live, elsewhere, legacy_old, legacy_new, other_target):
        path.write_text("half")
    (dead_dir / "model.safetensors").parent.mkdir()
    (dead_dir / "model.safetensors").write_text("half")
    os.utime(legacy_old, (time.time() - 2 * LEGACY_TEMP_AGE_S,) * 2)
    write_json(tmp_path / "r.json", {})
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {"r.json", live.name, elsewhere.name, legacy_new.name, other_target.name}


@pytest.mark.parametrize("layout, folder, words", [
    ("file_at_out", True, "is a file, not a folder"),
    ("folder_at_out", False, "is a folder"),
    ("file_as_parent", True, "is a file"),
    ("file_as_parent", False, "is a file"),
])
def test_output_location_is_checked_before_any_work(tmp_path: Path, layout: str, folder: bool, words: str) -> None:
    out = tmp_path / "x" / "y" if layout == "file_as_parent" else tmp_path / "x"
    if layout == "folder_at_out":
        out.mkdir()
    else:
        (tmp_path / "x").write_text("a file")
    with pytest.raises(LangmixError, match=words):
        check_writable(out, folder=folder)
    check_writable(tmp_path / "new" / "deeper", folder=folder)  # missing folders are created later


@pytest.mark.parametrize("code, fix", [
    (errno.ENOSPC, "free disk space"),
    (errno.EFBIG, "file-size limit"),
    (errno.EACCES, "folder you can write to"),
    (errno.ENOTDIR, "in the way"),
])
def test_write_errors_name_the_fix_of_their_cause(tmp_path: Path, code: int, fix: str) -> None:
    message = str(write_error(tmp_path / "r.json", OSError(code, os.strerror(code))))
    assert fix in message and os.strerror(code) in message and "\n" not in message


def test_atomic_dir_removes_the_old_version_a_killed_swap_left(tmp_path: Path) -> None:
    """A writer killed between its two renames leaves the replaced version as .<name>.old."""
    (tmp_path / ".model.old").mkdir()
    (tmp_path / ".model.old" / "weights").write_text("previous")
    with atomic_dir(tmp_path / "model") as tmp:
        (tmp / "weights").write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@pytest.mark.skipif(sys.platform == "win32", reason="run_lock needs fcntl")
def test_run_lock_refuses_a_second_process_and_frees_when_the_holder_dies(tmp_path):
    """A folder locked by another live process gives a one-line error naming its pid; once that process is
    gone (even killed) the lock is free; inside one process the lock is re-entrant."""
    from langmix.io import run_lock

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from langmix.io import run_lock\n"
         "with run_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(60)", str(tmp_path)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LangmixError, match=rf"another langmix run \(pid {holder.pid} on .*wait for it"):
            with run_lock(tmp_path):
                pass
    finally:
        holder.kill()
        holder.wait()
    with run_lock(tmp_path), run_lock(tmp_path):
        pass


@pytest.mark.skipif(sys.platform == "win32", reason="run_lock needs fcntl")
@pytest.mark.parametrize("below", ["", "run"])
def test_run_lock_on_a_file_is_one_line(tmp_path, below):
    """A run folder that is a file (or below one) cannot hold the lock: a one-line error, not an OSError."""
    from langmix.io import run_lock

    (tmp_path / "x").write_text("a file")
    with pytest.raises(LangmixError, match=r"could not write .*x/(run/)?\.lock: .*; a file or folder of that name"):
        with run_lock(tmp_path / "x" / below):
            pass
    assert (tmp_path / "x").read_text() == "a file"
