"""kill -9 during ``langmix train``, then ``langmix train --resume``: the final weights equal an uninterrupted run."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import torch
from typer.testing import CliRunner

from langmix.cli import app
from langmix.training import checkpoint as ckpt
from langmix.training.config import dump_yaml
from langmix.training.run_folder import read_log

STEPS = 24


def _started_checkpoints(run_dir) -> list[str]:
    # a step-* folder only exists after the atomic rename, so listing names is enough (and cheap)
    root = ckpt.checkpoint_root(run_dir)
    return sorted(p.name for p in root.glob("step-*")) if root.is_dir() else []


def test_kill_9_then_resume_gives_identical_weights(make_config, tmp_path, train_tiny):
    config = make_config(f"max_steps={STEPS}", "epochs=10", "eval_every=12", "checkpoint_every=2")
    config_file = tmp_path / "quick.yaml"
    config_file.write_text(dump_yaml(config), encoding="utf-8")
    run = tmp_path / "killed"

    proc = subprocess.Popen(
        [sys.executable, "-c", "from langmix.cli import main; main()", "train", str(config_file), "--out", str(run)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline and len(_started_checkpoints(run)) < 2:
        time.sleep(0.02)
    still_running = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert still_running, f"training ended before it could be killed: {proc.stderr.read().decode()[-500:]}"
    killed_at = ckpt.latest_checkpoint(run)
    assert killed_at is not None and ckpt.load_checkpoint(killed_at)["loop"]["step"] < STEPS

    result = CliRunner().invoke(app, ["train", str(config_file), "--out", str(run), "--resume"])
    assert result.exit_code == 0, result.output

    straight = tmp_path / "straight"
    train_tiny(config, straight)
    a = ckpt.load_checkpoint(ckpt.latest_checkpoint(straight))
    b = ckpt.load_checkpoint(ckpt.latest_checkpoint(run))
    assert a["loop"]["step"] == b["loop"]["step"] == STEPS
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    losses = [[r["loss"] for r in read_log(d / "train_log.jsonl") if r["event"] == "train"] for d in (straight, run)]
    assert losses[0] == losses[1] and len(losses[0]) == STEPS
