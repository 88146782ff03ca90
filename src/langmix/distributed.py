"""Data-parallel helpers for ``torchrun``: process group set-up, rank helpers, a differentiable all-gather.

Why a hand-written gather: with in-batch negatives every query must see the passages of *all* ranks, so
the effective batch is global. The gathered passages must carry gradients back to the rank that
embedded them. ``all_gather`` itself is not differentiable; :func:`all_gather_with_grad` is: its backward
sums the incoming gradients over ranks (all-reduce, since gloo has no reduce-scatter) and keeps the
rank's own slice. With that backward, averaging parameter gradients over ranks (:func:`average_gradients`)
gives exactly the gradient of the loss averaged over the global batch, i.e. the single-process gradient
on a batch of ``world_size * B`` (tested in ``tests/training/test_training_distributed.py``).

We average gradients by hand instead of wrapping the model in ``DistributedDataParallel`` because one
training step runs several forward passes (queries, positives, negatives, GradCache chunks) before a single
backward, which DDP's reducer does not support without ``no_sync`` gymnastics.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from langmix.errors import LangmixError


@dataclass(frozen=True)
class DistEnv:
    """Where this process sits: ``rank`` of ``world_size`` processes, on ``device``."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def get_rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def get_world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def init_distributed(device: str = "auto") -> DistEnv:
    """Join the process group that ``torchrun`` describes in the environment (gloo on CPU, nccl on CUDA).

    Without ``WORLD_SIZE`` > 1 in the environment this is a no-op returning a single-process env.
    ``device`` is "auto" (CUDA when available), "cpu", "cuda" (each process on the GPU of its local rank) or
    "cuda:N" (a single process on GPU N).
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() if device == "auto" else device.startswith("cuda")
    if use_cuda and not torch.cuda.is_available():
        raise LangmixError(f"device '{device}' requested but no GPU is visible", "set train.device=cpu or auto")
    dev = _cuda_device(device, local_rank, world_size) if use_cuda else "cpu"
    if world_size <= 1:
        return DistEnv(device=dev)
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistEnv(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank, device=dev)


def _cuda_device(device: str, local_rank: int, world_size: int) -> str:
    """``cuda:<local rank>``, or the GPU that ``cuda:N`` names (one process only: torchrun's ranks need one each)."""
    _, _, index = device.partition(":")
    if not index:
        return f"cuda:{local_rank}"
    if world_size > 1:
        raise LangmixError(f"device={device} puts all {world_size} torchrun processes on one GPU",
                           "set train.device=cuda: each process takes the GPU of its local rank")
    if int(index) >= torch.cuda.device_count():
        raise LangmixError(f"device={device} names a GPU that is not there ({torch.cuda.device_count()} visible)",
                           f"use cuda:0 to cuda:{torch.cuda.device_count() - 1}, or cuda")
    return f"cuda:{int(index)}"


def cleanup_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if is_distributed():
        dist.barrier()


class _AllGatherWithGrad(torch.autograd.Function):
    """Forward: concatenate every rank's (n, ...) tensor along dim 0. Backward: sum over ranks, own slice."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.rank, ctx.n = dist.get_rank(), x.shape[0]
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts, dim=0)  # (world_size * n, ...)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        # Every rank's loss depends on every slice, so the gradient of slice r is the sum over ranks.
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.rank * ctx.n : (ctx.rank + 1) * ctx.n]


def all_gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """(n, ...) per rank -> (world_size * n, ...), rank r's rows at ``r*n:(r+1)*n``; identity on 1 process.

    Every rank must pass the same shape.
    """
    if not is_distributed():
        return x
    if x.requires_grad:
        return _AllGatherWithGrad.apply(x)
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts, dim=0)


def average_gradients(params) -> None:
    """All-reduce the gradients of ``params`` and divide by the world size (one flat buffer, one call)."""
    if not is_distributed():
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= dist.get_world_size()
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def all_reduce_mean(value: float) -> float:
    """Mean of a Python float over ranks (for logging the global loss)."""
    if not is_distributed():
        return value
    t = torch.tensor([value], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return float(t.item()) / dist.get_world_size()


def gather_objects(obj) -> list:
    """``obj`` of every rank, in rank order (``[obj]`` on one process)."""
    if not is_distributed():
        return [obj]
    out: list = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj):
    """Rank 0's Python object on every rank (e.g. whether to stop early)."""
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]
