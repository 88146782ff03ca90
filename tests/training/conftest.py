"""Fixtures for training tests: a quick config on the XQuAD-R slice with the shared tiny model.

``tests/fixtures/training/xquad-r-slice.jsonl`` holds 40 XQuAD-R records in en, de, es (passages cut to 240
characters, two hard negatives cut to 160); a 0.25 dev split leaves about 30 training records.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from langmix.training.config import TrainConfig, load_config

FIXTURES = Path(__file__).parents[1] / "fixtures" / "training"
SLICE = FIXTURES / "xquad-r-slice.jsonl"


def quick_config(model_path: Path, *overrides: str) -> TrainConfig:
    """configs/quick.yaml's settings on the slice with ``model_path``, one thread (bitwise-reproducible)."""
    base = [f"model.name={model_path}", f"data.corpus=jsonl:{SLICE}", "model.max_query_length=24",
            "model.max_passage_length=48", "model.freeze_embeddings=true", "data.dev_fraction=0.25",
            "data.dev_batches=2", "batch_size=8", "epochs=4", "max_steps=8", "lr=1e-4", "eval_every=4",
            "checkpoint_every=2", "threads=1", "device=cpu"]
    return load_config(None, base + list(overrides))


@pytest.fixture
def make_config(tiny_model_path: Path):
    return lambda *overrides: quick_config(tiny_model_path, *overrides)


@pytest.fixture(scope="session")
def tiny_model(tiny_model_path: Path):
    """The tiny model loaded once (loading the XLM-R tokenizer takes seconds); tests train deep copies."""
    from langmix.model.load import load_model

    return load_model(tiny_model_path, device="cpu")


@pytest.fixture
def train_tiny(tiny_model):
    """``train(config, out_dir, ...)`` on a fresh copy of the tiny model."""
    import copy

    from langmix.training.loop import train

    return lambda config, out_dir, **kw: train(config, out_dir, model=copy.deepcopy(tiny_model), **kw)
