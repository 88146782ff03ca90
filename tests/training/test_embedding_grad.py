"""Row gradients of the word embeddings (training.embedding_grad): the same dense gradient as the plain backward,
step after step, with GradCache's several backwards too, and the same training run."""

from __future__ import annotations

import copy
import itertools
import json

import pytest
import torch

from langmix.training.batches import make_text_batch
from langmix.training.embedding_grad import use_row_gradients, word_embeddings
from langmix.training.loop import embed, load_training_data, make_optimizer, optimizer_step
from langmix.training.losses import CachedInfoNCE, InfoNCELoss
from langmix.training.sampling import make_sampler


def _model(tiny_model, rows: bool):
    model = copy.deepcopy(tiny_model).train()
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    if rows:
        assert use_row_gradients(model)
    return model


def _steps(model, config, batches, loss_fn) -> list[dict[str, torch.Tensor]]:
    """The gradients of each step (before clipping), after a real optimiser step between them."""
    optimizer, params = make_optimizer(model, config), [p for p in model.parameters() if p.requires_grad]
    grads = []
    for batch in batches:
        loss = loss_fn(lambda texts, kind: embed(model, texts, kind, 48, "cpu"), batch)
        loss.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
        optimizer_step(optimizer, None, params, config.max_grad_norm)
    return grads


@pytest.mark.parametrize("loss_fn", [InfoNCELoss(), CachedInfoNCE(chunk_size=3)], ids=["plain", "gradcache"])
def test_row_gradients_equal_the_dense_backward(make_config, tiny_model, loss_fn):
    config = make_config("model.freeze_embeddings=false", "data.hard_negatives=1")
    train, _ = load_training_data(config)
    batches = [make_text_batch(train, pairs, 1) for pairs in itertools.islice(iter(make_sampler("hybrid", train, 8,
                                                                                                   seed=1)), 3)]
    dense = _steps(_model(tiny_model, rows=False), config, batches, loss_fn)
    rows_model = _model(tiny_model, rows=True)
    rows = _steps(rows_model, config, batches, loss_fn)
    name = next(n for n, p in rows_model.named_parameters() if p is word_embeddings(rows_model).weight)
    for step_dense, step_rows in zip(dense, rows, strict=True):
        assert step_rows.keys() == step_dense.keys()
        assert not step_rows[name].is_sparse and step_dense[name].abs().sum() > 0
        for key, grad in step_rows.items():
            # the same sums in another order; a row left over from the step before would differ by far more
            torch.testing.assert_close(grad, step_dense[key], rtol=1e-5, atol=1e-5)


def test_frozen_or_missing_embeddings_are_left_alone(tiny_model):
    model = copy.deepcopy(tiny_model)
    word_embeddings(model).weight.requires_grad_(False)
    assert not use_row_gradients(model)
    assert not use_row_gradients(torch.nn.Linear(2, 2))


def test_training_with_row_gradients_is_the_same_run(make_config, tmp_path, train_tiny):
    """The whole loop, word embeddings trained: the same losses and dev metrics either way."""
    runs = {rows: train_tiny(make_config("model.freeze_embeddings=false", f"row_embedding_grad={rows}",
                                         "max_steps=4"), tmp_path / str(rows)) for rows in (True, False)}
    logs = {rows: [json.loads(line) for line in (run.out_dir / "train_log.jsonl").read_text().splitlines()]
            for rows, run in runs.items()}
    losses = {rows: [row["loss"] for row in log if row["event"] == "train"] for rows, log in logs.items()}
    assert len(losses[True]) == 4
    assert losses[True] == pytest.approx(losses[False], rel=1e-4)
