"""The run folder of ``langmix train``: opened or checked for a resume, its data fingerprint, its JSONL log.

``config.yaml``/``config.json`` (resolved; data paths relative to the run folder) and ``versions.json`` are
written when a run starts;
``data.json`` holds the content hash of the training data (a resume on other data is refused);
``train_log.jsonl`` has one line per logged step and one per evaluation. Checkpoints
(:mod:`langmix.training.checkpoint`), the best model and the loss curve (:mod:`langmix.training.report`) and
``metrics.json`` complete the folder.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langmix import distributed as dist
from langmix.data.parallel import ParallelCorpus
from langmix.errors import LangmixError
from langmix.io import check_writable, read_json, write_json, write_text
from langmix.provenance import versions
from langmix.training import checkpoint as ckpt
from langmix.training.config import TrainConfig, absolute_data_paths, dump_yaml, from_dict, relative_data_paths, to_dict

LOG_FILE = "train_log.jsonl"
DATA_FILE = "data.json"
LEFTOVERS = (LOG_FILE, "loss_curve.png", DATA_FILE, "best-model")  # of a run without a checkpoint
# settings a resume may change when asked to (--allow-changed): the lr and its schedule, which act only on the
# steps still to come; everything else would make the run a mix of two experiments
RESUME_CHANGEABLE = ("lr", "warmup_ratio", "max_steps", "epochs", "max_grad_norm")


def open_run(
    out_dir: Path, config: TrainConfig, resume: bool, env: dist.DistEnv, allow_changed: Sequence[str] = ()
) -> Path | None:
    """Check the folder against ``resume``; write config and versions; return the checkpoint to resume.

    A started run without a complete checkpoint (killed, or out of disk, before its first one) holds
    nothing to resume: with or without ``resume`` it starts again from step 0. A resume may change the
    settings in ``allow_changed`` (a subset of :data:`RESUME_CHANGEABLE`); the run's config then becomes the
    new one, and the log records the change.
    """
    _check_allowed(allow_changed, resume)
    check_writable(out_dir, folder=True)
    latest = ckpt.latest_checkpoint(out_dir)
    started = (out_dir / "config.json").is_file()
    if latest is None and (out_dir / "metrics.json").is_file():
        raise LangmixError(f"run folder {out_dir} holds a finished run without checkpoints", "pick another --out")
    if latest is None and resume and not started:
        raise LangmixError(f"no complete checkpoint in {out_dir}", "start the run without --resume")
    if latest is not None and not resume:
        raise LangmixError(
            f"run folder {out_dir} already holds a run", "pass --resume to continue it or pick another --out"
        )
    if latest is not None:
        _check_resumed_config(out_dir, config, latest, allow_changed, env)
        return latest
    if env.is_main:
        if started:
            print(f"langmix: {out_dir} holds no complete checkpoint; starting its run from step 0", file=sys.stderr)
        remove_leftovers(out_dir)
        write_config(out_dir, config)
        write_json(out_dir / "versions.json", versions())
    dist.barrier()
    return None


def _check_allowed(allow_changed: Sequence[str], resume: bool) -> None:
    unknown = [key for key in allow_changed if key not in RESUME_CHANGEABLE]
    if unknown:
        raise LangmixError(f"--allow-changed {unknown[0]}: a resume can change only {', '.join(RESUME_CHANGEABLE)}",
                           "train into a new --out to change anything else")
    if allow_changed and not resume:
        raise LangmixError("--allow-changed applies to a resume", "add --resume")


def _check_resumed_config(
    out_dir: Path, config: TrainConfig, latest: Path, allow_changed: Sequence[str], env: dist.DistEnv
) -> None:
    """Refuse a resume whose config differs from the run's in a setting not in ``allow_changed``; store the
    allowed changes as the run's config and log them."""
    # through from_dict, so a setting added to langmix since the run was saved compares as its default;
    # data paths as absolute files on both sides: the run records them relative to itself (older runs: absolute)
    saved = to_dict(absolute_data_paths(from_dict(read_json(out_dir / "config.json")), out_dir))
    new = to_dict(absolute_data_paths(config, Path.cwd()))
    differing = _diff(saved, new)
    refused = [key for key in differing if key not in allow_changed]
    if refused:
        changeable = [key for key in refused if key in RESUME_CHANGEABLE]
        hint = f"pass --allow-changed {','.join(changeable)} to resume with the new value(s), or " if changeable else ""
        raise LangmixError(
            f"config differs from the checkpointed run in {', '.join(refused)}",
            f"{hint}resume with the same config file and overrides, or train into a new --out",
        )
    if differing and env.is_main:
        step = int(latest.name.removeprefix(ckpt.PREFIX))
        changed = {key: [saved[key], new[key]] for key in differing}
        print(f"langmix: resuming {out_dir} from step {step} with "
              f"{', '.join(f'{k} {a} -> {b}' for k, (a, b) in changed.items())}", file=sys.stderr)
        log_row(out_dir, {"event": "resume", "step": step, "changed": changed}, env)
        write_config(out_dir, config)
    dist.barrier()


def write_config(out_dir: Path, config: TrainConfig) -> None:
    record = relative_data_paths(config, out_dir)  # no path of this machine: the folder moves with its data
    write_text(out_dir / "config.yaml", dump_yaml(record))
    write_json(out_dir / "config.json", to_dict(record))


def remove_leftovers(out_dir: Path) -> None:
    for name in LEFTOVERS:
        path = out_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def check_data(
    out_dir: Path, train_corpus: ParallelCorpus, dev_corpus: ParallelCorpus, resuming: bool, env: dist.DistEnv
) -> None:
    """Store the content hash of the training data in a new run; refuse to resume a run on other data.

    A run saved before langmix stored the hash has none to compare: it gets the current one.
    """
    found = data_record(train_corpus, dev_corpus)
    path = out_dir / DATA_FILE
    saved = read_json(path) if resuming and path.is_file() else None
    if saved is not None and saved.get("fingerprint") != found["fingerprint"]:
        raise LangmixError(
            f"the training data differ from those the run in {out_dir} was trained on (now "
            f"{found['train_records']} train / {found['dev_records']} dev records, then "
            f"{saved.get('train_records')} / {saved.get('dev_records')}; or their texts changed)",
            "restore the original data, or train into a new --out without --resume",
        )
    if saved is None and env.is_main:
        write_json(path, found)
    dist.barrier()


def data_record(train_corpus: ParallelCorpus, dev_corpus: ParallelCorpus) -> dict[str, Any]:
    """What ``data.json`` holds: the content hash of the train and dev records (their split included) and sizes."""
    return {
        "fingerprint": hashlib.sha256(f"{train_corpus.fingerprint()}:{dev_corpus.fingerprint()}".encode()).hexdigest(),
        "train_records": len(train_corpus),
        "dev_records": len(dev_corpus),
    }


def _diff(a: dict, b: dict, prefix: str = "") -> list[str]:
    keys = sorted(set(a) | set(b))
    out = []
    for key in keys:
        if isinstance(a.get(key), dict) and isinstance(b.get(key), dict):
            out += _diff(a[key], b[key], f"{prefix}{key}.")
        elif a.get(key) != b.get(key):
            out.append(f"{prefix}{key}")
    return out


def log_row(out_dir: Path, row: dict[str, Any], env: dist.DistEnv) -> None:
    if env.is_main:
        with open(out_dir / LOG_FILE, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")


def truncate_log(path: Path, step: int, env: dist.DistEnv) -> None:
    """Drop log lines written after the checkpoint we resume from (and a torn last line)."""
    if not env.is_main or not path.exists():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if row.get("step", 0) <= step:
            kept.append(line)
    write_text(path, "".join(f"{line}\n" for line in kept))


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """Every row of a ``train_log.jsonl``."""
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
