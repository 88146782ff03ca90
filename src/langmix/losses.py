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
samplers in :mod:`langmix.sampling` guarantee this), otherwise a translation of a query's own passage
would be scored as a negative.

Relations: equals sentence-transformers' ``MultipleNegativesRankingLoss`` (scale 20) on one process;
``CachedInfoNCE`` equals it in value and gradients while holding only one chunk's activations
(GradCache, Gao et al. 2021, arXiv 2101.06983). References: van den Oord et al. 2018 (InfoNCE),
Karpukhin et al. 2020 (in-batch negatives).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from langmix.distributed import all_gather_with_grad, get_rank


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

    ``forward(queries (B, d), positives (B, d), negatives (B*N, d) | None, negative_mask (B*N,) | None)``
    returns the scalar loss of this rank's queries against the global candidate set. Every rank must
    hold the same B and N. Embeddings must be L2-normalised.
    """

    def __init__(self, temperature: float = 0.05, symmetric: bool = False) -> None:
        super().__init__()
        self.temperature = temperature
        self.symmetric = symmetric

    def forward(
        self,
        queries: Tensor,
        positives: Tensor,
        negatives: Tensor | None = None,
        negative_mask: Tensor | None = None,
    ) -> Tensor:
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


class _RandContext:
    """Captures the RNG state at construction and replays it inside ``with``, so dropout masks of the
    no-grad pass and the re-computation pass are identical (as in sentence-transformers' CMNRL)."""

    def __init__(self, tensors: Sequence[Tensor] = ()) -> None:
        self.cpu_state = torch.get_rng_state()
        self.devices = sorted({t.device.index or 0 for t in tensors if t.is_cuda})
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


Embed = Callable[[Sequence[str], str], Tensor]


class CachedInfoNCE:
    """GradCache: the InfoNCE loss and gradients of a large batch with one chunk's activations in memory.

    1. Embed every chunk without autograd (remembering each chunk's RNG state).
    2. Compute the loss on the detached embeddings and backpropagate to the embeddings only.
    3. Re-embed each chunk with autograd, replaying its RNG state, and backpropagate the cached
       embedding gradient: ``(emb_chunk * grad_chunk).sum().backward()``.

    By the chain rule the parameter gradients equal those of the plain loss; the cost is one extra forward.
    ``embed(texts, kind) -> (n, d)`` is the model's embedding function, ``kind`` in {"query", "passage"}.
    """

    def __init__(self, loss: InfoNCELoss, chunk_size: int) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be >= 1")
        self.loss = loss
        self.chunk_size = chunk_size

    def _embed_no_grad(
        self, embed: Embed, texts: Sequence[str], kind: str
    ) -> tuple[Tensor, list[_RandContext]]:
        chunks, states = [], []
        for start in range(0, len(texts), self.chunk_size):
            states.append(_RandContext())
            with torch.no_grad():
                chunks.append(embed(texts[start : start + self.chunk_size], kind))
        return torch.cat(chunks).detach().requires_grad_(), states

    def _replay(
        self, embed: Embed, texts: Sequence[str], kind: str, grad: Tensor, states: list[_RandContext]
    ) -> None:
        for k, start in enumerate(range(0, len(texts), self.chunk_size)):
            with states[k]:
                emb = embed(texts[start : start + self.chunk_size], kind)  # (chunk, d)
            emb.backward(grad[start : start + emb.shape[0]].to(emb.dtype))

    def backward(
        self,
        embed: Embed,
        queries: Sequence[str],
        positives: Sequence[str],
        negatives: Sequence[str] = (),
        negative_index: Tensor | None = None,
        n_negative_slots: int = 0,
        loss_scale: float = 1.0,
    ) -> Tensor:
        """Accumulate parameter gradients of the loss into ``.grad``; return the (unscaled) loss, detached.

        ``negatives`` are the real hard negatives; ``negative_index`` (len(negatives),) says which of the
        ``n_negative_slots`` = B*N slots each fills (see :func:`scatter_negatives`). ``loss_scale``
        multiplies the loss before backpropagation (fp16 gradient scaling).
        """
        q, q_states = self._embed_no_grad(embed, queries, "query")  # (B, d)
        p, p_states = self._embed_no_grad(embed, positives, "passage")  # (B, d)
        n = n_states = None
        if negatives:
            n, n_states = self._embed_no_grad(embed, negatives, "passage")  # (K, d)
        full_neg, mask = scatter_negatives(n, negative_index, n_negative_slots, p)
        loss = self.loss(q, p, full_neg, mask)
        (loss * loss_scale).backward()
        self._replay(embed, queries, "query", q.grad, q_states)
        self._replay(embed, positives, "passage", p.grad, p_states)
        if n is not None:
            self._replay(embed, negatives, "passage", n.grad, n_states)
        return loss.detach()


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
