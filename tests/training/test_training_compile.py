"""``model.compile``: torch.compile'd training computes the same losses and saves the same weight names."""

from __future__ import annotations

import copy

import pytest
import torch
from safetensors.torch import load_file

from langmix.training.loop import train
from langmix.training.run_folder import read_log

pytestmark = pytest.mark.slow  # inductor builds C++ kernels: a minute or two on 2 cores


def _without_dropout(model):
    model = copy.deepcopy(model)
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    return model


def test_compiled_training_matches_eager(make_config, tmp_path, tiny_model):
    """Dropout off, so both runs are deterministic: per-step losses agree to fusion rounding."""
    overrides = ("max_steps=3", "eval_every=3", "checkpoint_every=3")
    runs = {"false": tmp_path / "eager", "true": tmp_path / "compiled"}
    graphs = {}
    for flag, folder in runs.items():
        torch._dynamo.reset()
        counters = torch._dynamo.utils.counters
        counters.clear()
        train(make_config(*overrides, f"model.compile={flag}"), folder, model=_without_dropout(tiny_model))
        graphs[flag] = counters["stats"]["unique_graphs"]
    assert graphs["false"] == 0 and graphs["true"] > 0  # the compiled run really ran through dynamo
    eager, compiled = ([r["loss"] for r in read_log(run / "train_log.jsonl") if r["event"] == "train"]
                       for run in runs.values())
    assert len(eager) == 3
    assert compiled == pytest.approx(eager, rel=1e-3)
    keys = [set(load_file(run / "best-model" / "model.safetensors")) for run in runs.values()]
    assert keys[0] == keys[1]
