"""Fixtures of the evaluation tests: the tiny LAReQA/BEIR/MIRACL folders and a keyword mock model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "evaluation"


class KeywordModel:
    """Mock encoder: a text becomes the L2-normalised count vector of a fixed keyword vocabulary.

    So a question and the sentences sharing its keyword score highest, whatever the language prefix.
    Mimics ``SentenceTransformer.encode`` as :func:`langmix.model.load.encode` calls it.
    """

    def __init__(self, vocabulary: tuple[str, ...] = ("apple", "berry", "cherry", "date", "palm", "pie")) -> None:
        self.vocabulary = vocabulary
        self.calls = 0

    def encode(self, texts, prompt_name=None, **_) -> np.ndarray:
        self.calls += 1
        rows = np.array([[t.lower().count(w) for w in self.vocabulary] + [1e-3] for t in texts], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.fixture
def keyword_model() -> KeywordModel:
    return KeywordModel()


@pytest.fixture
def lareqa_tiny() -> Path:
    """en: questions a-d, de: a-c, fr: a-b; each sentence names its question's keyword (see the JSON)."""
    return FIXTURES / "lareqa-tiny"


@pytest.fixture
def beir_tiny() -> Path:
    return FIXTURES / "beir-tiny"


@pytest.fixture
def miracl_tiny() -> Path:
    return FIXTURES / "miracl-tiny"
