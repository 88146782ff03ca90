"""Pack the run folders under PARTS into at most 7 tar.gz files of at most 15 MiB each, 60 MiB in all, under OUT
(the device tool returns at most 8 files of 16 MiB, 64 MiB together): ``python benchmarks/device/pack.py PARTS OUT``
(``--only NAME,...`` packs those folders under PARTS alone, e.g. what an earlier call could not bring back).
Weights, checkpoints, embeddings and regenerable training corpora are left out; a job's log keeps its last
256 KiB. Job folders that do not fit are listed in OUT/left-out.txt (they stay on the machine until it goes back:
pack them with --only in the next call)."""

from __future__ import annotations

import io
import sys
import tarfile
from pathlib import Path

SKIP_DIRS = {"best-model", "checkpoints"}
SKIP_SUFFIXES = {".safetensors", ".bin", ".pt", ".npy"}
LIMIT, TOTAL, FILES, LOG_TAIL = 15 * 2**20, 60 * 2**20, 7, 256 * 2**10


def wanted(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts
    return not SKIP_DIRS & set(parts) and path.suffix not in SKIP_SUFFIXES and path.name != "train.jsonl"


def payload(path: Path) -> bytes:
    data = path.read_bytes()
    return data[-LOG_TAIL:] if path.name == "job.log" else data


def main(parts: Path, out: Path, only: list[str] | None = None) -> None:
    """Whole job folders only: one that does not fit in what is left of TOTAL is left out entirely, so a folder
    never comes back with its results.json but without the per-query files its report needs."""
    folders = [parts / name for name in only] if only else sorted(p for p in parts.iterdir() if p.is_dir())
    bins: list[list[tuple[Path, bytes]]] = [[]]
    sizes, left, packed = [0], [], 0
    for folder in folders:
        members = [(p, payload(p)) for p in sorted(folder.rglob("*")) if p.is_file() and wanted(p, parts)]
        if sum(sizes) + sum(len(data) for _, data in members) > TOTAL:  # gzip barely shrinks per_query.json.gz
            left.append(folder.name)
            continue
        for path, data in members:
            if sizes[-1] + len(data) > LIMIT and bins[-1]:
                if len(bins) == FILES:
                    raise SystemExit(f"more than {FILES} archives needed: pack fewer folders (--only)")
                bins.append([])
                sizes.append(0)
            bins[-1].append((path, data))
            sizes[-1] += len(data)
        packed += 1
    for index, members in enumerate(bins):
        with tarfile.open(out / f"parts-{index}.tar.gz", "w:gz") as tar:
            for path, data in members:
                info = tarfile.TarInfo(str(Path(parts.name) / path.relative_to(parts)))
                info.size, info.mtime = len(data), int(path.stat().st_mtime)
                tar.addfile(info, io.BytesIO(data))
    if left:
        (out / "left-out.txt").write_text("\n".join(left) + "\n", encoding="utf-8")
    print(f"packed {packed} folders into {len(bins)} archives; left out: {', '.join(left) or 'none'}")


if __name__ == "__main__":
    args = sys.argv[1:]
    only = args[args.index("--only") + 1].split(",") if "--only" in args else None
    main(Path(args[0]), Path(args[1]), only)
