"""InfoNCE: the formula on hand-made tensors, targets as positions, masking, symmetry, GradCache equality
(on the CPU, and with dropout on a CUDA GPU where one is present)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from langmix.training.batches import TextBatch
from langmix.training.losses import CachedInfoNCE, InfoNCELoss, info_nce, scatter_negatives


def _unit(*shape: int, seed: int = 0) -> torch.Tensor:
    return F.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed)), dim=-1)


def test_info_nce_matches_the_formula_written_out():
    q, p = _unit(3, 4, seed=1), _unit(5, 4, seed=2)
    tau = 0.1
    expected = 0.0
    for i in range(3):
        scores = [math.exp(float(q[i] @ p[j]) / tau) for j in range(5)]
        expected -= math.log(scores[i] / sum(scores))
    assert info_nce(q, p, tau).item() == pytest.approx(expected / 3, rel=1e-5)


def test_hand_checkable_two_by_two():
    """q = p = identity: each positive has cosine 1, the negative 0, so loss = log(1 + e^{-s})."""
    eye = torch.eye(2)
    assert info_nce(eye, eye, temperature=0.5).item() == pytest.approx(math.log(1 + math.exp(-2.0)), rel=1e-6)


def test_offset_shifts_targets_and_column_order_does_not_matter():
    """Gathered layout [pos_0, neg_0, pos_1, neg_1] seen from rank 1 == one process's [pos, neg] layout."""
    q, pos, neg = _unit(4, 8, seed=3), _unit(4, 8, seed=4), _unit(4, 8, seed=5)
    single = info_nce(q, torch.cat([pos, neg]))
    rank1 = info_nce(q[2:], torch.cat([pos[:2], neg[:2], pos[2:], neg[2:]]), offset=4)
    rank0 = info_nce(q[:2], torch.cat([pos[:2], neg[:2], pos[2:], neg[2:]]), offset=0)
    assert ((rank0 + rank1) / 2).item() == pytest.approx(single.item(), abs=1e-6)


def test_masked_column_is_the_same_as_a_missing_column():
    q, p = _unit(3, 6, seed=6), _unit(5, 6, seed=7)
    mask = torch.tensor([True, True, True, False, True])
    assert info_nce(q, p, candidate_mask=mask).item() == pytest.approx(
        info_nce(q, p[[0, 1, 2, 4]]).item(), abs=1e-6)


def test_module_appends_hard_negatives_as_columns_and_symmetric_averages_both_directions():
    q, pos, neg = _unit(3, 5, seed=8), _unit(3, 5, seed=9), _unit(6, 5, seed=10)
    loss = InfoNCELoss(temperature=0.05)
    assert loss.from_embeddings(q, pos, neg).item() == pytest.approx(
        info_nce(q, torch.cat([pos, neg])).item(), abs=1e-6)
    sym = InfoNCELoss(temperature=0.05, symmetric=True).from_embeddings(q, pos, neg)
    expected = (info_nce(q, torch.cat([pos, neg])) + info_nce(pos, q)) / 2
    assert sym.item() == pytest.approx(expected.item(), abs=1e-6)


def test_scatter_negatives_places_real_rows_and_masks_the_rest():
    like = torch.zeros(2, 3)
    real = torch.ones(3, 3)
    full, mask = scatter_negatives(real, torch.tensor([0, 1, 3]), 4, like)
    assert mask.tolist() == [True, True, False, True]
    assert full[2].abs().sum() == 0 and full[3].sum() == 3
    assert scatter_negatives(None, None, 0, like) == (None, None)


class _ToyEncoder(torch.nn.Module):
    """Bag of character embeddings + dropout + linear, normalised: cheap, has parameters and randomness.
    Called as ``embed(texts, kind)``, the call the losses make."""

    def __init__(self, device: str = "cpu") -> None:
        super().__init__()
        torch.manual_seed(0)
        self.emb = torch.nn.EmbeddingBag(128, 16, mode="mean")
        self.drop = torch.nn.Dropout(0.2)
        self.proj = torch.nn.Linear(16, 8)
        self.to(device)
        self.device = device

    def forward(self, texts, kind: str) -> torch.Tensor:
        prefix = "q:" if kind == "query" else "p:"
        ids = [torch.tensor([ord(c) % 128 for c in prefix + t]) for t in texts]
        offsets = torch.tensor([0] + [len(i) for i in ids[:-1]]).cumsum(0)
        flat, offsets = torch.cat(ids).to(self.device), offsets.to(self.device)
        return F.normalize(self.proj(self.drop(self.emb(flat, offsets))), dim=-1)


QUERIES = [f"question {i} about {w}" for i, w in enumerate("abcdefg")]
POSITIVES = [f"answer {i} says {w * 3}" for i, w in enumerate("abcdefg")]
NEGATIVES = ["noise one", "noise two", "noise three"]
INDEX, SLOTS = torch.tensor([0, 3, 8]), 7 * 2  # 2 negative slots per query, 3 filled


def _plain(device: str, scale: float) -> tuple[torch.Tensor, _ToyEncoder]:
    """The plain loss written out by hand (every embedding with autograd), backpropagated times ``scale``."""
    model = _ToyEncoder(device)
    torch.manual_seed(123)
    q, p = model(QUERIES, "query"), model(POSITIVES, "passage")
    full, mask = scatter_negatives(model(NEGATIVES, "passage"), INDEX, SLOTS, p)
    loss = InfoNCELoss(temperature=0.05, symmetric=True).from_embeddings(q, p, full, mask)
    (loss * scale).backward()
    return loss, model


def _cached(device: str, scale: float, chunk: int, rng_device: str) -> tuple[torch.Tensor, _ToyEncoder]:
    """The same through CachedInfoNCE's call, the RNG states captured for ``rng_device``."""
    model = _ToyEncoder(device)
    torch.manual_seed(123)
    loss = CachedInfoNCE(0.05, symmetric=True, chunk_size=chunk, device=rng_device)(
        model, TextBatch(QUERIES, POSITIVES, NEGATIVES, INDEX, SLOTS))
    (loss * scale).backward()
    return loss, model


def _same_gradients(a: torch.nn.Module, b: torch.nn.Module, atol: float = 1e-6) -> bool:
    return all(torch.allclose(x.grad, y.grad, atol=atol) for x, y in zip(a.parameters(), b.parameters(), strict=True))


@pytest.mark.parametrize("chunk, scale", [(1, 1.0), (3, 1.0), (64, 1.0), (3, 1024.0)])
def test_cached_loss_equals_plain_loss_in_value_and_gradients(chunk: int, scale: float):
    """Also under a loss scale (fp16's GradScaler multiplies the loss before backward), and the RNG ends
    where the plain step leaves it (the replay draws nothing new)."""
    plain, plain_model = _plain("cpu", scale)
    plain_rng = torch.get_rng_state()
    value, cached_model = _cached("cpu", scale, chunk, "cpu")
    assert torch.equal(torch.get_rng_state(), plain_rng)
    assert value.item() == pytest.approx(plain.item(), abs=1e-6)
    for (name, a), b in zip(plain_model.named_parameters(), cached_model.parameters(), strict=True):
        assert torch.allclose(a.grad, b.grad, atol=1e-6 * scale), name


def test_cached_loss_without_autograd_is_the_plain_loss():
    batch = TextBatch(QUERIES, POSITIVES, NEGATIVES, INDEX, SLOTS)
    model = _ToyEncoder().eval()
    with torch.no_grad():
        plain = InfoNCELoss(0.05, symmetric=True)(model, batch)
        cached = CachedInfoNCE(0.05, symmetric=True, chunk_size=2)(model, batch)
    assert cached.item() == plain.item() and not cached.requires_grad


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cached_loss_equals_plain_loss_on_cuda_with_dropout():
    """The replay must restore the CUDA generator too: dropout draws its masks there. Power check: with the
    CPU state alone (``device="cpu"``) the replayed masks differ and so do the gradients."""
    plain, plain_model = _plain("cuda", 1.0)
    value, cached_model = _cached("cuda", 1.0, 3, "cuda")
    assert value.item() == pytest.approx(plain.item(), abs=1e-5)
    assert _same_gradients(plain_model, cached_model, atol=1e-5)
    _, cpu_rng_only = _cached("cuda", 1.0, 3, "cpu")
    assert not _same_gradients(plain_model, cpu_rng_only, atol=1e-5)
