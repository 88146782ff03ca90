"""InfoNCE: the formula on hand-made tensors, targets as positions, masking, symmetry, GradCache equality
(on the CPU, and with dropout on a CUDA GPU where one is present)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from langmix.training.batches import TextBatch
from langmix.training.losses import (
    CachedInfoNCE,
    InfoNCELoss,
    SameLanguageDistillation,
    info_nce,
    same_language_kl,
    same_language_mask,
    scatter_negatives,
)


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


# ---------------------------------------------------------------------------------------------- distillation
def _fixed(vectors: dict[str, list[float]]):
    """``embed(texts, kind)`` that looks each text's (normalised) embedding up in ``vectors``."""
    return lambda texts, kind: F.normalize(torch.tensor([vectors[t] for t in texts], dtype=torch.float32), dim=-1)


# q0 (en): candidates p0 (en), p1 (de), n0 (en, pair 0's negative), an empty slot (pair 1's)
SMALL = TextBatch(["q0", "q1"], ["p0", "p1"], ["n0"], torch.tensor([0]), 2, ["en", "de"], ["en", "de"])
STUDENT = {"q0": [1, 0], "q1": [0, 1], "p0": [1, 0], "p1": [1, 1], "n0": [0, 1]}
TEACHER = {"q0": [1, 0], "q1": [0, 1], "p0": [1, 1], "p1": [1, 0], "n0": [1, -1]}  # q0: p0 and n0 tie


def _distilled(student: dict, teacher: dict, weight: float = 0.5, temperature: float = 1.0):
    """(total loss, its terms) of InfoNCE + distillation on SMALL, student and teacher as fixed embeddings."""
    loss_fn = InfoNCELoss(1.0, distill=SameLanguageDistillation(_fixed(teacher), weight, temperature))
    total = loss_fn(_fixed(student), SMALL)
    return total, loss_fn.terms


def test_same_language_mask_keeps_real_candidates_in_the_query_language():
    """Columns: p0 (en), p1 (de), pair 0's negative slot (en), pair 1's empty slot."""
    assert same_language_mask(SMALL).tolist() == [[True, False, True, False], [False, True, False, False]]
    with pytest.raises(ValueError, match="languages"):
        same_language_mask(TextBatch(["q0"], ["p0"], [], torch.zeros(0, dtype=torch.long), 0))


def test_distillation_term_by_hand():
    """q0's same-language candidates are p0 and n0: the student's cosines 1 and 0 give q = (e, 1) / (1 + e),
    the teacher's tie gives p = (1/2, 1/2), so KL = -log 2 - 1/2 + log(1 + e). q1 has one German candidate
    (p1): it adds 0, but counts in the mean over B = 2 queries."""
    total, terms = _distilled(STUDENT, TEACHER)
    expected = (-math.log(2) - 0.5 + math.log(1 + math.e)) / 2
    assert terms["distill"].item() == pytest.approx(expected, rel=1e-6)
    plain = InfoNCELoss(1.0)(_fixed(STUDENT), SMALL)
    assert terms["info_nce"].item() == plain.item()
    assert total.item() == pytest.approx(plain.item() + 0.5 * expected, rel=1e-6)


def test_distillation_is_zero_when_the_student_is_the_teacher():
    total, terms = _distilled(STUDENT, STUDENT)
    assert terms["distill"].item() == 0.0 and total.item() == terms["info_nce"].item()


def test_candidates_of_other_languages_and_lone_queries_do_not_count():
    """Moving p1 (German: not a candidate of q0, and q1's only one) changes InfoNCE, never the distillation
    term; a temperature of its own changes it."""
    _, base = _distilled(STUDENT, TEACHER)
    _, moved = _distilled({**STUDENT, "p1": [-1, 3]}, {**TEACHER, "p1": [2, -5]})
    assert moved["distill"].item() == base["distill"].item()
    assert moved["info_nce"].item() != base["info_nce"].item()
    _, hotter = _distilled(STUDENT, TEACHER, temperature=0.5)
    assert hotter["distill"].item() != pytest.approx(base["distill"].item())


def test_same_language_kl_is_finite_with_empty_and_single_rows():
    student = torch.randn(3, 4, requires_grad=True)
    mask = torch.tensor([[False] * 4, [True, False, False, False], [True, True, False, True]])
    value = same_language_kl(student, torch.randn(3, 4), mask)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(student.grad).all()
    assert student.grad[:2].abs().sum() == 0 and student.grad[2, 2] == 0 and student.grad[2].abs().sum() > 0


@pytest.mark.parametrize("cached", [False, True], ids=["plain", "gradcache"])
def test_gradients_flow_to_the_student_only(cached: bool):
    """The teacher's parameters get no gradient; the student's change with the weight (the term acts); the
    teacher's forward draws no random number (the student's dropout masks stay those of plain InfoNCE)."""
    batch = TextBatch(QUERIES, POSITIVES, NEGATIVES, INDEX, SLOTS, ["en", "de"] * 3 + ["en"], ["en"] * 7)
    teacher = _ToyEncoder().eval()
    grads = {}
    for weight in (0.0, 2.0):
        student = _ToyEncoder()
        teacher.proj.weight.data.mul_(1.5)  # a teacher that differs from the student
        distill = SameLanguageDistillation(teacher, weight, 0.05)
        loss_fn = CachedInfoNCE(0.05, chunk_size=3, distill=distill) if cached else InfoNCELoss(0.05, distill=distill)
        torch.manual_seed(7)
        loss_fn(student, batch).backward()
        assert all(p.grad is None for p in teacher.parameters())
        reference = _ToyEncoder()
        torch.manual_seed(7)
        assert loss_fn.terms["info_nce"].item() == pytest.approx(InfoNCELoss(0.05)(reference, batch).item())
        grads[weight] = [p.grad.clone() for p in student.parameters()]
    assert loss_fn.terms["distill"].item() > 0
    assert any(not torch.allclose(a, b) for a, b in zip(grads[0.0], grads[2.0], strict=True))


def test_cached_distillation_equals_plain_in_value_and_gradients():
    batch = TextBatch(QUERIES, POSITIVES, NEGATIVES, INDEX, SLOTS, ["en", "de"] * 3 + ["en"], ["en", "de"] * 3 + ["de"])
    teacher = _ToyEncoder().eval()
    teacher.proj.weight.data.mul_(-1)
    values, models = [], []
    for loss_fn in (InfoNCELoss(0.05, True, SameLanguageDistillation(teacher, 1.0, 0.1)),
                    CachedInfoNCE(0.05, True, 2, distill=SameLanguageDistillation(teacher, 1.0, 0.1))):
        student = _ToyEncoder()
        torch.manual_seed(123)
        loss = loss_fn(student, batch)
        loss.backward()
        values.append((loss.item(), loss_fn.terms["distill"].item()))
        models.append(student)
    assert values[0] == pytest.approx(values[1], abs=1e-6) and values[0][1] > 0
    assert _same_gradients(*models)
