"""Pack the run folders under PARTS into at most 7 tar.gz files of at most 15 MiB each under OUT (the device
tool returns at most 8 files of 16 MiB): ``python benchmarks/device/pack.py PARTS OUT``. Weights, checkpoints,
embeddings and regenerable training corpora are left out; a job's log keeps its last 256 KiB. Files that do not
fit are listed in OUT/left-out.txt (the whole folder stays on the machine until it goes back)."""

from __future__ import annotations

import io
import sys
import tarfile
from pathlib import Path

SKIP_DIRS = {"best-model", "checkpoints"}
SKIP_SUFFIXES = {".safetensors", ".bin", ".pt", ".npy"}
LIMIT, FILES, LOG_TAIL = 15 * 2**20, 7, 256 * 2**10


def wanted(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts
    return not SKIP_DIRS & set(parts) and path.suffix not in SKIP_SUFFIXES and path.name != "train.jsonl"


def payload(path: Path) -> bytes:
    data = path.read_bytes()
    return data[-LOG_TAIL:] if path.name == "job.log" else data


def main(parts: Path, out: Path) -> None:
    files = sorted(p for p in parts.rglob("*") if p.is_file() and wanted(p, parts))
    bins: list[list[tuple[Path, bytes]]] = [[]]
    sizes, left = [0], []
    for path in files:
        data = payload(path)
        if sizes[-1] + len(data) > LIMIT and bins[-1]:
            if len(bins) == FILES:
                left.append(str(path.relative_to(parts)))
                continue
            bins.append([])
            sizes.append(0)
        bins[-1].append((path, data))
        sizes[-1] += len(data)
    for index, members in enumerate(bins):
        with tarfile.open(out / f"parts-{index}.tar.gz", "w:gz") as tar:
            for path, data in members:
                info = tarfile.TarInfo(str(Path(parts.name) / path.relative_to(parts)))
                info.size, info.mtime = len(data), int(path.stat().st_mtime)
                tar.addfile(info, io.BytesIO(data))
    if left:
        (out / "left-out.txt").write_text("\n".join(left) + "\n", encoding="utf-8")
    print(f"packed {len(files) - len(left)} files into {len(bins)} archives; {len(left)} left out")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
