"""Seconds per paired significance test: langmix's sign-flip test vs scipy.stats.permutation_test (the
implementation it replaced), on synthetic per-query scores of the whole test pools' unit counts.

    python benchmarks/significance_speed.py            # MLQA-R (4,199 / 11,548 units) and XQuAD-R (13,090 / 130,900)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import stats

from _common import environment, write_result
from langmix.evaluation.compare import paired_randomisation_test


def scipy_test(a: np.ndarray, b: np.ndarray, n_resamples: int) -> float:
    """The call langmix made before: scipy's paired 'samples' permutation test, batches of 500."""
    return float(stats.permutation_test(
        (a, b), lambda x, y, axis: np.mean(y - x, axis=axis), vectorized=True, permutation_type="samples",
        n_resamples=n_resamples, batch=500, alternative="two-sided", random_state=42,
    ).pvalue)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, nargs="*", default=[4199, 11548, 13090, 130900])
    parser.add_argument("--n-resamples", type=int, default=10_000)
    args = parser.parse_args()
    rows = []
    for n in args.units:
        rng = np.random.default_rng(n)
        a = rng.random(n)
        b = np.clip(a + rng.normal(0.003, 0.2, n), 0, 1)
        row = {"units": n}
        for name, test in (("langmix", paired_randomisation_test), ("scipy", scipy_test)):
            t0 = time.perf_counter()
            row[f"{name}_p"] = test(a, b, args.n_resamples)
            row[f"{name}_seconds"] = time.perf_counter() - t0
        row["speedup"] = row["scipy_seconds"] / row["langmix_seconds"]
        rows.append(row)
        print(f"{n:>7} units: langmix {row['langmix_seconds']:.2f} s (p {row['langmix_p']:.4f}), "
              f"scipy {row['scipy_seconds']:.2f} s (p {row['scipy_p']:.4f}): {row['speedup']:.1f}x", flush=True)
    write_result("significance-speed", {**environment("cpu"), "settings": vars(args), "rows": rows})


if __name__ == "__main__":
    main()
