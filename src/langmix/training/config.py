"""The training schema: three dataclasses (model, data, train) whose defaults are the study's settings.

A config file is a short list of overrides, nested by section::

    data:
      strategy: hybrid
      alpha: 0.5
    train:
      batch_size: 32

and ``key=value`` overrides (``data.strategy=x-y``, or just ``strategy=x-y`` when the field name is unique)
are parsed as YAML scalars and type-checked against the field's annotation. Unknown keys and wrong types
fail with a one-line :class:`~langmix.errors.LangmixError`. The resolved config is written next to every
run and stored in every checkpoint; the three arms of the experiment differ only in ``data.strategy``
(plus ``data.alpha`` for hybrid).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from langmix.data.lareqa import check_candidate_mode
from langmix.errors import LangmixError
from langmix.model.default import MODEL_NAME
from langmix.precision import PRECISIONS
from langmix.training.dropout import CPU_DROPOUTS
from langmix.training.sampling import STRATEGIES


def _f(default: Any, help: str) -> Any:
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass
class ModelConfig:
    name: str = _f(MODEL_NAME, "model name or folder, loaded with langmix.model.load_model")
    max_query_length: int = _f(64, "tokens kept per query (prompt included)")
    max_passage_length: int = _f(256, "tokens kept per passage (prompt included)")
    freeze_embeddings: bool = _f(False, "freeze the word-embedding matrix (most of mE5-small's parameters)")
    compile: bool = _f(False, "torch.compile the encoder's forward (dynamic shapes): a GPU lever, not yet "
                       "measured on a GPU; on the 2-core CPU it made steps slower")


@dataclass
class DataConfig:
    corpus: list[str] = _f(["xquad-r"], "corpora for langmix.data.loaders.load_corpus; 'spec@weight' mixes them")
    languages: list[str] | None = _f(None, "languages to keep (None: all of the corpus)")
    strategy: str = _f("hybrid", f"batch strategy, one of {', '.join(STRATEGIES)}")
    alpha: float | str = _f(0.5, "hybrid: probability of an x-x-mono batch, or 'proportional'")
    dev_fraction: float = _f(0.1, "share of record ids held out for the dev loss (split by id, never by row)")
    dev_batches: int = _f(4, "dev batches averaged for the dev loss")
    hard_negatives: int = _f(0, "hard negatives per query (from the record, passage language)")
    max_records: int | None = _f(None, "keep only the first N training records (quick runs)")
    dev_benchmark: str | None = _f(
        None, "LAReQA benchmark among the corpora (xquad-r, mlqa-r): its held-out questions give a dev mAP "
        "that selects the best model and drives early stopping (None: dev loss; in a reproduce config, "
        "'train' means the protocol's training benchmark)")
    dev_candidates: str = _f("context", "dev mAP candidates: 'context' (sentence + paragraph) or 'sentence'")


@dataclass
class TrainConfig:
    """Everything a training run depends on; ``model`` and ``data`` are sections, the rest is the loop."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    seed: int = _f(0, "seed for weights-independent randomness: sampler, dropout, split")
    batch_size: int = _f(100, "global batch (pairs per step, summed over ranks)")
    epochs: int = _f(1, "passes over the training sampler")
    max_steps: int | None = _f(None, "stop after this many steps (None: epochs * batches per epoch)")
    lr: float = _f(3e-5, "peak AdamW learning rate")
    weight_decay: float = _f(0.01, "AdamW weight decay")
    warmup_ratio: float = _f(0.1, "share of the steps with linear warm-up; then linear decay to 0")
    max_grad_norm: float = _f(1.0, "gradient clipping norm (0: off)")
    temperature: float = _f(0.05, "InfoNCE temperature (scale = 1/temperature)")
    symmetric: bool = _f(False, "add the passage -> query InfoNCE term")
    distill_weight: float = _f(0.0, "weight w of the same-language distillation term from the frozen starting "
                               "model (loss = InfoNCE + w * KL(teacher || student) of each query's softmax over "
                               "the batch's candidates in its language; training.losses.SameLanguageDistillation); "
                               "0: off, no teacher")
    distill_temperature: float | None = _f(None, "temperature of both softmaxes of the distillation term (None: "
                                           "temperature)")
    embed_chunk: int = _f(16, "texts per length-sorted forward when embedding one side of a batch, each chunk "
                          "padded to its own longest text (0: one forward padded to the batch's longest)")
    cpu_dropout: str = _f("torch", "dropout masks on the CPU: torch (bernoulli) or pcg64 (training.dropout: the same "
                          "distribution, drawn ~9x faster; a different draw than torch's)")
    row_embedding_grad: bool = _f(True, "trained word embeddings get row gradients gathered into one persistent "
                                  "dense buffer (training.embedding_grad: the same gradient, without building a "
                                  "fresh vocab x d matrix in each backward); not with model.compile")
    grad_cache_chunk: int = _f(0, "GradCache chunk size in texts per forward (0: plain loss)")
    precision: str = _f("auto", "fp32; bf16 autocast (CUDA, or a CPU with AVX512-BF16/AMX); fp16 (CUDA); "
                         "auto = bf16 on a CUDA GPU that has it or a CPU with AMX, else fp32")
    device: str = _f("auto", "auto (CUDA when available), cpu, cuda or cuda:N (one process on GPU N)")
    threads: int = _f(0, "torch CPU threads (0: torch default)")
    eval_every: int = _f(100, "steps between dev evaluations (the end of training is always evaluated)")
    eval_on_start: bool = _f(False, "also evaluate the untrained model on dev, logged as step 0: where the dev curve "
                             "starts (never selected: the best model is a trained one)")
    patience: int = _f(3, "evaluations without improvement before early stopping (0: never stop)")
    selection_metric: str = _f("auto", "dev_loss, an evaluator key, or auto (the evaluator's primary metric)")
    checkpoint_every: int = _f(100, "steps between resumable checkpoints")
    keep_checkpoints: int = _f(2, "complete checkpoints kept on disk")
    log_every: int = _f(1, "steps between JSONL log lines")


SECTIONS = ("model", "data")
DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")
FLOAT32_MAX = 3.4028234663852886e38
PATH_KINDS = ("jsonl", "squad", "mmarco", "lareqa")  # the corpus and benchmark specs that name a file or folder


def to_dict(config: TrainConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)


def from_dict(values: dict[str, Any]) -> TrainConfig:
    """A config from a nested dict (a resolved config file or a checkpoint); unknown keys fail."""
    config = TrainConfig()
    for key, value in _flatten(values).items():
        set_value(config, key, value)
    return config


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """Defaults, then the YAML file's overrides, then ``key=value`` overrides, then validation.

    A relative data path in the file is read against the file's folder (so a run folder's ``config.yaml``,
    which records them relative to itself, trains from any working directory); one in an override is read
    against the working directory.
    """
    config = TrainConfig()
    if path is not None:
        for key, value in _flatten(_read_yaml(Path(path))).items():
            set_value(config, key, value)
        config = absolute_data_paths(config, Path(path).parent)
    for item in overrides or []:
        key, sep, text = item.partition("=")
        if not sep:
            raise LangmixError(
                f"override '{item}' is not key=value", "write e.g. --override data.strategy=x-y"
            )
        set_value(config, key.strip(), _parse_scalar(text))
    validate(config)
    return config


def set_value(config: TrainConfig, key: str, value: Any) -> None:
    """Set ``section.field`` or a unique bare ``field`` after checking the value against its type."""
    owner, name = _resolve_key(config, key)
    hint = typing.get_type_hints(type(owner))[name]
    setattr(owner, name, _coerce(value, hint, key))


def validate(config: TrainConfig) -> None:
    """Cross-field checks that a type cannot express."""
    data = config.data
    check_candidate_mode(data.dev_candidates, "data.dev_candidates")
    if data.strategy not in STRATEGIES:
        raise LangmixError(
            f"unknown strategy '{data.strategy}'", f"set data.strategy to one of {', '.join(STRATEGIES)}"
        )
    if isinstance(data.alpha, str) and data.alpha != "proportional":
        raise LangmixError(
            f"data.alpha='{data.alpha}' is neither a number nor 'proportional'", "use e.g. 0.5"
        )
    if isinstance(data.alpha, float) and not 0.0 <= data.alpha <= 1.0:
        raise LangmixError(f"data.alpha={data.alpha} is outside [0, 1]", "use a probability such as 0.5")
    if not 0.0 < data.dev_fraction < 1.0:
        raise LangmixError(f"data.dev_fraction={data.dev_fraction} is outside (0, 1)", "use e.g. 0.1")
    if config.cpu_dropout not in CPU_DROPOUTS:
        raise LangmixError(f"unknown cpu_dropout '{config.cpu_dropout}'", f"use one of {', '.join(CPU_DROPOUTS)}")
    if config.precision not in PRECISIONS:
        raise LangmixError(f"unknown precision '{config.precision}'", f"use one of {', '.join(PRECISIONS)}")
    positive = {  # None (where allowed) means "no limit"
        "batch_size": config.batch_size,
        "epochs": config.epochs,
        "max_steps": config.max_steps,
        "lr": config.lr,
        "temperature": config.temperature,
        "distill_temperature": config.distill_temperature,
        "eval_every": config.eval_every,
        "checkpoint_every": config.checkpoint_every,
        "keep_checkpoints": config.keep_checkpoints,
        "log_every": config.log_every,
        "model.max_query_length": config.model.max_query_length,
        "model.max_passage_length": config.model.max_passage_length,
        "data.dev_batches": data.dev_batches,
        "data.max_records": data.max_records,
    }
    for key, value in positive.items():
        if value is not None and not value > 0:  # `not >` also refuses NaN
            raise LangmixError(f"{key}={value} must be positive", f"set {key} to a value > 0")
    non_negative = {
        "weight_decay": config.weight_decay,
        "max_grad_norm": config.max_grad_norm,
        "distill_weight": config.distill_weight,
        "grad_cache_chunk": config.grad_cache_chunk,
        "embed_chunk": config.embed_chunk,
        "threads": config.threads,
        "patience": config.patience,
        "data.hard_negatives": data.hard_negatives,
    }
    for key, value in non_negative.items():
        if not value >= 0:
            raise LangmixError(f"{key}={value} must not be negative", f"set {key} to 0 or more")
    if not 0.0 <= config.warmup_ratio < 1.0:
        raise LangmixError(f"warmup_ratio={config.warmup_ratio} is outside [0, 1)", "use e.g. 0.1")
    _check_finite(config)
    _check_no_op(config)


def _check_finite(config: TrainConfig) -> None:
    """An infinite float trains nothing: lr=inf turns the weights into inf/nan, temperature=inf scales every
    similarity to 0 (the loss is log(batch) whatever the model does)."""
    for key in _all_keys():
        owner, name = _resolve_key(config, key)
        value = getattr(owner, name)
        if isinstance(value, float) and not math.isfinite(value):
            default = getattr(_resolve_key(TrainConfig(), key)[0], name)
            such = f"a number such as {default}" if default is not None else "a finite number, or null (the default)"
            raise LangmixError(f"{key}={value} is not a finite number", f"set {key} to {such}")
    for key in ("temperature", "distill_temperature"):
        value = getattr(config, key)
        if value is not None and 1.0 / value > FLOAT32_MAX:  # the scale multiplies float32 similarities
            raise LangmixError(f"{key}={value} is so small that 1/{key} overflows float32", "use e.g. 0.05")


def _check_no_op(config: TrainConfig) -> None:
    """Settings under which every step is a no-op, or which run somewhere other than asked."""
    if config.batch_size < 2 and config.data.hard_negatives == 0:
        raise LangmixError(
            f"batch_size={config.batch_size} leaves a query no negative to score against (no other pair in its "
            "batch, data.hard_negatives=0): the loss would be 0 on every step and nothing would be learnt",
            "set batch_size to 2 or more (the study uses 100)",
        )
    if not DEVICE.fullmatch(config.device):
        raise LangmixError(f"unknown device '{config.device}'", "use auto, cpu, cuda or cuda:N (N: a GPU index)")


def describe() -> list[tuple[str, str, str]]:
    """(key, default, help) for every field, for ``--help``-style listings and the docs."""
    rows = []
    config = TrainConfig()
    for key in _all_keys():
        owner, name = _resolve_key(config, key)
        meta = {f.name: f.metadata for f in dataclasses.fields(owner)}[name]
        rows.append((key, repr(getattr(owner, name)), meta.get("help", "")))
    return rows


def split_weight(item: str) -> tuple[str, float | None]:
    """``spec@weight`` of ``data.corpus`` as (spec, weight); (item, None) without a weight."""
    spec, sep, tail = item.rpartition("@")
    if not sep:
        return item, None
    try:
        return spec, float(tail)
    except ValueError as err:
        raise LangmixError(f"corpus weight in '{item}' is not a number", "write e.g. ntrex128@0.5") from err


def absolute_data_paths(config: TrainConfig, base: Path) -> TrainConfig:
    """``config`` with its data paths absolute and resolved, relative ones read against ``base``."""
    return _map_data_paths(config, lambda path: str((base / path).resolve()))


def relative_data_paths(config: TrainConfig, folder: Path) -> TrainConfig:
    """``config`` with its data paths relative to ``folder`` (relative ones read against the working
    directory): what a run folder records, so that no path of the machine it ran on is written down."""
    home = folder.resolve()
    return _map_data_paths(config, lambda path: Path(os.path.relpath(Path(path).resolve(), home)).as_posix())


def _map_data_paths(config: TrainConfig, change: Callable[[str], str]) -> TrainConfig:
    """A copy of ``config`` with ``change(path)`` for the path of every ``data.corpus`` spec of a
    :data:`PATH_KINDS` kind (its ``@weight`` kept) and of a ``lareqa:FOLDER`` dev benchmark."""

    def spec_with(item: str, spec: str) -> str:
        kind, sep, path = spec.partition(":")
        return f"{kind}:{change(path)}{item[len(spec):]}" if sep and path and kind in PATH_KINDS else item

    corpus = [spec_with(item, split_weight(item)[0]) for item in config.data.corpus]
    data = dataclasses.replace(config.data, corpus=corpus)
    if data.dev_benchmark is not None:
        data.dev_benchmark = spec_with(data.dev_benchmark, data.dev_benchmark)
    return dataclasses.replace(config, model=dataclasses.replace(config.model), data=data)


def dump_yaml(config: TrainConfig) -> str:
    return yaml.safe_dump(to_dict(config), sort_keys=False, allow_unicode=True)


def _all_keys() -> list[str]:
    config = TrainConfig()
    keys = []
    for f in dataclasses.fields(config):
        if f.name in SECTIONS:
            keys += [f"{f.name}.{g.name}" for g in dataclasses.fields(getattr(config, f.name))]
        else:
            keys.append(f.name)
    return keys


def _resolve_key(config: TrainConfig, key: str) -> tuple[Any, str]:
    keys = _all_keys()
    if key not in keys:
        matches = [k for k in keys if k.rpartition(".")[2] == key]
        if len(matches) != 1:
            raise LangmixError(f"unknown config key '{key}'", f"use one of: {', '.join(keys)}")
        key = matches[0]
    section, _, name = key.rpartition(".")
    return (getattr(config, section) if section else config), name


def _flatten(values: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(values, dict):
        raise LangmixError(f"config section '{prefix or '<top>'}' is not a mapping", "write key: value lines")
    flat: dict[str, Any] = {}
    for key, value in values.items():
        full = f"{prefix}{key}"
        if str(key) in SECTIONS and not prefix and isinstance(value, dict):
            flat.update(_flatten(value, f"{full}."))
        else:
            flat[full] = value
    return flat


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise LangmixError(f"config file {path} not found", "check the path (examples are in configs/)")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise LangmixError(
            f"config file {path} is not valid YAML ({str(err).splitlines()[0]})", "fix the syntax"
        ) from err
    return values or {}


def _parse_scalar(text: str) -> Any:
    try:
        return yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        return text


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """Return ``value`` converted to ``hint`` (int, float, bool, str, list[str], optional and str unions)."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None and type(None) in options:
        return None
    for option in options:
        ok, converted = _try(value, option)
        if ok:
            return converted
    names = " or ".join(getattr(o, "__name__", str(o)) for o in options)
    raise LangmixError(f"config key '{key}' got {value!r}, expected {names}", f"fix the value of {key}")


def _try(value: Any, option: Any) -> tuple[bool, Any]:
    if option is bool:
        return isinstance(value, bool), value
    if option is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if option is float:
        if isinstance(value, str):  # YAML 1.1 reads "1e-4" (no dot) as a string
            with contextlib.suppress(ValueError):
                value = float(value)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if option is str:
        return isinstance(value, str), value
    if typing.get_origin(option) is list:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        return isinstance(value, list) and all(isinstance(v, str) for v in value), value
    return False, value
