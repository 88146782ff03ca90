"""A fast encoding path for the shared dual encoder: tokenise once, sort by token length, pad per batch.

sentence-transformers' ``encode`` sorts texts by *character* length and tokenises inside its batch loop;
here every text is tokenised once (the tokenizer call of the model's ``Transformer`` module, prompt
prepended, truncated at the module's ``max_seq_length``), the texts are ordered by their *token* count,
and each batch is padded only to its own longest member; a batch also closes early where the next text would
make it mostly padding (:func:`length_batches`), so almost no FLOPs go to padding. The forward
runs the Hugging Face encoder directly under ``torch.inference_mode`` (optionally bf16 autocast) and
pools as the model's ``Pooling`` module does:

.. math::

    e = \\frac{\\sum_t m_t h_t}{\\max(\\sum_t m_t, 10^{-9})}, \\qquad \\hat e = e / \\lVert e \\rVert_2

with token states :math:`h_t` and attention mask :math:`m_t`. Models whose module stack is not
``Transformer -> Pooling(mean, prompt included) [-> Normalize]`` fall back to sentence-transformers'
``encode``, so :func:`encode_fast` is always correct and fast where it can be.

:func:`embed_sorted` is the training counterpart (with autograd): one batch's texts are embedded in
length-sorted chunks, which removes most padding from the forward and backward passes. Per-text
embeddings do not depend on which texts share a chunk, so the loss is unchanged (up to dropout masks).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from langmix.errors import LangmixError
from langmix.model.prompts import check_kind, check_model, check_texts
from langmix.precision import autocast, resolve_precision


@dataclass
class EncoderParts:
    """The pieces of a mean-pooled sentence-transformers model that the fast path drives directly."""

    transformer: torch.nn.Module  # the sentence-transformers Transformer module
    normalize: bool  # whether the model ends in a Normalize module

    @property
    def auto_model(self) -> torch.nn.Module:
        return self.transformer.auto_model

    @property
    def tokenizer(self):
        return self.transformer.tokenizer

    @property
    def max_length(self) -> int:
        return int(self.transformer.max_seq_length)


def encoder_parts(model) -> EncoderParts | None:
    """The model's Transformer module if its stack is Transformer -> mean Pooling [-> Normalize], else None."""
    if not isinstance(model, torch.nn.Sequential):  # e.g. a test double with only an encode() method
        return None
    names = [type(module).__name__ for module in model]
    if names not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return None
    pooling = model[1].get_config_dict()
    if pooling.get("pooling_mode") not in ("mean", ["mean"], ("mean",)) or not pooling.get("include_prompt", True):
        return None
    if getattr(model[0], "tokenizer", None) is None or not hasattr(model[0], "auto_model"):
        return None
    return EncoderParts(model[0], len(names) == 3)


def tokenize(parts: EncoderParts, texts: Sequence[str], prompt: str, max_length: int | None = None) -> list[list[int]]:
    """Token ids of ``prompt + text`` for every text, truncated at ``max_length`` (default: the module's)."""
    encoded = parts.tokenizer(
        [prompt + text for text in texts],
        truncation=True,
        max_length=max_length or parts.max_length,
        padding=False,
        return_attention_mask=False,
        return_token_type_ids=False,
    )
    return encoded["input_ids"]


def shortest_useful_length(tokenizer, prompt: str) -> int:
    """The smallest ``max_length`` that keeps one token of a text after ``prompt``: the special tokens and the
    prompt's tokens, plus one (a shorter one keeps no text, and below the special tokens the tokenizer does not
    truncate at all)."""
    return len(tokenizer(prompt)["input_ids"]) + 1


def length_batches(
    lengths: Sequence[int], batch_size: int, max_padding: float | None = None, min_tokens: int = 0
) -> list[np.ndarray]:
    """Indices grouped into batches of at most ``batch_size`` after sorting by length, longest first.

    Longest first makes the first batch the biggest, so an out-of-memory error shows up at once.
    The sort is stable, so equal lengths keep their input order.

    With ``max_padding`` a batch also closes early, before the text that would make more than that
    share of its padded tokens padding, :math:`1 - \\sum_i L_i / (n L_{max}) > p`, but only once it
    already holds ``min_tokens`` padded tokens (:math:`n L_{max}`), so batches of short texts stay big
    enough to keep the hardware busy. This matters at the long tail of a pool, where a batch of 64
    would pad 63 sentences to the length of one long outlier.
    """
    if batch_size < 1:
        raise LangmixError(f"batch_size {batch_size} must be positive", "use e.g. 64")
    lengths = np.asarray(lengths)
    order = np.argsort(-lengths, kind="stable")
    if max_padding is None:
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    batches, start = [], 0
    while start < len(order):
        longest, real, end = int(lengths[order[start]]), 0, start
        while end < len(order) and end - start < batch_size:
            n, with_next = end - start + 1, real + int(lengths[order[end]])
            if with_next < (1 - max_padding) * n * longest and (n - 1) * longest >= min_tokens:
                break
            real, end = with_next, end + 1
        batches.append(order[start:end])
        start = end
    return batches


# Batching of encode_fast: at most 2 % padding once a batch holds 2,048 padded tokens. On XQuAD-R's sentences
# the forward FLOPs fall from 1.22x to 1.05x those of the unpadded texts, for 24 % more batches
# (benchmarks/padding.py, benchmarks/README.md).
ENCODE_MAX_PADDING = 0.02
ENCODE_MIN_TOKENS = 2048


def encode_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """The batches :func:`encode_fast` forms from token lengths (also what the benchmarks count)."""
    return length_batches(lengths, batch_size, ENCODE_MAX_PADDING, ENCODE_MIN_TOKENS)


def pad(ids: Sequence[Sequence[int]], pad_id: int, device: str | torch.device = "cpu") -> tuple[Tensor, Tensor]:
    """(input_ids, attention_mask), both (n, longest), right-padded with ``pad_id``."""
    longest = max(len(row) for row in ids)
    input_ids = torch.full((len(ids), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), longest), dtype=torch.long)
    for i, row in enumerate(ids):
        input_ids[i, : len(row)] = torch.as_tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return input_ids.to(device), mask.to(device)


def mean_pool(hidden: Tensor, mask: Tensor) -> Tensor:
    """(n, d) mean of ``hidden`` (n, L, d) over positions where ``mask`` (n, L) is 1 (sentence-transformers' rule)."""
    m = mask.unsqueeze(-1).to(hidden.dtype)  # (n, L, 1)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


def forward(parts: EncoderParts, input_ids: Tensor, mask: Tensor) -> Tensor:
    """(n, d) pooled embeddings in float32, L2-normalised when the model normalises."""
    hidden = parts.auto_model(input_ids=input_ids, attention_mask=mask).last_hidden_state  # (n, L, d)
    emb = mean_pool(hidden.float(), mask)  # (n, d)
    return torch.nn.functional.normalize(emb, dim=-1) if parts.normalize else emb


def encode_fast(
    model,
    texts: Sequence[str],
    kind: str,
    batch_size: int = 64,
    show_progress: bool = False,
    precision: str = "auto",
    on_batch: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Embed ``texts`` as queries or passages: float32 (n, dim), rows L2-normalised, in input order.

    Same embeddings as :func:`st_encode` (sentence-transformers ``encode``) up to float rounding
    in fp32 (``precision="bf16"`` trades a little accuracy for speed on hardware with native bf16).
    ``on_batch(n)`` is called after each batch of ``n`` texts, so a caller encoding in several calls
    (e.g. the resumable shards of ``langmix index``) can drive one progress bar over all of them.
    """
    check_kind(kind)
    check_model(model)
    texts = check_texts(texts)
    parts = encoder_parts(model)
    if parts is None or not parts.normalize:  # an unusual module stack: let sentence-transformers run it
        out = st_encode(model, texts, kind, batch_size, show_progress)
        if on_batch is not None:
            on_batch(len(texts))
        return out
    device = next(parts.auto_model.parameters()).device
    dtype = resolve_precision(precision, device)
    ids = tokenize(parts, texts, model.prompts.get(kind) or "")
    out = np.empty((len(texts), parts.auto_model.config.hidden_size), dtype=np.float32)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), autocast(device, dtype):
            for batch in tqdm(encode_batches([len(r) for r in ids], batch_size), desc="encode",
                              disable=not show_progress):
                input_ids, mask = pad([ids[i] for i in batch], parts.tokenizer.pad_token_id, device)
                out[batch] = forward(parts, input_ids, mask).cpu().numpy()
                if on_batch is not None:
                    on_batch(len(batch))
    finally:
        model.train(was_training)
    return out


def st_encode(model, texts: Sequence[str], kind: str, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
    """sentence-transformers' own ``encode`` (normalised, float32): the reference, and the fallback of
    :func:`encode_fast` (called directly, so ``langmix.model.load.encode`` may delegate to the fast path)."""
    emb = model.encode(list(texts), prompt_name=kind, batch_size=batch_size, show_progress_bar=show_progress,
                       convert_to_numpy=True, normalize_embeddings=True)
    return np.asarray(emb, dtype=np.float32)


def embed_sorted(
    model, texts: Sequence[str], prompt: str, max_length: int, device: str | torch.device, chunk_size: int
) -> Tensor:
    """(n, d) L2-normalised embeddings with autograd, computed in length-sorted chunks of ``chunk_size`` texts.

    The training-time fast path: each chunk is padded only to its own longest text, so a batch mixing
    short and long passages wastes little compute on padding. Rows come back in input order.
    """
    parts = encoder_parts(model)
    if parts is None:
        raise LangmixError("the model is not a mean-pooled transformer", "use the plain sentence-transformers path")
    ids = tokenize(parts, texts, prompt, max_length)
    chunks, order = [], []
    for batch in length_batches([len(r) for r in ids], chunk_size):
        input_ids, mask = pad([ids[i] for i in batch], parts.tokenizer.pad_token_id, device)
        hidden = parts.auto_model(input_ids=input_ids, attention_mask=mask).last_hidden_state  # (c, L, d)
        chunks.append(mean_pool(hidden.float(), mask))  # (c, d), float32 under bf16 autocast too
        order.append(torch.as_tensor(batch))
    emb = torch.cat(chunks)  # (n, d), sorted order
    inverse = torch.empty(len(texts), dtype=torch.long)
    inverse[torch.cat(order)] = torch.arange(len(texts))
    return torch.nn.functional.normalize(emb[inverse.to(emb.device)], dim=-1)
