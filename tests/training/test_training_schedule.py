"""The learning rate is a pure function of the step: linear warm-up, then linear decay to 0."""

from __future__ import annotations

import pytest

from langmix.training.loop import learning_rate


@pytest.mark.parametrize("warmup, total", [(0, 10), (3, 10), (10, 100)])
def test_warmup_rises_peak_then_linear_decay_to_zero(warmup, total):
    lrs = [learning_rate(t, 1.0, warmup, total) for t in range(total + 2)]
    assert all(a < b for a, b in zip(lrs[:warmup], lrs[1:warmup + 1], strict=True))  # rising warm-up
    assert lrs[warmup] == 1.0  # peak right after warm-up
    assert all(a > b for a, b in zip(lrs[warmup:total], lrs[warmup + 1:total + 1], strict=True))  # decay
    steps = [lrs[t] - lrs[t + 1] for t in range(warmup, total)]
    assert max(steps) == pytest.approx(min(steps))  # linear: constant decrement 1 / (total - warmup)
    assert lrs[total] == lrs[total + 1] == 0.0


def test_warmup_values_follow_the_formula():
    assert learning_rate(0, 3e-5, 4, 20) == pytest.approx(3e-5 / 5)
    assert learning_rate(19, 3e-5, 4, 20) == pytest.approx(3e-5 / 16)
