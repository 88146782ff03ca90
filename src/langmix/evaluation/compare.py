"""Paired significance tests between evaluation runs, on their per-query scores.

Test: Fisher's randomisation (sign-flip permutation) test on the per-unit score differences
:math:`d_i = b_i - a_i`, two-sided, with a fixed seed. Under H0 the two runs are exchangeable on every
query, so each difference's sign is flipped at random: the null distribution is that of
:math:`\\bar d_s = \\frac1n \\sum_i s_i d_i` over sign vectors :math:`s \\in \\{\\pm 1\\}^n` (all :math:`2^n`
when that is at most ``n_resamples``: the exact test; else ``n_resamples`` random ones), and the p-value
is ``scipy.stats.permutation_test``'s (``permutation_type="samples"``) for that null:
:math:`p = \\min(1, 2 \\min(p_\\le, p_\\ge))` with :math:`p_\\le = (\\#\\{\\bar d_s \\le \\bar d\\} + 1) / (R + 1)`
(no +1 in the exact test). scipy draws each flip by arg-sorting two random floats, which took minutes per
report on whole test pools; here the flips are random bits and the null is one matrix product per block
(``tests/evaluation/test_compare.py`` checks it against scipy). Units are the
keys of ``per_query.json`` (a query, or a (query, pool language) pair for cross mAP), paired by id;
the tested statistic is the mean over units (micro), which may differ from a macro-averaged headline.
Every run is compared with the first (the baseline). Runs must hold the same units: runs made on
different query sets (another ``--limit-questions`` or ``--languages``) are refused, not paired on
their overlap; so are run folders whose evaluation did not finish (no ``results.json``).
:func:`compare_scores` tests per-query scores held in memory; ``langmix compare`` (:func:`compare_runs`)
reads them from run folders, ``langmix reproduce`` averages them over seeds first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from langmix.errors import LangmixError
from langmix.io import read_json
from langmix.markdown import table

TEST_NAME = "Fisher randomisation test (paired, two-sided, sign flips; scipy.stats.permutation_test's p-value)"
EPS = np.finfo(np.float64).eps * 100  # scipy's tolerance for null values equal to the observed one
BLOCK = 1 << 24  # sign-vector elements per matrix product (a 128 MiB float64 block)


@dataclass
class Comparison:
    metric: str
    baseline: str
    run: str
    n_units: int
    baseline_mean: float
    run_mean: float
    p_value: float

    @property
    def delta(self) -> float:
        return self.run_mean - self.baseline_mean


def paired_randomisation_test(
    a: np.ndarray, b: np.ndarray, n_resamples: int = 10_000, seed: int = 42
) -> float:
    """Two-sided p-value of H0: mean(b - a) = 0 under random sign flips of the paired differences."""
    if np.allclose(a, b):
        return 1.0
    d = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    observed = d.mean()
    null, exact = sign_flip_null(d, n_resamples, seed)
    adjustment = 0 if exact else 1
    gamma = abs(EPS * observed)
    less = (np.count_nonzero(null <= observed + gamma) + adjustment) / (len(null) + adjustment)
    greater = (np.count_nonzero(null >= observed - gamma) + adjustment) / (len(null) + adjustment)
    return float(min(1.0, 2 * min(less, greater)))


def sign_flip_null(d: np.ndarray, n_resamples: int, seed: int) -> tuple[np.ndarray, bool]:
    """(mean of s * d for each sign vector s, whether that is all 2^n of them)."""
    n = len(d)
    if n < 63 and 2**n <= n_resamples:
        flips = (np.arange(2**n)[:, None] >> np.arange(n)) & 1  # row k: the bits of k
        return (1 - 2 * flips) @ d / n, True
    rng = np.random.default_rng(seed)
    rows = max(1, BLOCK // n)
    null = np.empty(n_resamples)
    for start in range(0, n_resamples, rows):
        words = rng.integers(0, 256, size=(min(rows, n_resamples - start), (n + 7) // 8), dtype=np.uint8)
        flips = np.unpackbits(words, axis=1, count=n).astype(np.float64)  # 1: flip that sign; 8 per random byte
        null[start : start + len(flips)] = (d.sum() - 2 * (flips @ d)) / n  # sum(s d) = sum(d) - 2 sum(flipped d)
    return null, False


Scores = dict[str, dict[str, float]]  # per-query scores of a run: metric key -> unit id -> score


def per_query_path(run: str | Path) -> Path:
    """``per_query.json`` of a run folder, or its gzip copy ``per_query.json.gz`` (reproduce cells keep that)."""
    path = Path(run) / "per_query.json"
    return path if path.is_file() or not path.with_suffix(".json.gz").is_file() else path.with_suffix(".json.gz")


def load_per_query(run: str | Path) -> Scores:
    """Per-query scores of a finished run folder (its per_query.json; results.json, written last, must exist)."""
    path = per_query_path(run)
    if not path.is_file():
        raise LangmixError(f"{run} has no per_query.json", "give folders written by 'langmix evaluate'")
    if not (Path(run) / "results.json").is_file():
        raise LangmixError(
            f"{run} has per_query.json but no results.json: its evaluation did not finish",
            "run 'langmix evaluate' into it again",
        )
    return read_per_query(path)


def read_per_query(path: Path) -> Scores:
    """A per_query.json(.gz), checked to be metric -> unit id -> number, so that a damaged file is named as
    such rather than compared (as "different queries", or with a traceback)."""
    scores = read_json(path)
    problem = _malformed(scores)
    if problem:
        raise LangmixError(f"{path} is malformed: {problem}",
                           "run 'langmix evaluate' into its folder again to rewrite it")
    return scores


def _malformed(scores: object) -> str | None:
    """What is wrong with per-query scores read from JSON, or None."""
    if not isinstance(scores, dict):
        return f"it holds {_json_kind(scores)}, not an object of metric -> {{unit id: score}}"
    for metric, units in scores.items():
        if not isinstance(units, dict):
            return f"{metric} holds {_json_kind(units)}, not an object of unit id -> score"
        for unit, score in units.items():
            if isinstance(score, bool) or not isinstance(score, int | float):
                return f"the {metric} score of unit '{unit}' is {json.dumps(score)[:40]}, not a number"
    return None


def _json_kind(value: object) -> str:
    kinds = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return kinds.get(type(value), "null")


def compare_runs(runs: list[str | Path], n_resamples: int = 10_000, seed: int = 42) -> list[Comparison]:
    """Each run folder against the first (``langmix compare``)."""
    if len(runs) < 2:
        raise LangmixError("compare needs at least two runs", "give RUN_A RUN_B [...]")
    return compare_scores([(str(run), load_per_query(run)) for run in runs], n_resamples, seed)


def compare_scores(runs: list[tuple[str, Scores]], n_resamples: int = 10_000, seed: int = 42) -> list[Comparison]:
    """Each named run's per-query scores against the first's, per metric they share, in memory.

    Units are paired by id and must be the same in both runs; the order is metric by metric (the first
    run's order), then run by run.
    """
    (base_name, base_scores), others = runs[0], runs[1:]
    shared = [m for m in base_scores if all(m in scores for _, scores in others)]
    if not shared:
        raise LangmixError("the runs share no metric", "compare runs of the same benchmark")
    return [
        _compare(metric, base_name, base_scores[metric], name, scores[metric], n_resamples, seed)
        for metric in shared
        for name, scores in others
    ]


def _compare(
    metric: str, base_name: str, base: dict[str, float], name: str, other: dict[str, float], n_resamples: int,
    seed: int,
) -> Comparison:
    units = sorted(base)
    if set(units) != set(other):
        common = len(set(base) & set(other))
        raise LangmixError(
            f"{base_name} and {name} were scored on different queries for {metric} ({len(base)} vs "
            f"{len(other)} units, {common} shared)",
            "evaluate both on the same benchmark, languages and --limit-questions",
        )
    a = np.array([base[u] for u in units])
    b = np.array([other[u] for u in units])
    return Comparison(
        metric, base_name, name, len(units), float(a.mean()), float(b.mean()),
        paired_randomisation_test(a, b, n_resamples, seed),
    )


def comparisons_markdown(comparisons: list[Comparison], alpha: float = 0.05) -> str:
    rows = [
        [c.metric, Path(c.run).name, c.n_units, f"{c.baseline_mean:.4f}", f"{c.run_mean:.4f}",
         f"{c.delta:+.4f}{'*' if c.p_value < alpha else ''}", f"{c.p_value:.4f}"]
        for c in comparisons
    ]
    head = f"Test: {TEST_NAME}; baseline = first run; * marks p < {alpha}."
    return f"{head}\n\n{table(['metric', 'run', 'n', 'baseline', 'run', 'delta', 'p'], rows)}\n"


def comparisons_record(comparisons: list[Comparison], n_resamples: int, seed: int) -> dict:
    return {
        "test": TEST_NAME,
        "n_resamples": n_resamples,
        "seed": seed,
        "comparisons": [{**c.__dict__, "delta": c.delta} for c in comparisons],
    }
