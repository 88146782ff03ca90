"""2 processes (torchrun, gloo, CPU) with batch b each == 1 process with batch 2b: same loss and gradients."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

# Not marked slow on purpose: about a minute on 2 cores, and the only proof that negatives are gathered right.

WORKER = Path(__file__).with_name("dist_worker.py")


def _run(tiny_model_path: Path, out: Path, processes: int) -> dict:
    launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"] if processes > 1 else []
    done = subprocess.run(
        [sys.executable, *launcher, str(WORKER), str(tiny_model_path), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return torch.load(out, weights_only=False)


@pytest.fixture(scope="module")
def results(tiny_model_path, tmp_path_factory) -> tuple[dict, dict]:
    folder = tmp_path_factory.mktemp("dist")
    return _run(tiny_model_path, folder / "one.pt", 1), _run(tiny_model_path, folder / "two.pt", 2)


@pytest.mark.parametrize("path", ["plain", "cached", "distilled", "distilled-cached"])
def test_two_ranks_equal_one_process_on_the_global_batch(results, path):
    one, two = results
    assert (one["world_size"], two["world_size"]) == (1, 2)
    (loss1, grads1), (loss2, grads2) = one[path], two[path]
    assert loss2 == pytest.approx(loss1, abs=1e-5)
    assert grads1.keys() == grads2.keys() and grads1
    for name in grads1:
        assert torch.allclose(grads1[name], grads2[name], atol=1e-5), name


def test_the_distillation_term_counts(results):
    """Power check for the distilled paths: the term changes the loss (some pairs' passages are in another
    query's language), so gathering the candidates' languages wrongly could show."""
    one, _ = results
    assert abs(one["distilled"][0] - one["plain"][0]) > 1e-3


def test_without_gathering_the_losses_would_differ(results):
    """Power check: rank 0's loss over its own half of the batch is not the global loss, so the test above can fail."""
    one, two = results
    assert abs(two["local"] - one["local"]) > 1e-3
