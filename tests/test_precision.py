"""Precision names and what they resolve to on a CPU: ``auto`` is bf16 only with AMX (measured fast there),
``bf16`` is refused with a one-line fix where the CPU would only emulate it, and embeddings of one precision
never serve from the cache for another."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from langmix.errors import LangmixError
from langmix.precision import cpu_bf16, precision_name, resolve_precision

CPU = torch.device("cpu")


@pytest.mark.parametrize("kind, auto, bf16", [
    ("amx", torch.bfloat16, torch.bfloat16),
    ("avx512_bf16", None, torch.bfloat16),  # native but measured no faster (AMD EPYC): auto stays fp32
])
def test_auto_is_bf16_only_on_a_cpu_with_amx(pretend_cpu_bf16, kind, auto, bf16):
    pretend_cpu_bf16(kind)
    assert resolve_precision("auto", CPU) is auto
    assert resolve_precision("bf16", CPU) is bf16
    assert resolve_precision("fp32", CPU) is None


def test_bf16_without_native_instructions_is_refused_with_the_fix(pretend_cpu_bf16):
    pretend_cpu_bf16(None)
    assert resolve_precision("auto", CPU) is None
    with pytest.raises(LangmixError, match="no native bf16") as err:
        resolve_precision("bf16", CPU)
    assert "use precision=fp32" in str(err.value)


@pytest.mark.parametrize("kind, precision, name", [
    ("amx", "auto", "bf16"), (None, "auto", "fp32"), ("amx", "fp32", "fp32"), ("avx512_bf16", "bf16", "bf16"),
])
def test_precision_name_says_what_a_choice_runs_in(pretend_cpu_bf16, kind, precision, name):
    pretend_cpu_bf16(kind)
    assert precision_name(precision, "cpu") == name


@pytest.mark.real_cpu
def test_cpu_bf16_agrees_with_the_cpu_flags():
    """The probe behind all of this: oneDNN's own check says yes on any AVX-512 CPU, even one that would
    only emulate bf16 (0.25x fp32 measured), so langmix asks torch for the instructions themselves."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        pytest.skip("no /proc/cpuinfo to compare with")
    flags = set(next(line for line in cpuinfo.read_text().splitlines() if line.startswith("flags")).split())
    expected = "amx" if "amx_tile" in flags else "avx512_bf16" if "avx512_bf16" in flags else None
    assert cpu_bf16() == expected


def test_the_cache_keeps_fp32_and_bf16_embeddings_apart(tiny_model_path, tmp_path, pretend_cpu_bf16):
    from langmix.evaluation.cache import EmbeddingCache
    from langmix.model.load import load_model

    model, texts = load_model(tiny_model_path), ["one text", "another text"]
    cache = EmbeddingCache("tiny", tmp_path)
    pretend_cpu_bf16(None)  # auto is fp32 here: one entry serves both names
    cache.encode(model, texts, "passage", precision="auto")
    cache.encode(model, texts, "passage", precision="fp32")
    assert (cache.misses, cache.hits) == (1, 1)
    pretend_cpu_bf16("amx")  # auto is bf16 here: a new entry
    cache.encode(model, texts, "passage", precision="auto")
    cache.encode(model, texts, "passage", precision="bf16")
    assert (cache.misses, cache.hits) == (2, 2)


@pytest.mark.parametrize("value, kind", [("amx", "amx"), ("avx512_bf16", "avx512_bf16"), ("none", None)])
def test_the_environment_names_the_cpu_kind(monkeypatch, value, kind):
    monkeypatch.setenv("LANGMIX_CPU_BF16", value)
    assert cpu_bf16() == kind


def test_an_unknown_cpu_kind_in_the_environment_is_one_line_with_the_fix(monkeypatch):
    monkeypatch.setenv("LANGMIX_CPU_BF16", "sapphire")
    with pytest.raises(LangmixError, match="LANGMIX_CPU_BF16='sapphire' is not a CPU kind") as err:
        cpu_bf16()
    assert "amx, avx512_bf16, none" in str(err.value)
