"""Numeric precision of training and encoding: one list of names, one rule for what each means on a device.

``fp32`` runs in float32. ``bf16`` runs the matrix products under ``torch.autocast`` in bfloat16 (weights
and the softmax/normalisation stay float32; gradients flow in float32), on a CUDA GPU with bf16 or on a
CPU with native bf16 instructions (AVX512-BF16, or AMX tiles); elsewhere oneDNN would emulate bf16 at a
fraction of the fp32 rate (0.25x on a 2-core AVX-512 Xeon without them), so ``bf16`` is refused there with
a one-line error. ``fp16`` is CUDA-only and needs gradient scaling.

``auto`` picks bf16 where it is both native and fast, fp32 elsewhere: on a CUDA GPU with bf16, and on a CPU
with AMX, where a bf16 matrix product ran 4.2x its fp32 rate and the quality checks passed (embeddings at
cosine >= 0.99997 to fp32; three 250-step trainings within 0.0012 dev mAP of fp32; benchmarks/README.md).
On AVX512-BF16 without AMX (an AMD EPYC) bf16 was measured no faster than fp32, so ``auto`` stays fp32
there. :func:`precision_name` says what a choice resolves to, for run records and cache keys.
"""

from __future__ import annotations

import contextlib
import os
from typing import Literal, get_args

import torch

from langmix.errors import LangmixError

Precision = Literal["auto", "fp32", "bf16", "fp16"]
PRECISIONS: tuple[str, ...] = get_args(Precision)


CPU_BF16_ENV = "LANGMIX_CPU_BF16"
CPU_BF16_KINDS = {"amx": "amx", "avx512_bf16": "avx512_bf16", "none": None}


def cpu_bf16() -> str | None:
    """The CPU's native bf16 instructions: ``"amx"``, ``"avx512_bf16"``, or None (bf16 would be emulated).

    ``$LANGMIX_CPU_BF16`` (``amx``, ``avx512_bf16`` or ``none``) overrides the probe, in this process and in
    the processes it starts: the test suite runs as one CPU kind on every machine, and a user can see what
    ``precision: auto`` would do on another kind (torch emulates bf16 where the CPU lacks it: same numbers,
    slower)."""
    forced = os.environ.get(CPU_BF16_ENV)
    if forced:
        if forced not in CPU_BF16_KINDS:
            raise LangmixError(f"{CPU_BF16_ENV}={forced!r} is not a CPU kind",
                               f"set it to one of {', '.join(CPU_BF16_KINDS)}, or unset it to ask the CPU")
        return CPU_BF16_KINDS[forced]
    probes = torch.cpu
    if hasattr(probes, "_is_amx_tile_supported") and hasattr(probes, "_is_avx512_bf16_supported"):
        if probes._is_amx_tile_supported():
            return "amx"
        return "avx512_bf16" if probes._is_avx512_bf16_supported() else None
    # older torch: oneDNN's own check, which also says yes where AVX-512 would only emulate bf16
    mkldnn = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    return "avx512_bf16" if mkldnn else None


def bf16_native(device: torch.device) -> bool:
    """Whether ``device`` runs bf16 matrix products natively."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return cpu_bf16() is not None
    return False


def bf16_by_default(device: torch.device) -> bool:
    """Whether ``auto`` means bf16 on ``device``: native and measured faster than fp32 (CUDA, or AMX)."""
    if device.type == "cuda":
        return bf16_native(device)
    return device.type == "cpu" and cpu_bf16() == "amx"


def resolve_precision(precision: str, device: torch.device | str) -> torch.dtype | None:
    """The autocast dtype of ``precision`` on ``device`` (None: plain fp32); unsupported choices fail."""
    device = torch.device(device)
    if precision not in PRECISIONS:
        raise LangmixError(f"unknown precision '{precision}'", f"use one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        return torch.bfloat16 if bf16_by_default(device) else None
    if precision == "fp32":
        return None
    if precision == "fp16":
        if device.type != "cuda":
            raise LangmixError(f"precision fp16 needs a CUDA GPU, not {device.type}", "use precision=bf16 or fp32")
        return torch.float16
    if not bf16_native(device):
        raise LangmixError(
            f"this {device.type} has no native bf16 (needs AVX512-BF16/AMX or a bf16 GPU)",
            "use precision=fp32 or auto",
        )
    return torch.bfloat16


def precision_name(precision: str, device: torch.device | str) -> str:
    """The concrete name (``fp32``, ``bf16``, ``fp16``) that ``precision`` resolves to on ``device``."""
    dtype = resolve_precision(precision, device)
    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]


def autocast(device: torch.device | str, dtype: torch.dtype | None):
    """``torch.autocast`` in ``dtype`` on ``device``'s type, or a no-op context for fp32."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)
