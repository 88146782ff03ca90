"""Dropout whose CPU masks are cheap to draw.

PyTorch draws a CPU dropout mask with one mt19937 number per element (``bernoulli_``, also inside the
SDPA kernel's attention dropout). On the 2-core machine that was 35 % of a bf16 training step of
mE5-small on LAReQA sentences (``benchmarks/dropout_speed.py``). Here the keep mask of ``n`` elements
comes from numpy's PCG64 instead: ``ceil(n / 4)`` 64-bit draws, each cut into four 16-bit words ``w``,
and an element is kept iff ``w >= t`` with ``t = round(p * 2**16)``; kept elements are scaled by
``1 / (1 - p')``, where ``p' = t / 2**16`` is the drop probability actually used (0.1 -> 0.1000061).

The PCG64 stream of each call is seeded by one draw from torch's default CPU generator, so
``torch.manual_seed`` fixes the masks and ``torch.random.fork_rng`` (the GradCache replay) repeats them,
exactly as for torch's own dropout. The masks differ from torch's, so a run with ``cpu_dropout: pcg64``
is a different (equally distributed) draw than one with ``cpu_dropout: torch``. CUDA tensors always
use torch's dropout.

:func:`use_pcg64_dropout` swaps a model's ``nn.Dropout`` modules for :class:`PCG64Dropout` and, for
Hugging Face encoders that take their attention function from ``config._attn_implementation``, routes
attention through :func:`attention`: in training with dropout on the CPU it is the eager softmax
attention with a PCG64 mask, otherwise it is exactly the SDPA path.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

CPU_DROPOUTS = ("torch", "pcg64")  # TrainConfig.cpu_dropout
ATTENTION = "langmix_pcg64"  # name registered with transformers' attention and mask interfaces
_WORDS = 4  # 16-bit words per 64-bit draw


def keep_mask(shape: torch.Size | tuple[int, ...], p: float) -> Tensor:
    """Boolean CPU mask of ``shape``: True with probability ``1 - round(p * 2**16) / 2**16``."""
    n = int(np.prod(shape))
    seed = int(torch.randint(0, 2**63 - 1, (1,), dtype=torch.int64))
    words = np.random.PCG64(seed).random_raw((n + _WORDS - 1) // _WORDS).view(np.int16)[:n]
    threshold = round(p * 2**16) - 2**15  # int16 words are uniform on [-2**15, 2**15)
    return torch.from_numpy(words >= threshold).reshape(shape)


def pcg64_dropout(x: Tensor, p: float, training: bool = True) -> Tensor:
    """Inverted dropout of ``x``: PCG64 mask on the CPU, ``torch.nn.functional.dropout`` elsewhere."""
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu":
        return nn.functional.dropout(x, p, training=True)
    kept = 1.0 - round(p * 2**16) / 2**16
    scale = keep_mask(x.shape, p).to(x.dtype).mul_(1.0 / kept)  # 0 or 1/kept; autograd saves only this
    return x * scale


class PCG64Dropout(nn.Dropout):
    """``nn.Dropout`` with :func:`pcg64_dropout`'s masks (same ``p``, same state dict)."""

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - nn.Dropout's argument name
        return pcg64_dropout(input, self.p, self.training)


def attention(module: nn.Module, query: Tensor, key: Tensor, value: Tensor, attention_mask: Tensor | None,
              scaling: float | None = None, dropout: float = 0.0, **kwargs) -> tuple[Tensor, Tensor | None]:
    """Attention function for transformers' ``AttentionInterface`` (masks in SDPA's format).

    Training on the CPU with attention dropout: ``softmax(q k^T * scaling + mask)`` in float32, a PCG64
    dropout mask, then ``@ v`` (the eager path). Anything else: transformers' SDPA function unchanged.
    """
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if dropout == 0.0 or query.device.type != "cpu":
        return sdpa_attention_forward(module, query, key, value, attention_mask, scaling=scaling,
                                      dropout=dropout, **kwargs)
    scaling = query.size(-1) ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling  # (B, H, Lq, Lk)
    if attention_mask is not None:
        if attention_mask.dtype == torch.bool:  # SDPA's format: True = attend
            scores.masked_fill_(~attention_mask, torch.finfo(scores.dtype).min)
        else:
            scores.add_(attention_mask)
    weights = nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    weights = pcg64_dropout(weights, dropout)
    output = torch.matmul(weights, value).transpose(1, 2).contiguous()  # (B, Lq, H, d)
    return output, None


def use_pcg64_dropout(model: nn.Module) -> int:
    """Give ``model`` PCG64 dropout in place; return how many dropout modules were swapped.

    Hugging Face encoders that run SDPA attention are switched to :func:`attention` (registered as
    ``ATTENTION``); the setting lives in the config's private attention field, which is not saved, so a
    saved model loads with its default attention.
    """
    swapped = 0
    for parent in model.modules():
        for name, child in parent.named_children():
            if type(child) is nn.Dropout:
                setattr(parent, name, PCG64Dropout(child.p, child.inplace))
                swapped += 1
    for module in model.modules():
        config = getattr(module, "config", None)
        if getattr(config, "_attn_implementation", None) == "sdpa" and hasattr(module, "set_attn_implementation"):
            _register()
            module.set_attn_implementation(ATTENTION)
    return swapped


def _register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

    AttentionInterface.register(ATTENTION, attention)
    ALL_MASK_ATTENTION_FUNCTIONS.register(ATTENTION, sdpa_mask)
