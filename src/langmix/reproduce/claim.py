"""The study's claim, checked part by part against a reproduce run's significance tests; and the goal beyond it,
*best of all three*, checked row by row.

The claim (Elmahdy et al. 2024): hybrid batching gives *the best of both* batch compositions, i.e. on every
metric hybrid is at least as good as the better of x-x-mono (strong on mono) and x-y (strong on cross, multi
and rank distance). Here that is read as four parts, one per metric; a part **fails** if hybrid is
significantly worse than x-x-mono or than x-y on that metric, and **holds** otherwise.

"Significantly" means: Holm-Bonferroni over the protocol's (up to) 8 tests (4 metrics x 2 opponents) at
family-wise level ``level`` (0.05), on the two-sided p-values of the paired randomisation test that the run's
``significance`` section holds. Holm rejects the k-th smallest of m p-values (k = 1, 2, ...) while
``p_(k) <= level / (m - k + 1)``, and stops at the first that fails. A part that holds is *not* evidence of
equality: a test that cannot see a small difference also lets the part hold, which is why the difference and
its p-value are printed beside every verdict.

*Best of all three* (issue 27) asks more of a recipe R than the claim asks of hybrid: R's mono mAP not
significantly below the **untrained** model's (no trained row kept it in the medium grid), and its cross and
multi mAP not significantly below x-y's, its rank distance not significantly above x-y's. Each row gets its own
Holm-Bonferroni family of these 4 tests at ``level``; the row *reaches* the goal if none is significantly worse,
and the metrics that are name what *blocks* it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langmix.markdown import difference, table
from langmix.reproduce.aggregate import LOWER_IS_BETTER, METRICS, benchmark_of, digits, row_order

OPPONENTS = ("x-x-mono", "x-y")
# "Best of all three": per metric, the row a recipe must not be significantly worse than
BEST_OF_THREE = {"mono/map": "zero-shot", "cross/map": "x-y", "multi/map": "x-y", "rank_distance": "x-y"}


@dataclass(frozen=True)
class Test:
    metric: str
    other: str
    difference: float  # hybrid (or the tested row) minus other
    p_value: float
    rejected: bool  # Holm: the difference is significant

    @property
    def worse(self) -> bool:
        """The row (hybrid, or the row of a best-of-three test) is significantly worse than ``other``."""
        sign = -1 if self.metric in LOWER_IS_BETTER else 1
        return self.rejected and sign * self.difference < 0


def holm(p_values: list[float], level: float) -> list[bool]:
    """Holm-Bonferroni step-down: which hypotheses are rejected at family-wise error ``level``."""
    order = sorted(range(len(p_values)), key=p_values.__getitem__)
    rejected = [False] * len(p_values)
    for k, i in enumerate(order):
        if p_values[i] > level / (len(p_values) - k):
            break
        rejected[i] = True
    return rejected


def claim_tests(rows: list[dict[str, Any]], level: float = 0.05) -> list[Test]:
    """The protocol's hybrid-vs-{x-x-mono, x-y} tests (significance records) with Holm's decision each."""
    kept = [r for r in rows if r["other"] in OPPONENTS and r["metric"] in METRICS]
    decisions = holm([r["p_value"] for r in kept], level)
    return [Test(r["metric"], r["other"], r["hybrid_minus_other"], r["p_value"], d)
            for r, d in zip(kept, decisions, strict=True)]


def verdicts(tests: list[Test]) -> dict[str, str]:
    """metric -> "holds" / "fails (worse than x-y)" / "not tested" (an opponent's test is missing)."""
    out = {}
    for metric in METRICS:
        mine = [t for t in tests if t.metric == metric]
        worse = [t.other for t in mine if t.worse]
        if worse:
            out[metric] = f"fails (worse than {' and '.join(worse)})"
        else:
            out[metric] = "holds" if len(mine) == len(OPPONENTS) else "not tested"
    return out


def claim_section(sig: dict[str, Any], level: float = 0.05) -> str:
    """Per protocol, a table: each metric's verdict with hybrid minus x-x-mono and minus x-y (p), then a
    one-line summary. Empty if the run has no hybrid-vs-x-x-mono/x-y test yet."""
    parts = []
    for protocol, rows in sig.get("protocols", {}).items():
        tests = claim_tests(rows, level)
        if not tests:
            continue
        by = {(t.metric, t.other): t for t in tests}
        found = verdicts(tests)
        lines = [[label, found[metric], *(_cell(by.get((metric, other)), metric) for other in OPPONENTS)]
                 for metric, label in METRICS.items()]
        failed = [METRICS[m] for m, v in found.items() if v.startswith("fails")]
        summary = (f"The claim fails on {', '.join(failed)}." if failed
                   else "No part of the claim fails." if "not tested" not in found.values()
                   else "Not every part is tested yet.")
        parts += [f"**{benchmark_of(protocol)} ({protocol})**: {summary}", "",
                  table(["metric", "best of both?", *(f"hybrid − {o} (p)" for o in OPPONENTS)], lines), ""]
    if not parts:
        return ""
    head = (f"A part holds on a metric where hybrid is not significantly worse than x-x-mono or x-y "
            f"(Holm-Bonferroni over the 8 tests of a protocol, family-wise level {level:g}; a difference marked * "
            "is significant). A part that holds shows no significant loss, not equality.")
    return "\n".join([head, "", *parts])


def _cell(test: Test | None, metric: str) -> str:
    if test is None:
        return "n/a"
    return difference(test.difference, digits(metric, difference=True), test.p_value, test.rejected)


def best_of_three_tests(rows: list[dict[str, Any]], level: float = 0.05) -> dict[str, list[Test]]:
    """row -> its 4 tests against :data:`BEST_OF_THREE` (from the significance ``best_of_three`` records; x-y's
    3 against itself as p = 1), Holm within the row; rows missing a test are left out."""
    found: dict[str, list[Test]] = {}
    for row in dict.fromkeys(r["row"] for r in rows):
        mine = [r for r in rows if r["row"] == row and BEST_OF_THREE.get(r["metric"]) == r["other"]]
        # x-y is its own reference on 3 metrics: difference 0, p = 1, so that every row's family has the same
        # 4 hypotheses (a smaller family would make a row's one real test easier to call significant)
        mine += [{"metric": m, "other": row, "row_minus_other": 0.0, "p_value": 1.0}
                 for m, ref in BEST_OF_THREE.items() if ref == row]
        if len(mine) != len(BEST_OF_THREE):
            continue
        decisions = holm([r["p_value"] for r in mine], level)
        found[row] = [Test(r["metric"], r["other"], r["row_minus_other"], r["p_value"], d)
                      for r, d in zip(mine, decisions, strict=True)]
    return found


def blocking(tests: list[Test]) -> list[str]:
    """The metrics on which the row is significantly worse than its reference (empty: the goal is reached)."""
    return [METRICS[t.metric] for t in tests if t.worse]


def best_of_three_section(sig: dict[str, Any], level: float = 0.05) -> str:
    """Per protocol, every row's distance to the goal (difference, p) and what blocks it; empty without tests."""
    parts = []
    for protocol, records in sig.get("best_of_three", {}).items():
        by_row = best_of_three_tests(records, level)
        if not by_row:
            continue
        lines = []
        for row in row_order(by_row):
            tests = {t.metric: t for t in by_row[row]}
            blocked = blocking(by_row[row])
            multi = tests["multi/map"]
            above = multi.rejected and multi.difference > 0
            verdict = ("**reached**" + (" (above x-y on multi)" if above else "")
                       if not blocked else f"blocked by {', '.join(blocked)}")
            lines.append([row, *("(itself)" if tests[m].other == row else _cell(tests[m], m) for m in BEST_OF_THREE),
                          verdict])
        reached = [row for row in row_order(by_row) if not blocking(by_row[row])]
        fewest = min(len(blocking(tests)) for tests in by_row.values())
        closest = [row for row in row_order(by_row) if len(blocking(by_row[row])) == fewest]
        summary = (f"Reached by {', '.join(reached)}." if reached else
                   f"No row reaches it; closest ({fewest} blocking metric{'s' if fewest != 1 else ''}): "
                   f"{', '.join(closest)}.")
        head = ["row", *(f"{METRICS[m].split()[0]}: − {ref} (p)" for m, ref in BEST_OF_THREE.items()), "goal"]
        parts += [f"**{benchmark_of(protocol)} ({protocol})**: {summary}", "", table(head, lines), ""]
    if not parts:
        return ""
    head = ("A row reaches the goal if its mono mAP is not significantly below zero-shot's, its cross and multi mAP "
            "not significantly below x-y's and its rank distance not significantly above x-y's (Holm-Bonferroni over "
            "each row's 4 tests, "
            f"family-wise level {level:g}; * = significant).")
    return "\n".join([head, "", *parts])
