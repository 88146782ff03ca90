"""Numeric precision of training and encoding: one list of names, one rule for what each means on a device.

``fp32`` runs in float32. ``bf16`` runs the matrix products under ``torch.autocast`` in bfloat16 (weights
and the softmax/normalisation stay float32; gradients flow in float32), on a CUDA GPU with bf16 or on a
CPU whose oneDNN reports native bf16 (AVX512-BF16 or AMX: there a bf16 matmul runs several times faster
than fp32). ``fp16`` is CUDA-only and needs gradient scaling. ``auto`` is bf16 on a CUDA GPU that has it
and fp32 everywhere else: on the CPU bf16 is offered but not the default (see benchmarks/README.md for
its quality check).
"""

from __future__ import annotations

import contextlib
from typing import Literal, get_args

import torch

from langmix.errors import LangmixError

Precision = Literal["auto", "fp32", "bf16", "fp16"]
PRECISIONS: tuple[str, ...] = get_args(Precision)


def bf16_native(device: torch.device) -> bool:
    """Whether ``device`` runs bf16 matrix products natively."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def resolve_precision(precision: str, device: torch.device | str) -> torch.dtype | None:
    """The autocast dtype of ``precision`` on ``device`` (None: plain fp32); unsupported choices fail."""
    device = torch.device(device)
    if precision not in PRECISIONS:
        raise LangmixError(f"unknown precision '{precision}'", f"use one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        return torch.bfloat16 if device.type == "cuda" and bf16_native(device) else None
    if precision == "fp32":
        return None
    if precision == "fp16":
        if device.type != "cuda":
            raise LangmixError(f"precision fp16 needs a CUDA GPU, not {device.type}", "use precision=bf16 or fp32")
        return torch.float16
    if not bf16_native(device):
        raise LangmixError(
            f"this {device.type} has no native bf16 (needs AVX512-BF16/AMX or a bf16 GPU)", "use precision=fp32"
        )
    return torch.bfloat16


def autocast(device: torch.device | str, dtype: torch.dtype | None):
    """``torch.autocast`` in ``dtype`` on ``device``'s type, or a no-op context for fp32."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)
