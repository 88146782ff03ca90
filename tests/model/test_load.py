from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from langmix.errors import LangmixError
from langmix.model.load import encode, load_model


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


def _not_a_model(tiny_model_path: Path, folder: Path, damage: str) -> Path:
    if damage in ("empty", "other_files"):
        folder.mkdir()
        if damage == "other_files":
            (folder / "notes.txt").write_text("not a model")
        return folder
    shutil.copytree(tiny_model_path, folder)
    if damage == "bad_modules_json":
        (folder / "modules.json").write_text("{")
    else:
        weights = next(folder.rglob("*.safetensors"))
        weights.write_bytes(weights.read_bytes()[:1000])
    return folder


@pytest.mark.parametrize("damage", ["empty", "other_files", "bad_modules_json", "cut_weights"])
def test_a_folder_that_is_not_a_model_is_one_line(tiny_model_path: Path, tmp_path: Path, damage: str) -> None:
    folder = _not_a_model(tiny_model_path, tmp_path / "model", damage)
    with pytest.raises(LangmixError, match=f"model folder {folder} is not a usable model") as err:
        load_model(folder)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("command", ["encode", "evaluate", "train"])
def test_commands_given_a_folder_that_is_not_a_model(tiny_model_path: Path, tmp_path: Path, cli, command: str) -> None:
    folder = _not_a_model(tiny_model_path, tmp_path / "model", "other_files")
    fixtures = Path(__file__).parents[1] / "fixtures"
    config = tmp_path / "c.yaml"
    corpus = fixtures / "training" / "xquad-r-slice.jsonl"
    config.write_text(f"model:\n  name: {folder}\ndata:\n  corpus: [jsonl:{corpus}]\nbatch_size: 8\n")
    args = {
        "encode": ["encode", "-", "-o", tmp_path / "e.npy", "--model", folder],
        "evaluate": ["evaluate", "--benchmark", f"lareqa:{fixtures / 'evaluation' / 'lareqa-tiny'}", "--out",
                     tmp_path / "run", "--model", folder, "--no-cache"],
        "train": ["train", config, "--out", tmp_path / "run"],
    }[command]
    assert "is not a usable model" in cli(*args, stdin="ein Satz\n").error_line()

