from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from langmix.errors import LangmixError
from langmix.model import encode, load_model


def test_tiny_model_loads_and_encodes_normalised(tiny_model_path: Path) -> None:
    model = load_model(tiny_model_path)
    emb = encode(model, ["ein Satz", "a sentence", "一句话"], "passage")
    assert emb.shape == (3, 32) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    # the prompt is part of the input: query and passage embeddings of one text differ
    assert not np.allclose(encode(model, ["a sentence"], "query"), emb[1:2])


def test_plain_transformer_gets_mean_pooling(tiny_model_path: Path, tmp_path: Path) -> None:
    """A plain Hugging Face folder (no modules.json) is wrapped with mean pooling and normalisation."""
    import shutil

    plain = tmp_path / "plain"
    shutil.copytree(tiny_model_path, plain, ignore=shutil.ignore_patterns("modules.json", "1_Pooling", "2_Normalize"))
    model = load_model(plain)
    assert [type(m).__name__ for m in model] == ["Transformer", "Pooling", "Normalize"]
    np.testing.assert_allclose(encode(model, ["x y"], "query"), encode(load_model(tiny_model_path), ["x y"], "query"),
                               atol=1e-5)


def test_bad_inputs_raise_one_line_errors(tiny_model_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as hub

    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", True)
    with pytest.raises(LangmixError, match="not found locally.*give a path or use the default"):
        load_model("no-such-org/no-such-model")
    model = load_model(tiny_model_path)
    with pytest.raises(LangmixError, match="unknown prompt kind 'document'"):
        encode(model, ["x"], "document")  # type: ignore[arg-type]
    with pytest.raises(LangmixError, match="no texts"):
        encode(model, [], "query")
