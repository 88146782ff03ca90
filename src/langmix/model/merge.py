"""Weight averaging of models of one architecture: WiSE-FT and model soups.

WiSE-FT (Wortsman et al., arXiv 2109.01903) interpolates a fine-tuned model with the model it started from,
:math:`\\theta = (1 - \\lambda)\\,\\theta_{start} + \\lambda\\,\\theta_{tuned}`, which can keep what the
starting model was good at (here: mono mAP) while holding most of what fine-tuning gained; a model soup
(Wortsman et al., arXiv 2203.05482) averages models fine-tuned from one start with other settings. Both are
:func:`merge_models`: a weighted mean of the parameters, tensor by tensor, computed and kept in float32.

Averaging only means something for models that share a starting point, so a model of another architecture,
with other parameter names or shapes, or with another tokenizer is refused before anything is averaged.
Tensors that are not floats (e.g. ``position_ids``) are not averaged: they must be equal and are copied.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from langmix.errors import LangmixError
from langmix.io import atomic_dir, check_writable
from langmix.markdown import table
from langmix.model.load import load_model
from langmix.model.pooled import quiet_hf_progress
from langmix.provenance import versions

RECORD_FILE = "merge.json"
# config keys that name where or with what a model was saved, not what it computes
_SAVE_DETAILS = frozenset({"_name_or_path", "transformers_version", "architectures", "dtype", "torch_dtype"})
_FIX = "merge only models fine-tuned from one starting model (same architecture and tokenizer)"


# ---------------------------------------------------------------------------------------- weights
def check_weights(weights: Sequence[float] | None, n_models: int) -> list[float]:
    """One mixing proportion per model, each >= 0, summing to 1; ``None`` gives every model 1 / n."""
    if n_models < 2:
        raise LangmixError(f"merging needs two or more models, got {n_models}",
                           "name the starting model and the fine-tuned model(s)")
    if weights is None:
        return [1.0 / n_models] * n_models
    weights = [float(w) for w in weights]
    shown = ",".join(f"{w:g}" for w in weights)
    if len(weights) != n_models:
        raise LangmixError(f"{len(weights)} weights ({shown}) for {n_models} models", "give one weight per model")
    if not all(math.isfinite(w) and w >= 0 for w in weights):
        raise LangmixError(f"weights {shown} hold a negative or non-finite number",
                           "give mixing proportions: numbers in [0, 1] that sum to 1")
    if abs(sum(weights) - 1.0) > 1e-6:
        raise LangmixError(f"weights {shown} sum to {sum(weights):.6g}, not 1",
                           "give weights that sum to 1, e.g. 0.25,0.75")
    return weights


def check_lambdas(lambdas: Sequence[float]) -> list[float]:
    """WiSE-FT's lambdas (the fine-tuned model's weight): at least one, each in [0, 1]."""
    fix = "give weights of the fine-tuned model such as 0,0.25,0.5,0.75,1"
    if not lambdas:
        raise LangmixError("no lambda to try", fix)
    for lam in lambdas:
        if not 0.0 <= lam <= 1.0:
            raise LangmixError(f"lambda {lam:g} is outside [0, 1]", fix)
    return list(lambdas)


# ---------------------------------------------------------------------------------------- compatibility
@dataclass
class Fingerprint:
    """What must be equal in two models for their weights to be averaged."""

    label: str  # how messages name the model
    tokenizer: str  # sha256 of the tokenizer's vocabulary and rules
    vocabulary: int
    architecture: dict[str, Any]  # module stack, sequence length, the transformer's config
    tensors: dict[str, str]  # state-dict name -> shape and kind, e.g. "250002x32 float"


def input_name(item: Any, index: int) -> str:
    """How a merge input is named in messages and in the merge record: its name or resolved folder."""
    if isinstance(item, (str, Path)):
        path = Path(item).expanduser()
        return str(path.resolve()) if path.exists() else str(item)
    return f"model {index + 1} (in memory)"


def fingerprint(model, label: str) -> Fingerprint:
    tokenizer = model.tokenizer
    state = model.state_dict()
    return Fingerprint(
        label=label,
        tokenizer=tokenizer_hash(tokenizer),
        vocabulary=len(tokenizer),
        architecture=architecture(model),
        tensors={name: _kind(tensor) for name, tensor in state.items()},
    )


def tokenizer_hash(tokenizer) -> str:
    """sha256 of everything that maps text to token ids: the fast tokenizer's full definition (vocabulary,
    normaliser, pre-tokeniser, special tokens), or a slow tokenizer's vocabulary and special tokens."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        rules = {"vocab": sorted(tokenizer.get_vocab().items()), "special": tokenizer.all_special_tokens}
        return hashlib.sha256(json.dumps(rules, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    truncation, padding = backend.truncation, backend.padding  # left set by the last call: not the tokenizer's
    backend.no_truncation()
    backend.no_padding()
    try:
        return hashlib.sha256(backend.to_str().encode()).hexdigest()
    finally:
        if truncation is not None:
            backend.enable_truncation(**truncation)
        if padding is not None:
            backend.enable_padding(**padding)


def architecture(model) -> dict[str, Any]:
    """The transformer's config less save details, then the module stack and each later module's settings
    (in this order, so that a difference is named by its root: hidden_size before the pooling dimension)."""
    modules = list(model)
    encoder = getattr(modules[0], "auto_model", None)
    config = encoder.config.to_dict() if encoder is not None else {}
    out = {k: v for k, v in config.items() if k not in _SAVE_DETAILS}
    out["modules"] = " -> ".join(type(m).__name__ for m in modules)
    out["max_seq_length"] = model.max_seq_length
    for module in modules[1:]:
        if hasattr(module, "get_config_dict"):
            out[f"{type(module).__name__} settings"] = module.get_config_dict()
    return out


def _kind(tensor: Tensor) -> str:
    shape = "x".join(map(str, tensor.shape)) or "scalar"
    return f"{shape} {'float' if tensor.is_floating_point() else str(tensor.dtype).removeprefix('torch.')}"


def check_compatible(reference: Fingerprint, other: Fingerprint) -> None:
    """A one-line error naming the first difference that makes averaging ``other`` into ``reference`` wrong."""
    a, b = reference.label, other.label
    if other.tokenizer != reference.tokenizer:
        sizes = (f"{other.vocabulary} vs {reference.vocabulary} tokens" if other.vocabulary != reference.vocabulary
                 else f"both {reference.vocabulary} tokens, but other tokens or rules")
        raise LangmixError(f"{b} has another tokenizer than {a} ({sizes})", _FIX)
    for key in [*reference.architecture, *(k for k in other.architecture if k not in reference.architecture)]:
        mine, theirs = reference.architecture.get(key), other.architecture.get(key)
        if mine != theirs:
            raise LangmixError(f"{b} differs from {a} in {key} ({_short(theirs)} vs {_short(mine)})", _FIX)
    missing = sorted(reference.tensors.keys() - other.tensors.keys())
    extra = sorted(other.tensors.keys() - reference.tensors.keys())
    if missing or extra:
        what = f"lacks the tensor {missing[0]}" if missing else f"has a tensor {extra[0]} that {a} lacks"
        raise LangmixError(f"{b} {what}", _FIX)
    for name, kind in reference.tensors.items():
        if other.tensors[name] != kind:
            raise LangmixError(f"tensor {name} is {other.tensors[name]} in {b} but {kind} in {a}", _FIX)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------------------------- averaging
def merge_models(models: Sequence[Any], weights: Sequence[float] | None = None):
    """The weighted average of ``models`` (folders, hub names, ``multilingual-e5-small``, or loaded
    ``SentenceTransformer`` models) as a new ``SentenceTransformer``; ``weights`` sum to 1 (default uniform).

    Models named by path are loaded one at a time on the CPU, so a soup holds three models' worth of memory
    (the first, the running sum, the one being added), however many it averages. A weight of exactly 1 gives
    that model back bit for bit; models of weight 0 are checked but add nothing. Every floating tensor is
    averaged in float32 and the result is float32; other tensors must be equal and are copied. Inputs given
    as loaded models are not changed (the result shares the first one's tokenizer).
    """
    weights = check_weights(weights, len(models))
    merged, reference, total = None, None, {}
    for index, (item, weight) in enumerate(zip(models, weights, strict=True)):
        model = _loaded(item)
        found = fingerprint(model, input_name(item, index))
        if merged is None:
            merged, reference = (model if model is not item else _copy_weights(model)), found
        else:
            check_compatible(reference, found)
        add_weighted(total, model.state_dict(), weight, found.label)
    merged.to(torch.float32)
    merged.load_state_dict(total)
    return merged.eval()


def _loaded(item: Any):
    """A model named by path or name, loaded on the CPU; a loaded model as it is."""
    return load_model(item, device="cpu") if isinstance(item, (str, Path)) else item


def _copy_weights(model):
    """A deep copy that shares the tokenizer (copying XLM-R's 250k-piece vocabulary takes seconds; a tokenizer
    is not changed by averaging)."""
    return copy.deepcopy(model, memo={id(model.tokenizer): model.tokenizer})


def add_weighted(total: dict[str, Tensor], state: dict[str, Tensor], weight: float, label: str) -> None:
    """Add ``weight`` x each floating tensor of ``state`` to ``total`` (float32, on the CPU); a tensor of
    another kind is stored the first time and must be equal in every later model."""
    for name, tensor in state.items():
        tensor = tensor.detach()
        if not tensor.is_floating_point():
            kept = total.setdefault(name, tensor.cpu().clone())
            if not torch.equal(kept, tensor.cpu()):
                raise LangmixError(f"{label} holds other values in {name} (not a float: copied, never averaged)",
                                   _FIX)
        elif weight:  # a weight of 0 adds nothing, so weights 1 and 0 return a model bit for bit
            term = tensor.to("cpu", torch.float32) * weight
            if name in total:
                total[name].add_(term)
            else:
                total[name] = term


def interpolation_path(start: Any, tuned: Any, lambdas: Sequence[float]) -> Iterator[tuple[float, Any]]:
    """WiSE-FT: for each lambda, ``(lambda, (1 - lambda) x start + lambda x tuned)``, both models loaded once."""
    check_lambdas(lambdas)
    start, tuned = _loaded(start), _loaded(tuned)
    for lam in lambdas:
        yield lam, merge_models([start, tuned], [1.0 - lam, lam])


LAMBDA_RULES = ("best", "goal")  # how choose_lambda picks: see its docstring


def choose_lambda(start: Any, tuned: Any, lambdas: Sequence[float], evaluator: Callable[[Any], dict[str, float]],
                  metric: str, rule: str = "best") -> tuple[float, list[dict[str, float]]]:
    """Score each lambda of :func:`interpolation_path` with ``evaluator(model) -> metrics`` (a dev evaluator,
    never a test set) and return the chosen lambda (the first of equals) and every scored row.

    ``rule="best"`` picks the highest ``metric``. ``rule="goal"`` picks by the "best of all three" goal on dev:
    lambda 0 (the starting model) and 1 (the tuned one) are scored too, as references, and the lambda chosen
    maximises its worst margin ``min(mono(l) - mono(0), cross(l) - cross(1), multi(l) - multi(1))`` (mAP of the
    ``metric``'s benchmark): keep the starting model's mono and the tuned model's cross and multi."""
    if rule not in LAMBDA_RULES:
        raise LangmixError(f"unknown lambda rule '{rule}'", f"use one of {', '.join(LAMBDA_RULES)}")
    scored = sorted({0.0, 1.0, *lambdas}) if rule == "goal" else list(lambdas)
    rows = []
    for lam, model in interpolation_path(start, tuned, scored):
        metrics = evaluator(model)
        if metric not in metrics:
            raise LangmixError(f"dev metric '{metric}' is not among the dev metrics", f"pick one of {_some(metrics)}")
        rows.append({"lambda": lam, **metrics})
    listed = set(lambdas)
    candidates = [row for row in rows if row["lambda"] in listed]
    key = (lambda row: row[metric]) if rule == "best" else goal_margin(rows, metric)
    best = max(candidates, key=key)  # max keeps the first of equal scores
    return best["lambda"], rows


def dev_map_names(metric: str) -> dict[str, str]:
    """``{"mono": "<bench>/mono/map", "cross": ..., "multi": ...}`` for the benchmark that ``metric`` names."""
    prefix = metric.split("/")[0]
    return {job: f"{prefix}/{job}/map" for job in ("mono", "cross", "multi")}


def goal_margin(rows: list[dict[str, float]], metric: str) -> Callable[[dict[str, float]], float]:
    """``row -> min(mono - mono at lambda 0, cross - cross at 1, multi - multi at 1)`` over dev mAP of the
    benchmark that ``metric`` (e.g. ``xquad-r/multi/map``) names."""
    by_lambda = {row["lambda"]: row for row in rows}
    names = dev_map_names(metric)
    missing = [name for name in names.values() if name not in by_lambda[0.0]]
    if missing:
        raise LangmixError(f"the goal rule needs dev {', '.join(missing)}, which the dev evaluator does not give",
                           "use the best rule (one dev metric) with this dev set")
    refs = {"mono": by_lambda[0.0], "cross": by_lambda[1.0], "multi": by_lambda[1.0]}
    return lambda row: min(row[name] - refs[job][name] for job, name in names.items())


def _some(metrics: dict[str, float], shown: int = 6) -> str:
    """The first names of a metrics dict, headline ones (fewest '/': no per-language breakdown) first."""
    names = sorted(metrics, key=lambda name: (name.count("/"), name))
    more = f", ... ({len(names)} in all)" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


# ---------------------------------------------------------------------------------------- saving
def check_new_folder(folder: str | Path, option: str = "--out") -> Path:
    """``folder`` can be written and holds nothing yet: a merge never replaces a model already there."""
    folder = check_writable(folder, folder=True, option=option)
    if folder.is_dir() and any(folder.iterdir()):
        raise LangmixError(f"{option} {folder} already holds files", "pick a new folder or remove that one first")
    return folder


def save_merged(model, folder: str | Path, inputs: Sequence[str], weights: Sequence[float],
                extra: dict[str, Any] | None = None) -> Path:
    """Save ``model`` as a sentence-transformers folder (atomically) with ``merge.json`` (inputs, weights,
    langmix and library versions, ``extra``) and a model card saying what was merged."""
    folder = check_new_folder(folder)
    record = {"method": "weighted average of parameters, tensor by tensor (WiSE-FT / model soup)",
              "inputs": [{"model": name, "weight": w} for name, w in zip(inputs, weights, strict=True)],
              **(extra or {}), "versions": versions()}
    with atomic_dir(folder) as tmp:
        with quiet_hf_progress():
            model.save(str(tmp))
        (tmp / RECORD_FILE).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (tmp / "README.md").write_text(model_card(record), encoding="utf-8")
    return folder


def model_card(record: dict[str, Any]) -> str:
    inputs = table(["model", "weight"], [[f"`{row['model']}`", f"{row['weight']:g}"] for row in record["inputs"]])
    return f"""---
library_name: sentence-transformers
tags: [sentence-transformers, langmix, multilingual, dense-retrieval, merged-model]
---

# langmix merged retriever

The weighted average of these models' parameters, tensor by tensor (`langmix merge`; WiSE-FT,
arXiv 2109.01903, when one input is the starting model; a model soup, arXiv 2203.05482, otherwise):

{inputs}

`{RECORD_FILE}` records the inputs, the weights and the versions that made it. Use with prompts `query: `
and `passage: ` (stored in the model's prompts): `model.encode(texts, prompt_name="query")`.
"""
