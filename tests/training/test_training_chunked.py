"""Length-sorted chunked embedding in the training step: same loss and gradients as one padded forward."""

from __future__ import annotations

import copy
import itertools

import pytest
import torch

from langmix.training.batches import make_text_batch
from langmix.training.loop import embed, load_training_data
from langmix.training.losses import InfoNCELoss
from langmix.training.sampling import STRATEGIES, make_sampler


def _dropout_off(model):
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    return model


def _loss_and_grads(model, batch, chunk: int) -> tuple[float, dict[str, torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    loss = InfoNCELoss()(lambda texts, kind: embed(model, texts, kind, 48, "cpu", chunk), batch)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return loss.item(), grads


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_chunked_step_equals_one_chunk(make_config, tiny_model, strategy):
    config = make_config(f"data.strategy={strategy}", "data.hard_negatives=2", "batch_size=8")
    train, _ = load_training_data(config)
    sampler = make_sampler(strategy, train, 8, seed=3)
    model = _dropout_off(copy.deepcopy(tiny_model)).train()
    for pairs in itertools.islice(iter(sampler), 1):
        batch = make_text_batch(train, pairs, 2)
        lengths = [len(t) for t in batch.queries]
        assert len(set(lengths)) > 1  # ragged: chunking really changes the padding
        loss_one, grads_one = _loss_and_grads(model, batch, 0)
        for chunk in (3,):
            loss, grads = _loss_and_grads(model, batch, chunk)
            assert loss == pytest.approx(loss_one, rel=1e-5, abs=1e-6)
            assert grads.keys() == grads_one.keys()
            for name, grad in grads.items():
                # float32 sums over all tokens differ only in their order; a misplaced row would differ by far more
                torch.testing.assert_close(grad, grads_one[name], rtol=1e-5, atol=1e-5)
