"""Word-embedding gradients as rows, gathered into one persistent dense buffer.

An ``nn.Embedding``'s backward builds a dense (vocab x d) zero matrix and scatters the batch's rows into it.
For multilingual encoders the vocabulary is huge (multilingual-e5-small: 250,002 x 384, 384 MB in fp32), and
a training step has one such backward per forward (queries, passages), each allocating that matrix afresh:
on the 2-core CPU a fresh 384 MB zero matrix costs 0.5-0.6 s in page faults against 26 ms for zeroing a
matrix already in memory, and the two then have to be added. Together that was 16 % of an fp32 step
(``benchmarks/profile_train_step.py``).

:func:`use_row_gradients` switches the matrix to ``sparse=True``, so each backward returns only the rows the
batch touched ``g = {(i_k, v_k)}``, and a hook run after the gradient is accumulated writes them into a
persistent buffer ``B``: ``B <- 0; B[i_k] += v_k`` for every k, then ``weight.grad = B``. ``B`` is the dense
gradient the plain backward would have built (the same sums over repeated token ids, up to float rounding
in their order), so clipping, all-reduce and the fused AdamW see the same tensor as before.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def word_embeddings(model: nn.Module) -> nn.Embedding | None:
    """The word-embedding matrix of the (first) Hugging Face encoder inside ``model``, if any."""
    for module in model.modules():
        if hasattr(module, "get_input_embeddings") and module is not model:
            embedding = module.get_input_embeddings()
            return embedding if isinstance(embedding, nn.Embedding) else None
    return None


class RowGradients:
    """The post-accumulate hook of one embedding weight: sparse row gradient -> its dense buffer."""

    def __init__(self, weight: Tensor) -> None:
        self.buffer = torch.zeros_like(weight, memory_format=torch.contiguous_format)

    def __call__(self, weight: Tensor) -> None:
        grad = weight.grad
        if grad is None or not grad.is_sparse:  # already dense (a second backward added into the buffer)
            return
        self.buffer.zero_()
        self.buffer.index_add_(0, grad._indices()[0], grad._values().to(self.buffer.dtype))
        weight.grad = self.buffer


def use_row_gradients(model: nn.Module) -> bool:
    """Give ``model``'s trainable word-embedding matrix row gradients (see the module docstring); return
    whether it applied (False: no ``nn.Embedding`` word matrix, or it is frozen)."""
    embedding = word_embeddings(model)
    if embedding is None or not embedding.weight.requires_grad or embedding.sparse:
        return False
    embedding.sparse = True
    embedding.weight.register_post_accumulate_grad_hook(RowGradients(embedding.weight))
    return True
