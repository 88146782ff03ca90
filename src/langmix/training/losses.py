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

Optional same-language distillation (:class:`SameLanguageDistillation`, ``distill_weight > 0``): the loss
becomes :math:`\mathcal{L} + w \, \mathcal{L}_{KD}`, where a frozen copy of the starting model (the teacher)
scores the same batch and each query's ranking of the candidates in its own language is pulled towards the
teacher's, so that training on cross-language pairs does not unlearn the starting model's monolingual
ranking (issue 27, "keep mono where it starts"). The maths is in :class:`SameLanguageDistillation`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from langmix.distributed import all_gather_with_grad, gather_objects, get_rank
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

    With ``distill`` the loss adds ``distill.weight`` times its term (:class:`SameLanguageDistillation`) and
    keeps the two parts of its latest call, detached, in ``terms`` (``info_nce``, ``distill``) for the log;
    without it ``terms`` stays empty and the loss is the plain InfoNCE, computed exactly as before.
    """

    def __init__(
        self, temperature: float = 0.05, symmetric: bool = False, distill: SameLanguageDistillation | None = None
    ) -> None:
        super().__init__()
        self.temperature = temperature
        self.symmetric = symmetric
        self.distill = distill
        self.terms: dict[str, Tensor] = {}

    def forward(self, embed: Embed, batch: TextBatch) -> Tensor:
        target = self.distill.target(batch) if self.distill is not None else None
        q = embed(batch.queries, "query")  # (B, d)
        p = embed(batch.positives, "passage")  # (B, d)
        n = embed(batch.negatives, "passage") if batch.negatives else None  # (K, d)
        return self.from_embeddings(q, p, *scatter_negatives(n, batch.negative_index, batch.negative_slots, p),
                                    target=target)

    def from_embeddings(
        self,
        queries: Tensor,
        positives: Tensor,
        negatives: Tensor | None = None,
        negative_mask: Tensor | None = None,
        target: DistillTarget | None = None,
    ) -> Tensor:
        """The loss of ``queries`` (B, d) against ``positives`` (B, d) and ``negatives`` (B*N, d), whose
        ``negative_mask`` (B*N,) marks the real ones; with ``target`` (the teacher's side of the same batch,
        :meth:`SameLanguageDistillation.target`) plus the weighted distillation term."""
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
        if self.symmetric:
            all_queries = all_gather_with_grad(queries)  # (W * B, d)
            backward = info_nce(positives, all_queries, self.temperature, get_rank() * b)
            loss = (loss + backward) / 2
        if target is None:
            return loss
        kl = self.distill.term(queries, candidates, target)
        self.terms = {"info_nce": loss.detach(), "distill": kl.detach()}
        return loss + self.distill.weight * kl


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
        distill: SameLanguageDistillation | None = None,
    ) -> None:
        super().__init__(temperature, symmetric, distill)
        if chunk_size < 1:
            raise ValueError("chunk_size must be >= 1")
        self.chunk_size = chunk_size
        self.devices = cuda_devices(device)

    def forward(self, embed: Embed, batch: TextBatch) -> Tensor:
        if not torch.is_grad_enabled():
            return super().forward(embed, batch)
        target = self.distill.target(batch) if self.distill is not None else None
        sides = [(batch.queries, "query"), (batch.positives, "passage")]
        if batch.negatives:
            sides.append((batch.negatives, "passage"))
        cached = [self._embed_no_grad(embed, texts, kind) for texts, kind in sides]  # [(emb (n, d), states)]
        q, p, *n = (emb for emb, _ in cached)
        loss = self.from_embeddings(q, p, *scatter_negatives(n[0] if n else None, batch.negative_index,
                                                              batch.negative_slots, p), target=target)
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


@dataclass
class DistillTarget:
    """The teacher's side of one batch: its logits (B, M) of this rank's queries against the global candidates,
    and the mask (B, M) of the candidates each query's softmax runs over (real and in the query's language)."""

    logits: Tensor
    mask: Tensor


class SameLanguageDistillation:
    r"""KL(teacher || student) of each query's softmax over the batch's candidates in its own language.

    For query :math:`q_i` in language :math:`\ell(q_i)` and the global candidates :math:`c_1..c_M` of
    :class:`InfoNCELoss` (every rank's positives, then the hard negatives; a candidate's language is its pair's
    passage language), let :math:`S_i = \{j : c_j \text{ real}, \ell(c_j) = \ell(q_i)\}`: the in-batch and
    hard-negative candidates in the query's language, its own positive among them when that is in its
    language too. With the student's cosines :math:`s_{ij}` (the embeddings InfoNCE scores), the frozen
    teacher's :math:`t_{ij}` and temperature :math:`T`:

    .. math::

        p_{ij} = \frac{\exp(t_{ij} / T)}{\sum_{k \in S_i} \exp(t_{ik} / T)}, \qquad
        q_{ij} = \frac{\exp(s_{ij} / T)}{\sum_{k \in S_i} \exp(s_{ik} / T)}, \qquad j \in S_i

        \mathcal{L}_{KD} = \frac{1}{B} \sum_{i=1}^{B} [\,|S_i| \ge 2\,]
            \sum_{j \in S_i} p_{ij} \log \frac{p_{ij}}{q_{ij}}

    A query with fewer than 2 candidates in its language adds 0 (a softmax over one candidate is constant)
    but still counts in :math:`B`, so the term is a per-query mean that every rank computes on its own B
    queries, like InfoNCE. The training loss is :math:`\mathcal{L}_{InfoNCE} + w \, \mathcal{L}_{KD}`; the
    teacher's scores carry no gradient (no autograd, eval mode: no dropout, and no random draw either).
    Only the query -> passage direction is distilled (with ``symmetric`` the passage -> query term is InfoNCE's
    alone). There is no :math:`T^2` factor (Hinton et al. 2015 correct soft targets at :math:`T > 1` with it): at
    the InfoNCE temperature both terms are cross-entropies over logits of one scale, so :math:`w` weighs
    them as they stand.

    Which queries it touches depends on the batch: in an x-x-mono batch every candidate is in the query's
    language (the teacher's whole in-batch ranking is distilled); in an x-y batch only the other pairs'
    passages that happen to be in the query's language (and none when no passage is).

    Relations: sentence-transformers' ``DistillKLDivLoss`` (the same KL per query, over one positive and its
    hard negatives, with scores precomputed by a stronger teacher); in-batch KL distillation as in
    TCT-ColBERT (Lin et al. 2021, arXiv 2010.11386); the teacher being the model's own start is Learning
    without Forgetting (Li and Hoiem 2016, arXiv 1606.09282) for retrieval.
    """

    def __init__(self, teacher_embed: Embed, weight: float, temperature: float) -> None:
        self.teacher_embed = teacher_embed  # texts -> (n, d) embeddings of the frozen teacher
        self.weight = weight
        self.temperature = temperature

    @torch.no_grad()
    def target(self, batch: TextBatch) -> DistillTarget:
        """The teacher's logits and the same-language mask of ``batch``."""
        q = self.teacher_embed(batch.queries, "query")  # (B, d)
        p = self.teacher_embed(batch.positives, "passage")  # (B, d)
        n = self.teacher_embed(batch.negatives, "passage") if batch.negatives else None  # (K, d)
        negatives, _ = scatter_negatives(n, batch.negative_index, batch.negative_slots, p)
        candidates = all_gather_with_grad(p if negatives is None else torch.cat([p, negatives]))  # (M, d)
        logits = (q @ candidates.T).float() / self.temperature  # (B, M)
        return DistillTarget(logits, same_language_mask(batch, q.device))

    def term(self, queries: Tensor, candidates: Tensor, target: DistillTarget) -> Tensor:
        r""":math:`\mathcal{L}_{KD}` of the student's ``queries`` (B, d) against ``candidates`` (M, d)."""
        return same_language_kl((queries @ candidates.T).float() / self.temperature, target.logits, target.mask)


def same_language_mask(batch: TextBatch, device: str | torch.device = "cpu") -> Tensor:
    """(B, M) bool: global candidate ``j`` is real and in the language of this rank's query ``i``.

    The candidates are laid out as :class:`InfoNCELoss` gathers them: per rank its B positives, then its
    B*N negative slots (slot ``k`` belongs to pair ``k // N``; an empty slot has no language).
    """
    b = len(batch.positives)
    if len(batch.query_langs) != b or len(batch.passage_langs) != b:
        raise ValueError("the batch carries no query and passage languages (make_text_batch sets them)")
    per_pair = batch.negative_slots // b if b else 0
    filled = set(batch.negative_index.tolist())
    slots = [batch.passage_langs[k // per_pair] if k in filled else None for k in range(batch.negative_slots)]
    langs = [lang for rank in gather_objects(list(batch.passage_langs) + slots) for lang in rank]  # (M,)
    codes = {lang: k for k, lang in enumerate(sorted({*batch.query_langs, *(x for x in langs if x is not None)}))}
    candidate = torch.tensor([codes[x] if x is not None else -1 for x in langs], device=device)  # (M,)
    query = torch.tensor([codes[x] for x in batch.query_langs], device=device)  # (B,)
    return query[:, None] == candidate[None, :]


def same_language_kl(student: Tensor, teacher: Tensor, mask: Tensor) -> Tensor:
    r""":math:`\frac{1}{B} \sum_i [|S_i| \ge 2] \, \mathrm{KL}(\mathrm{softmax}(teacher_i) \,\|\,
    \mathrm{softmax}(student_i))` over the columns ``mask[i]`` marks (:math:`S_i`).

    ``student`` and ``teacher`` (B, M) are logits (scores / temperature), ``mask`` (B, M) bool. Unmarked
    columns get the lowest finite float32, so their probability is exactly 0 and no value or gradient is NaN
    (with -inf, a row of one candidate would give 0 * inf).
    """
    low = torch.finfo(torch.float32).min
    log_q = student.float().masked_fill(~mask, low).log_softmax(-1)
    log_p = teacher.float().masked_fill(~mask, low).log_softmax(-1)
    kl = (log_p.exp() * (log_p - log_q)).masked_fill(~mask, 0.0).sum(-1)  # (B,)
    return (kl * (mask.sum(-1) >= 2)).sum() / mask.shape[0]


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
