"""Every committed config loads as what its name says: ``configs/reproduce-*.yaml`` as ``langmix reproduce``
settings, every other ``configs/*.yaml`` as ``langmix train`` settings (a typo or a removed key fails here, not
in a user's first run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from langmix.reproduce import make_settings
from langmix.training.config import load_config

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))


def test_there_are_configs_to_check():
    assert len(CONFIGS) >= 10


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.name)
def test_a_committed_config_loads(path: Path):
    if path.name.startswith("reproduce-"):
        settings = make_settings("full", path)
        settings.train_config()  # the train: block validates as langmix train settings too
        assert settings.fingerprint()
    else:
        assert load_config(path, []).data.corpus


def test_the_recipe_config_is_x_y_with_distillation():
    config = load_config(Path(__file__).parents[1] / "configs" / "recipe-x-y-distill.yaml", [])
    assert (config.data.strategy, config.distill_weight) == ("x-y", 1.0)
