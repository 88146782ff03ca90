r"""Contrastive InfoNCE loss with in-batch and hard negatives, across ranks, and its GradCache variant.

For anchors :math:`a_1..a_B` (queries) and candidates :math:`c_1..c_M` (every positive passage of the
global batch, then the hard negatives), with :math:`a_i` and :math:`c_{o+i}` a positive pair:

.. math::

    \mathcal{L} = -\frac{1}{B} \sum_{i=1}^{B}
        \log \frac{\exp(s \cdot \cos(a_i, c_{o+i}))}{\sum_{j=1}^{M} \exp(s \cdot \cos(a_i, c_j))},
    \qquad s = 1 / \tau

with temperature :math:`\tau` (default 0.05, i.e. scale 20). Targets are *positions*: the positive of anchor
``i`` is candidate ``o + i``, where the offset ``o`` is ``rank * (rows per rank)`` once candidates are
gathered from all ranks (0 on one process). The symmetric variant adds the passage -> query direction
(each positive passage against all queries) and averages both terms. Cross-entropy does not care about the
column order, so gathering ``[pos_0, neg_0, pos_1, neg_1]`` gives the same loss as a single process holding
``[pos_0, pos_1, neg_0, neg_1]``.

Inputs: a batch of (query, positive passage[, hard negatives]) pairs whose record ids are distinct (the
samplers in :mod:`langmix.training.sampling` guarantee this), otherwise a translation of a query's own passage
would be scored as a negative.

Relations: equals sentence-transformers' ``MultipleNegativesRankingLoss`` (scale 20) on one process;
``CachedInfoNCE`` (same call) equals it in value and gradients while holding only one chunk's activations
(GradCache, Gao et al. 2021, arXiv 2101.06983; sentence-transformers' ``CachedMultipleNegativesRankingLoss``).
References: van den Oord et al. 2018 (InfoNCE), Karpukhin et al. 2020 (in-batch negatives).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from langmix.distributed import all_gather_with_grad, get_rank
from langmix.training.batches import TextBatch

Embed = Callable[[Sequence[str], str], Tensor]  # embed(texts, kind) -> (n, d) L2-normalised embeddings


def info_nce(
    anchors: Tensor,
    candidates: Tensor,
    temperature: float = 0.05,
    offset: int = 0,
    candidate_mask: Tensor | None = None,
) -> Tensor:
    """One-directional InfoNCE: anchor ``i``'s positive is ``candidates[offset + i]``; mean over anchors.

    ``anchors`` (B, d) and ``candidates`` (M, d), M >= offset + B, are L2-normalised, so the dot product is
    the cosine. ``candidate_mask`` (M,) bool marks real candidates; False columns (padding for a missing
    hard negative) get logit -inf and take no part.
    """
    logits = anchors @ candidates.T / temperature  # (B, M)
    if candidate_mask is not None:
        logits = logits.masked_fill(~candidate_mask[None, :], float("-inf"))
    targets = torch.arange(anchors.shape[0], device=anchors.device) + offset  # (B,)
    return F.cross_entropy(logits.float(), targets)


class InfoNCELoss(nn.Module):
    """InfoNCE over in-batch (and, under ``torchrun``, all ranks') positives plus hard negatives.

    ``loss(embed, batch)`` embeds the batch's queries, positives and hard negatives with ``embed(texts, kind)
    -> (n, d)`` (L2-normalised rows, autograd on) and returns the scalar loss of this rank's queries against
    the global candidate set; :meth:`from_embeddings` is the same loss on given embeddings. Every rank must
    hold the same B and N.
    """

    def __init__(self, temperature: float = 0.05, symmetric: bool = False) -> None:
        super().__init__()
        self.temperature = temperature
        self.symmetric = symmetric

    def forward(self, embed: Embed, batch: TextBatch) -> Tensor:
        q = embed(batch.queries, "query")  # (B, d)
        p = embed(batch.positives, "passage")  # (B, d)
        n = embed(batch.negatives, "passage") if batch.negatives else None  # (K, d)
        return self.from_embeddings(q, p, *scatter_negatives(n, batch.negative_index, batch.negative_slots, p))

    def from_embeddings(
        self,
        queries: Tensor,
        positives: Tensor,
        negatives: Tensor | None = None,
        negative_mask: Tensor | None = None,
    ) -> Tensor:
        """The loss of ``queries`` (B, d) against ``positives`` (B, d) and ``negatives`` (B*N, d), whose
        ``negative_mask`` (B*N,) marks the real ones."""
        b = queries.shape[0]
        local = positives if negatives is None else torch.cat([positives, negatives])  # (B + B*N, d)
        mask = None
        if negative_mask is not None:
            ones = torch.ones(b, dtype=torch.bool, device=negative_mask.device)
            # gloo cannot gather bool tensors, hence the round trip through uint8
            mask = all_gather_with_grad(
                torch.cat([ones, negative_mask]).to(torch.uint8)
            ).bool()  # (W*(B+B*N),)
        candidates = all_gather_with_grad(local)  # (W * (B + B*N), d)
        loss = info_nce(queries, candidates, self.temperature, get_rank() * local.shape[0], mask)
        if not self.symmetric:
            return loss
        all_queries = all_gather_with_grad(queries)  # (W * B, d)
        backward = info_nce(positives, all_queries, self.temperature, get_rank() * b)
        return (loss + backward) / 2


class CachedInfoNCE(InfoNCELoss):
    """GradCache: :class:`InfoNCELoss` with the same call, value and gradients, holding one chunk's activations.

    ``loss(embed, batch)`` with autograd on

    1. embeds every side in chunks of ``chunk_size`` texts without autograd, remembering each chunk's RNG
       state (:class:`RandContext`: the CPU generator and the CUDA generator of ``device``);
    2. computes the loss on the detached embeddings and returns it as a fresh leaf tensor with a backward
       hook, so the caller backpropagates it like the plain loss (scaled for fp16 or not). The hook
    3. backpropagates the loss, scaled by the caller's factor, to the embeddings only, then
    4. re-embeds each chunk with autograd under its remembered RNG state (the same dropout masks) and
       backpropagates the cached embedding gradient: ``emb_chunk.backward(grad_chunk)``.

    By the chain rule the parameter gradients equal those of the plain loss; the cost is one extra forward.
    The design of sentence-transformers' ``CachedMultipleNegativesRankingLoss``. Without autograd (the dev
    loss) it is the plain loss.
    """

    def __init__(
        self,
        temperature: float = 0.05,
        symmetric: bool = False,
        chunk_size: int = 32,
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__(temperature, symmetric)
        if chunk_size < 1:
            raise ValueError("chunk_size must be >= 1")
        self.chunk_size = chunk_size
        self.devices = cuda_devices(device)

    def forward(self, embed: Embed, batch: TextBatch) -> Tensor:
        if not torch.is_grad_enabled():
            return super().forward(embed, batch)
        sides = [(batch.queries, "query"), (batch.positives, "passage")]
        if batch.negatives:
            sides.append((batch.negatives, "passage"))
        cached = [self._embed_no_grad(embed, texts, kind) for texts, kind in sides]  # [(emb (n, d), states)]
        q, p, *n = (emb for emb, _ in cached)
        loss = self.from_embeddings(q, p, *scatter_negatives(n[0] if n else None, batch.negative_index,
                                                              batch.negative_slots, p))
        out = loss.detach().requires_grad_()
        out.register_hook(functools.partial(self._backward, embed, sides, cached, loss))
        return out

    def _embed_no_grad(self, embed: Embed, texts: Sequence[str], kind: str) -> tuple[Tensor, list[RandContext]]:
        chunks, states = [], []
        for start in range(0, len(texts), self.chunk_size):
            states.append(RandContext(self.devices))
            with torch.no_grad():
                chunks.append(embed(texts[start : start + self.chunk_size], kind))
        return torch.cat(chunks).detach().requires_grad_(), states

    def _backward(self, embed: Embed, sides: list, cached: list, loss: Tensor, grad: Tensor) -> None:
        """Backward hook of the returned loss; ``grad`` is d(caller's objective) / d(loss), e.g. the fp16 scale."""
        with torch.enable_grad():  # autograd runs hooks with grad mode off
            loss.backward(grad)  # fills the .grad of the cached embeddings
            for (texts, kind), (emb, states) in zip(sides, cached, strict=True):
                self._replay(embed, texts, kind, emb.grad, states)

    def _replay(
        self, embed: Embed, texts: Sequence[str], kind: str, grad: Tensor, states: list[RandContext]
    ) -> None:
        for k, start in enumerate(range(0, len(texts), self.chunk_size)):
            with states[k]:
                emb = embed(texts[start : start + self.chunk_size], kind)  # (chunk, d)
            emb.backward(grad[start : start + emb.shape[0]].to(emb.dtype))


class RandContext:
    """The torch RNG states at construction (the CPU generator and the CUDA generators of ``devices``),
    restored inside ``with`` and put back as they were on leaving: a forward replayed inside draws the
    dropout masks of the forward that followed the construction, and the replay consumes no randomness.
    As sentence-transformers' ``RandContext``; without the CUDA states a GPU replay would draw new masks."""

    def __init__(self, devices: Sequence[int] = ()) -> None:
        self.devices = list(devices)
        self.cpu_state = torch.get_rng_state()
        self.cuda_states = [torch.cuda.get_rng_state(d) for d in self.devices]
        self._fork = None

    def __enter__(self) -> None:
        self._fork = torch.random.fork_rng(devices=self.devices, enabled=True)
        self._fork.__enter__()
        torch.set_rng_state(self.cpu_state)
        for d, state in zip(self.devices, self.cuda_states, strict=True):
            torch.cuda.set_rng_state(state, d)

    def __exit__(self, *exc) -> None:
        self._fork.__exit__(*exc)


def cuda_devices(device: str | torch.device) -> list[int]:
    """The CUDA device index of ``device`` as a list (empty for a CPU)."""
    device = torch.device(device)
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]


def scatter_negatives(
    negatives: Tensor | None, index: Tensor | None, slots: int, like: Tensor
) -> tuple[Tensor | None, Tensor | None]:
    """Place K real negative embeddings (K, d) into ``slots`` rows (slots, d) at ``index``; zero elsewhere.

    Returns (embeddings, mask) with ``mask`` (slots,) True where a real negative sits, or (None, None) when
    no slots are requested. Zero rows are masked out of the softmax by :func:`info_nce`.
    """
    if slots == 0:
        return None, None
    full = like.new_zeros(slots, like.shape[1])  # (slots, d)
    mask = torch.zeros(slots, dtype=torch.bool, device=like.device)
    if negatives is not None and negatives.shape[0]:
        full = full.index_copy(0, index.to(like.device), negatives.to(full.dtype))
        mask[index.to(like.device)] = True
    return full, mask
