"""A run can always be restarted: faults while a checkpoint is written, a run killed before its first
checkpoint, and a resume on training data that changed since the run started."""

from __future__ import annotations

import builtins
import errno
import json
import shutil
from pathlib import Path

import pytest
import torch

from langmix.errors import LangmixError
from langmix.training import checkpoint as ckpt
from langmix.training import run_folder
from langmix.training.config import dump_yaml, load_config
from langmix.training.losses import InfoNCELoss
from langmix.training.run_folder import read_log

SLICE = Path(__file__).parents[1] / "fixtures" / "training" / "xquad-r-slice.jsonl"


class _FailingWriter:
    """A file whose second write raises ``exc``: a disk that fills up, or Ctrl-C, in the middle of torch.save."""

    def __init__(self, fh, exc: BaseException) -> None:
        self.fh, self.exc, self.writes = fh, exc, 0

    def write(self, data):
        self.writes += 1
        if self.writes > 1:
            raise self.exc
        return self.fh.write(data)

    def __getattr__(self, name):
        return getattr(self.fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.fh.close()


@pytest.fixture
def fail_checkpoint(monkeypatch):
    """``fail_checkpoint(number, exc)``: the ``number``-th checkpoint's state.pt write raises ``exc``."""

    def arm(number: int, exc: BaseException) -> None:
        opened = {"n": 0}

        def fake_open(path, mode="r", *args, **kwargs):
            fh = builtins.open(path, mode, *args, **kwargs)
            if Path(path).name != ckpt.STATE_FILE:
                return fh
            opened["n"] += 1
            return _FailingWriter(fh, exc) if opened["n"] == number else fh

        monkeypatch.setattr(ckpt, "open", fake_open, raising=False)

    return arm


def _config_file(make_config, tmp_path, *overrides) -> Path:
    path = tmp_path / "quick.yaml"
    path.write_text(dump_yaml(make_config(*overrides)), encoding="utf-8")
    return path


def _temps(run: Path) -> list[str]:
    root = ckpt.checkpoint_root(run)
    return [p.name for p in root.iterdir() if p.name.startswith(".")] if root.is_dir() else []


def _train_steps(run: Path) -> list[int]:
    return [row["step"] for row in read_log(run / "train_log.jsonl") if row["event"] == "train"]


def test_ctrl_c_while_a_checkpoint_is_written_exits_130_and_keeps_the_last_one(make_config, tmp_path, cli,
                                                                                fail_checkpoint):
    config, run = _config_file(make_config, tmp_path), tmp_path / "run"
    fail_checkpoint(2, KeyboardInterrupt())  # the checkpoint of step 4
    done = cli("train", config, "--out", run)
    assert done.code == 130 and "interrupted" in done.err and "Traceback" not in done.err
    latest = ckpt.latest_checkpoint(run)
    assert latest.name == "step-00000002" and ckpt.load_checkpoint(latest)["loop"]["step"] == 2
    assert _temps(run) == []
    fail_checkpoint(0, KeyboardInterrupt())  # disarmed
    assert cli("train", config, "--out", run, "--resume").code == 0
    assert ckpt.latest_checkpoint(run).name == "step-00000008"


@pytest.mark.parametrize("resume", [False, True])
def test_a_full_disk_at_the_first_checkpoint_is_one_line_and_the_run_restarts(make_config, tmp_path, cli,
                                                                               fail_checkpoint, resume):
    config, run = _config_file(make_config, tmp_path), tmp_path / "run"
    fail_checkpoint(1, OSError(errno.ENOSPC, "No space left on device"))
    line = cli("train", config, "--out", run).error_line()
    assert "No space left on device" in line and "free disk space" in line
    assert ckpt.latest_checkpoint(run) is None and _temps(run) == []
    fail_checkpoint(0, OSError())  # disarmed: the disk has room again
    again = cli("train", config, "--out", run, *(["--resume"] if resume else []))
    assert again.code == 0, again.err[-2000:]
    assert _train_steps(run) == list(range(1, 9))


@pytest.mark.parametrize("resume", [False, True])
def test_a_run_killed_before_its_first_checkpoint_starts_again(make_config, tmp_path, monkeypatch, train_tiny,
                                                              resume):
    real, calls = InfoNCELoss.forward, {"n": 0}

    def killed_at_step_3(loss_fn, embed_fn, batch):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(loss_fn, embed_fn, batch)

    monkeypatch.setattr(InfoNCELoss, "forward", killed_at_step_3)
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train_tiny(make_config("checkpoint_every=100"), run)
    assert ckpt.latest_checkpoint(run) is None and _train_steps(run) == [1, 2]
    result = train_tiny(make_config("checkpoint_every=100"), run, resume=resume)
    assert result.steps == 8 and _train_steps(run) == list(range(1, 9))


def test_the_train_command_resumes_with_a_new_lr_and_schedule_when_asked(make_config, tmp_path, cli):
    config, run = _config_file(make_config, tmp_path, "max_steps=2", "eval_every=2"), tmp_path / "run"
    assert cli("train", config, "--out", run).code == 0
    longer = ["-o", "lr=5e-5", "-o", "max_steps=4", "--resume"]
    refused = cli("train", config, "--out", run, *longer).error_line()
    assert "config differs from the checkpointed run in lr, max_steps; pass --allow-changed lr,max_steps" in refused
    done = cli("train", config, "--out", run, *longer, "--allow-changed", "lr,max_steps")
    assert done.code == 0 and "resuming" in done.err and "lr 0.0001 -> 5e-05, max_steps 2 -> 4" in done.err
    assert _train_steps(run) == [1, 2, 3, 4]


@pytest.mark.parametrize("change", ["edited", "cut"])
def test_resume_refuses_training_data_that_changed(make_config, tmp_path, train_tiny, change):
    corpus = tmp_path / "corpus.jsonl"
    shutil.copy(SLICE, corpus)
    config = make_config(f"data.corpus=jsonl:{corpus}", "max_steps=4", "eval_every=2")
    run = tmp_path / "run"
    train_tiny(config, run)
    shutil.rmtree(ckpt.latest_checkpoint(run))  # so that the resume has steps left to train
    lines = corpus.read_text(encoding="utf-8").splitlines(keepends=True)
    if change == "edited":
        row = json.loads(lines[5])
        row["passages"]["en"] = "An edited passage."
        lines[5] = json.dumps(row, ensure_ascii=False) + "\n"
    else:
        lines = lines[:30]
    corpus.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(LangmixError, match="training data differ") as err:
        train_tiny(config, run, resume=True)
    assert "\n" not in str(err.value)


def test_resume_of_a_run_saved_before_data_were_fingerprinted(make_config, tmp_path, train_tiny):
    run = tmp_path / "run"
    train_tiny(make_config(), run)
    shutil.rmtree(ckpt.latest_checkpoint(run))
    (run / run_folder.DATA_FILE).unlink()  # as written by langmix before data.json existed
    assert train_tiny(make_config(), run, resume=True).steps == 8
    assert json.loads((run / run_folder.DATA_FILE).read_text())["train_records"] > 0


def test_a_run_records_its_data_relative_to_itself_and_resumes_from_its_own_config_elsewhere(
    make_config, tmp_path, train_tiny, monkeypatch
):
    (tmp_path / "data").mkdir()
    shutil.copy(SLICE, tmp_path / "data" / "train.jsonl")
    run = tmp_path / "runs" / "a"
    train_tiny(make_config(f"data.corpus=jsonl:{tmp_path / 'data' / 'train.jsonl'}", "max_steps=4"), run)
    for name in ("config.yaml", "config.json"):
        assert str(tmp_path) not in (run / name).read_text(encoding="utf-8")
    assert json.loads((run / "config.json").read_text())["data"]["corpus"] == ["jsonl:../../data/train.jsonl"]
    moved = tmp_path / "moved"
    shutil.move(tmp_path / "data", moved / "data")
    shutil.move(tmp_path / "runs", moved / "runs")
    shutil.rmtree(ckpt.latest_checkpoint(moved / "runs" / "a"))  # so that the resume has steps left to train
    monkeypatch.chdir(moved / "data")  # the recorded path is read against the run folder, not here
    config = load_config(moved / "runs" / "a" / "config.yaml")
    assert config.data.corpus == [f"jsonl:{(moved / 'data' / 'train.jsonl').resolve()}"]
    assert train_tiny(config, moved / "runs" / "a", resume=True).steps == 4


def test_a_run_that_recorded_an_absolute_data_path_still_resumes(make_config, tmp_path, train_tiny):
    run = tmp_path / "run"
    config = make_config("max_steps=4")
    train_tiny(config, run)
    shutil.rmtree(ckpt.latest_checkpoint(run))
    saved = json.loads((run / "config.json").read_text())
    saved["data"]["corpus"] = [f"jsonl:{SLICE}"]  # as langmix wrote it before paths were relative
    (run / "config.json").write_text(json.dumps(saved), encoding="utf-8")
    assert train_tiny(config, run, resume=True).steps == 4


def test_the_temp_folder_of_a_killed_checkpoint_write_is_removed_by_the_next(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    # a writer that hangs inside torch.save, after its temp folder and a part of state.pt exist
    code = (
        "import time, torch\n"
        "from langmix.training import checkpoint as ckpt\n"
        "real = torch.save\n"
        "def hang(obj, fh):\n"
        "    fh.write(b'x' * 1000); fh.flush(); time.sleep(600)\n"
        "torch.save = hang\n"
        f"ckpt.save_checkpoint({str(tmp_path)!r}, 6, {{'w': 1}})\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    deadline = time.monotonic() + 900  # importing torch in the writer took over 120 s on a loaded 2-core machine
    while time.monotonic() < deadline and not _temps(tmp_path) and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(_temps(tmp_path)) == 1
    ckpt.save_checkpoint(tmp_path, 4, {"w": torch.ones(2)})
    assert _temps(tmp_path) == [] and ckpt.latest_checkpoint(tmp_path).name == "step-00000004"
