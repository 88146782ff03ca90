"""Settings of a ``langmix reproduce`` run: the grid, the data slice, and the training config of every cell.

Two presets: ``full`` (the whole grid on all data) and ``quick`` (a real but small train + evaluate that
fits 15 minutes on 2 CPU cores). A YAML file (``--config``, see configs/reproduce-*.yaml) and command-line
options override preset fields; ``train`` holds :class:`langmix.training.config.TrainConfig` overrides, nested by
section exactly like a ``langmix train`` config file, shared by every trained cell (each cell then sets
the model, corpus, strategy, alpha and seed). The merged values are type-checked strictly (pydantic,
no coercion: ``seeds: "abc"`` or ``test_questions: -1`` fail at once, before any cell runs) and used as
given, so the run's fingerprint does not depend on the check.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import ConfigDict, Field, NonNegativeFloat, PositiveInt, TypeAdapter, ValidationError

from langmix.data.lareqa import CandidateMode
from langmix.errors import LangmixError, validation_problem
from langmix.evaluation.debias import parse_debias
from langmix.model.default import MODEL_NAME
from langmix.precision import Precision
from langmix.reproduce.grid import DEFAULT_ALPHAS, MAIN_ROWS, PROTOCOLS
from langmix.training.config import TrainConfig, from_dict, set_value, validate


@dataclass
class ReproduceSettings:
    __pydantic_config__ = ConfigDict(strict=True, allow_inf_nan=False, revalidate_instances="always")

    preset: str = "full"
    model: str = MODEL_NAME
    protocols: list[str] = field(default_factory=lambda: list(PROTOCOLS))
    strategies: list[str] = field(default_factory=lambda: list(MAIN_ROWS))
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    alphas: list[Annotated[float, Field(ge=0, le=1)]] = field(default_factory=lambda: list(DEFAULT_ALPHAS))
    sweep_seeds: Annotated[int, Field(ge=0)] = 1  # seeds (the first ones) trained per alpha of the sweep
    row_seeds: dict[str, PositiveInt] = field(default_factory=dict)  # rows with fewer seeds (their first n)
    seed_major: bool = False  # run every row of the first seed before the next seed
    sources: dict[str, NonNegativeFloat] = field(
        default_factory=lambda: {"lareqa": 2.0, "ntrex128": 1.0, "mkqa": 1.0}
    )
    max_train_records: PositiveInt | None = None
    test_languages: list[str] | None = None
    test_questions: PositiveInt | None = None  # keep this many question ids of the test set (None: all)
    article_test_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.33
    candidates: CandidateMode = "context"  # LAReQA candidate mode of the test set
    # LAReQA passages of the training corpus: answer sentence + paragraph, or the sentence alone
    train_candidates: CandidateMode = "context"
    eval_batch_size: PositiveInt = 64
    eval_max_seq_length: PositiveInt | None = None  # token cap when encoding the test set (None: the model's)
    eval_precision: Precision = "fp32"  # test-set encoding (langmix.precision)
    debias: list[str] = field(default_factory=list)  # training-free debiasing re-scorings, e.g. ["lir:1"]
    debias_rows: list[str] = field(default_factory=lambda: ["zero-shot", "hybrid"])  # rows that get them
    # WiSE-FT rows (langmix.model.merge): each listed trained row's best model interpolated with the starting model,
    # lambda (the trained model's weight) picked among wise_ft_lambdas on the cell's dev questions, scored as a
    # row "<row> + wise-ft"
    wise_ft_rows: list[str] = field(default_factory=list)
    wise_ft_lambdas: list[Annotated[float, Field(ge=0, le=1)]] = field(default_factory=lambda: [0.25, 0.5, 0.75, 1.0])
    # how lambda is picked (langmix.model.merge.choose_lambda): "best" dev selection metric, or "goal": the
    # largest worst margin to the starting model's dev mono mAP and the tuned model's dev cross and multi mAP
    wise_ft_rule: Literal["best", "goal"] = "best"
    keep_models: bool = False  # keep each cell's best model and checkpoints (large)
    # another run folder (e.g. a shorter budget) whose dev curves the report draws dashed beside this run's
    compare_with: str | None = None
    n_resamples: PositiveInt = 10_000  # randomisation test sign flips
    train: dict[str, Any] = field(default_factory=dict)

    def train_config(self) -> TrainConfig:
        """The shared training config (validated); cells copy it and set their own fields."""
        config = from_dict(copy.deepcopy(self.train))
        set_value(config, "model.name", self.model)
        validate(config)
        if self.wise_ft_rows and not config.data.dev_benchmark:
            raise LangmixError("wise_ft_rows needs dev questions to pick lambda on, and train.data.dev_benchmark is "
                               "null", "set train.data.dev_benchmark: train (held-out training questions)")
        return config

    def fingerprint(self) -> str:
        """Hash of everything that changes a cell's numbers; the grid selection is left out, so a partial
        run can be extended with more protocols, strategies, seeds or alphas."""
        values = dataclasses.asdict(self)
        for key, default in ADDED_LATER.items():  # runs written before a setting existed keep their hash
            if values[key] == default:
                values.pop(key)
        for key in (
            "preset",
            "protocols",
            "strategies",
            "seeds",
            "alphas",
            "sweep_seeds",
            "row_seeds",
            "seed_major",
            "keep_models",
            "compare_with",
            "n_resamples",
        ):
            values.pop(key)
        return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]


# settings added after runs had been written, with the value those runs used
ADDED_LATER: dict[str, Any] = {"eval_precision": "fp32", "train_candidates": "context", "debias": [],
                               "debias_rows": ["zero-shot", "hybrid"], "wise_ft_rows": [],
                               "wise_ft_lambdas": [0.25, 0.5, 0.75, 1.0], "wise_ft_rule": "best"}

FULL_TRAIN: dict[str, Any] = {
    "model": {"max_query_length": 64, "max_passage_length": 256, "freeze_embeddings": False},
    "data": {"hard_negatives": 1, "dev_fraction": 0.05, "dev_batches": 4},
    "batch_size": 64,
    "epochs": 3,
    "lr": 3e-5,
    "weight_decay": 0.01,
    "eval_every": 50,
    "patience": 3,
    "checkpoint_every": 100,
    "keep_checkpoints": 1,
    "log_every": 10,
}

QUICK_TRAIN: dict[str, Any] = {
    "model": {"max_query_length": 32, "max_passage_length": 64, "freeze_embeddings": True},
    "data": {"hard_negatives": 0, "dev_fraction": 0.1, "dev_batches": 2},
    "batch_size": 16,
    "epochs": 1,
    "max_steps": 16,
    "lr": 5e-5,
    "eval_every": 8,
    "patience": 0,
    "checkpoint_every": 1000,
    "keep_checkpoints": 1,
    "log_every": 5,
}

PRESETS: dict[str, dict[str, Any]] = {
    "full": {"train": FULL_TRAIN},
    "quick": {
        "protocols": ["xquad-to-mlqa"],
        "strategies": ["zero-shot", "x-x-mono", "x-y", "hybrid"],
        "seeds": [0],
        "alphas": [],
        "max_train_records": 2000,
        "test_questions": 24,
        "candidates": "sentence",
        "eval_batch_size": 32,
        "n_resamples": 5000,
        "train": QUICK_TRAIN,
    },
}


def make_settings(
    preset: str = "full", config_file: str | Path | None = None, **overrides: Any
) -> ReproduceSettings:
    """Preset, then the YAML file, then ``overrides`` (None values are ignored; ``train`` dicts merge)."""
    if preset not in PRESETS:
        raise LangmixError(f"unknown preset '{preset}'", f"use one of {', '.join(PRESETS)}")
    values: dict[str, Any] = {"preset": preset}
    _merge(values, copy.deepcopy(PRESETS[preset]))
    if config_file is not None:
        _merge(values, _read_yaml(Path(config_file)))
    _merge(values, {k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in dataclasses.fields(ReproduceSettings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise LangmixError(
            f"unknown reproduce setting(s) {', '.join(unknown)}", f"use {', '.join(sorted(known))}"
        )
    settings = ReproduceSettings(**values)
    try:
        TypeAdapter(ReproduceSettings).validate_python(settings)  # a check only: the values stay as given
    except ValidationError as err:
        raise LangmixError(
            f"reproduce setting {validation_problem(err)}", "fix it in --config or on the command line"
        ) from err
    for spec in settings.debias:
        parse_debias(spec)
    untrained = [row for row in settings.wise_ft_rows if MAIN_ROWS.get(row, (None,))[0] is None]
    if untrained:
        raise LangmixError(f"wise_ft_rows names {', '.join(untrained)}, which trains no model to interpolate",
                           f"list trained rows: {', '.join(r for r, (s, _) in MAIN_ROWS.items() if s)}")
    if not settings.wise_ft_lambdas and settings.wise_ft_rows:
        raise LangmixError("wise_ft_lambdas is empty", "list the lambdas to choose from, e.g. [0.25, 0.5, 0.75, 1.0]")
    settings.train_config()  # fail now, not after the first cells, on a bad training override
    return settings


def apply_train_overrides(settings: ReproduceSettings, items: list[str]) -> None:
    """``key=value`` training overrides (as ``langmix train --override``) into ``settings.train``."""
    for item in items:
        key, sep, text = item.partition("=")
        if not sep:
            raise LangmixError(f"override '{item}' is not key=value", "write e.g. --train-set lr=1e-5")
        section, _, name = key.strip().rpartition(".")
        target = settings.train.setdefault(section, {}) if section else settings.train
        target[name] = yaml.safe_load(text) if text.strip() else ""
    settings.train_config()


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict) and key != "sources":
            _merge(base[key], value)
        else:
            base[key] = value


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise LangmixError(
            f"config file {path} not found", "check the path (examples: configs/reproduce-*.yaml)"
        )
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise LangmixError(
            f"{path} is not valid YAML ({str(err).splitlines()[0]})", "fix the syntax"
        ) from err
    if not isinstance(values, dict):
        raise LangmixError(f"{path} is not a mapping of settings", "write key: value lines")
    return values
