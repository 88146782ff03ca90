"""Fixtures for tests/reproduce: the tiny LANGMIX_DATA folder (see tests/fixtures/reproduce/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "reproduce" / "data"


@pytest.fixture
def tiny_data(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point langmix at the tiny XQuAD-R / MLQA-R / NTREX-128 / MKQA slices."""
    monkeypatch.setenv("LANGMIX_DATA", str(DATA))
    return DATA
