"""Rewrite the README's results blocks from their runs' results.json (`<!-- langmix:results RUN -->`).

    python scripts/readme-results.py [README.md]      # rewrite
    python scripts/readme-results.py --check          # exit 1 and name the stale blocks, writing nothing
"""

from __future__ import annotations

import sys

from langmix.errors import LangmixError
from langmix.reproduce.readme import stale_blocks, sync


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [a for a in argv if a != "--check"] or ["README.md"]
    try:
        for path in paths:
            if check:
                stale = stale_blocks(path)
                for run in stale:
                    print(f"{path}: the block of {run} differs from {run}/results.json; "
                          "run python scripts/readme-results.py")
                if stale:
                    return 1
            else:
                print(f"{path}: {sync(path)} results block(s) rendered")
    except LangmixError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
