"""Shared fixtures: the embedded model converted once per run, and a tiny random model with the real tokenizer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def embedded_model_path() -> Path:
    """The converted multilingual-e5-small (cached under $LANGMIX_HOME, converted on first use)."""
    from langmix.embedded import prepare_embedded_model

    return prepare_embedded_model(quiet=True)


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory, embedded_model_path: Path) -> Path:
    """A 2-layer BERT (hidden 32) with random weights and the real XLM-R tokenizer, as a sentence-transformers model."""
    from langmix.model import build_random_model

    return build_random_model(tmp_path_factory.mktemp("tiny") / "model", "bert", tokenizer_from=embedded_model_path,
                              hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                              max_position_embeddings=512)


@pytest.fixture(scope="session")
def embedded_model(embedded_model_path: Path):
    from langmix.model import load_model

    return load_model(embedded_model_path)
