"""Run by ``test_training_distributed.py`` under ``torchrun``: one training step's loss and gradients.

``python dist_worker.py MODEL_DIR OUT.pt`` with ``WORLD_SIZE`` processes: each rank takes its slice of the same
global batch (:func:`global_pairs`), candidates are gathered across ranks and gradients averaged; rank 0 saves
``{"plain": (loss, grads), "cached": (loss, grads), ...}``, also with the same-language distillation term
("distilled", "distilled-cached"; the teacher is the model reading shorter texts, so it differs from the
student). Run without torchrun it computes the single-process reference. The model is in eval mode, so
dropout does not make ranks differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from langmix import distributed as dist
from langmix.data.loaders import load_corpus
from langmix.data.parallel import Pair
from langmix.model.load import load_model
from langmix.training.batches import make_text_batch, rank_slice
from langmix.training.loop import embed
from langmix.training.losses import CachedInfoNCE, InfoNCELoss, SameLanguageDistillation, info_nce

SLICE = Path(__file__).parents[1] / "fixtures" / "training" / "xquad-r-slice.jsonl"
GLOBAL_BATCH = 8
LANGS = ("de", "en", "es")


def global_pairs() -> list[Pair]:
    """Mono and cross pairs over the first records; records distinct, as a sampler would give."""
    return [Pair(i, LANGS[i % 3], LANGS[(2 * i) % 3]) for i in range(GLOBAL_BATCH)]


def step(model, corpus, env: dist.DistEnv, chunk: int, distilled: bool = False) -> tuple[float, dict]:
    teacher = SameLanguageDistillation(lambda texts, kind: embed(model, texts, kind, 12, "cpu"), 1.0, 0.05)
    distill = teacher if distilled else None
    loss_fn = (CachedInfoNCE(0.05, symmetric=True, chunk_size=chunk, distill=distill) if chunk
               else InfoNCELoss(0.05, symmetric=True, distill=distill))
    batch = make_text_batch(corpus, rank_slice(global_pairs(), env), hard_negatives=1)

    def embed_fn(texts, kind):
        return embed(model, texts, kind, 32, "cpu")

    model.zero_grad(set_to_none=True)
    loss = loss_fn(embed_fn, batch)  # plain or GradCache: the same call
    loss.backward()
    params = [p for p in model.parameters() if p.requires_grad]
    dist.average_gradients(params)
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return dist.all_reduce_mean(loss.item()), grads


@torch.no_grad()
def local_loss(model, corpus, env: dist.DistEnv) -> float:
    """Rank 0's loss against its own passages only (no gathering): what a wrong scale-out would give."""
    batch = make_text_batch(corpus, rank_slice(global_pairs(), env), hard_negatives=0)
    q, p = (
        embed(model, texts, kind, 32, "cpu") for texts, kind in ((batch.queries, "query"), (batch.positives, "passage"))
    )
    return info_nce(q, p).item()


def main(model_dir: str, out: str) -> None:
    torch.set_num_threads(1)
    env = dist.init_distributed("cpu")
    model = load_model(model_dir, device="cpu").eval()
    corpus = load_corpus(f"jsonl:{SLICE}")
    results = {
        "plain": step(model, corpus, env, 0),
        "cached": step(model, corpus, env, 3),
        "distilled": step(model, corpus, env, 0, distilled=True),
        "distilled-cached": step(model, corpus, env, 3, distilled=True),
        "local": local_loss(model, corpus, env),
    }
    if env.is_main:
        torch.save({"world_size": env.world_size, **results}, out)
    dist.cleanup_distributed()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
