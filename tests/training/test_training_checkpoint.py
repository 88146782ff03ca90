"""Checkpoints: complete round trip, torn folders never loaded, old ones pruned, RNG states restored."""

from __future__ import annotations

import pickle
import pickletools
import random
import zipfile

import pytest
import torch

from langmix.errors import LangmixError
from langmix.training import checkpoint as ckpt
from langmix.training.loop import LoopState


def _state(step: int) -> dict:
    return {"step": step, "weights": torch.full((3,), float(step)), "rng": ckpt.rng_state()}


def test_round_trip_and_latest(tmp_path):
    for step in (2, 4):
        ckpt.save_checkpoint(tmp_path, step, _state(step), keep=5)
    latest = ckpt.latest_checkpoint(tmp_path)
    assert latest.name == "step-00000004"
    loaded = ckpt.load_checkpoint(latest)
    assert loaded["step"] == 4 and torch.equal(loaded["weights"], torch.full((3,), 4.0))


@pytest.mark.parametrize("damage", ["no_marker", "truncated", "flipped_byte", "temp_folder"])
def test_torn_checkpoint_is_skipped(tmp_path, damage):
    ckpt.save_checkpoint(tmp_path, 2, _state(2), keep=5)
    newest = ckpt.save_checkpoint(tmp_path, 4, _state(4), keep=5)
    state_file = newest / ckpt.STATE_FILE
    if damage == "no_marker":
        (newest / ckpt.MARKER_FILE).unlink()
    elif damage == "truncated":
        state_file.write_bytes(state_file.read_bytes()[:100])
    elif damage == "flipped_byte":
        data = bytearray(state_file.read_bytes())
        data[len(data) // 2] ^= 0xFF
        state_file.write_bytes(bytes(data))
    else:  # a half-written temp folder of a later step, as left by kill -9 inside save_checkpoint
        newest.rename(newest.with_name(".step-00000006.abc.tmp"))
    assert ckpt.latest_checkpoint(tmp_path).name == "step-00000002"
    if damage != "temp_folder":
        with pytest.raises(LangmixError, match="incomplete or corrupt"):
            ckpt.load_checkpoint(newest)


def test_keeps_only_the_newest(tmp_path):
    for step in range(1, 5):
        ckpt.save_checkpoint(tmp_path, step, _state(step), keep=2)
    assert [p.name for p in ckpt.complete_checkpoints(tmp_path)] == ["step-00000003", "step-00000004"]


def test_rng_state_restores_every_generator():
    state = ckpt.rng_state()
    first = (random.random(), torch.rand(2).tolist())
    ckpt.set_rng_state(state)
    assert (random.random(), torch.rand(2).tolist()) == first


def test_a_checkpoint_with_inf_or_nan_is_never_loaded(tmp_path):
    """As written by a langmix that did not check: the run diverged just before it (issue 25)."""
    weights = {"layer.weight": torch.tensor([1.0, float("inf")]), "layer.bias": torch.zeros(2)}
    optimizer = {"state": {0: {"exp_avg_sq": torch.tensor([float("nan")])}}, "param_groups": [{"lr": 1.0}]}
    bad = ckpt.save_checkpoint(tmp_path, 2, {"model": weights, "optimizer": optimizer}, keep=5)
    assert ckpt.nonfinite_tensors({"model": weights, "optimizer": optimizer}) == [
        "model.layer.weight", "optimizer.state.0.exp_avg_sq"]
    with pytest.raises(LangmixError, match=r"holds inf/nan in 2 tensors .* move step-00000002 out of"):
        ckpt.load_checkpoint(bad)


def test_set_aside_hides_the_checkpoints_from_a_step_on(tmp_path):
    for step in (1, 2, 3):
        ckpt.save_checkpoint(tmp_path, step, _state(step), keep=5)
    ckpt.save_checkpoint(tmp_path, 2, _state(2), keep=5)  # written again after an earlier set-aside: replaced
    moved = ckpt.set_aside(tmp_path, 2)
    assert [p.name for p in moved] == ["diverged-step-00000002", "diverged-step-00000003"]
    assert [p.name for p in ckpt.complete_checkpoints(tmp_path)] == ["step-00000001"]
    ckpt.save_checkpoint(tmp_path, 2, _state(2), keep=5)
    assert [p.name for p in ckpt.set_aside(tmp_path, 2)] == ["diverged-step-00000002"]
    assert ckpt.is_complete(moved[0]) and ckpt.latest_checkpoint(tmp_path).name == "step-00000001"


def pickled_modules(data: bytes) -> set[str]:
    """The modules whose classes or functions a pickle (protocol 2, as torch.save writes) names."""
    return {str(arg).split(" ")[0] for op, arg, _ in pickletools.genops(data) if op.name == "GLOBAL"}


def test_a_checkpoint_names_no_langmix_module(make_config, train_tiny, tmp_path):
    """A training checkpoint holds torch, NumPy and Python objects only: moving or renaming a langmix module
    (issue 26 moved them into model/ and training/) cannot stop an old checkpoint from loading."""
    train_tiny(make_config("max_steps=2", "checkpoint_every=2", "eval_every=2"), tmp_path / "run")
    with zipfile.ZipFile(ckpt.latest_checkpoint(tmp_path / "run") / ckpt.STATE_FILE) as archive:
        pickled = [archive.read(name) for name in archive.namelist() if name.endswith("data.pkl")]
    modules = set().union(*map(pickled_modules, pickled))
    assert "torch._utils" in modules  # the weights were found
    assert not {m for m in modules if m.split(".")[0] == "langmix"}, modules
    assert pickled_modules(pickle.dumps(LoopState(), protocol=2)) == {"langmix.training.loop"}  # power check
