"""The study's claim checked part by part: Holm's step-down, the direction of each metric, missing tests; and the
"best of all three" goal checked row by row."""

from __future__ import annotations

import numpy as np
import pytest

from langmix.reproduce.aggregate import digits
from langmix.reproduce.claim import (
    best_of_three_section,
    best_of_three_tests,
    blocking,
    claim_section,
    claim_tests,
    holm,
    verdicts,
)
from langmix.reproduce.markdown_report import significance_table


def test_holm_steps_down_and_stops_at_the_first_kept_hypothesis():
    # sorted: .005 <= .05/4, .01 <= .05/3, .03 > .05/2 -> stop (so .04 is kept although .04 <= .05/1)
    assert holm([0.01, 0.04, 0.03, 0.005], 0.05) == [True, False, False, True]
    assert holm([0.2, 0.3], 0.05) == [False, False]
    assert holm([], 0.05) == []


def test_holm_matches_the_adjusted_p_value_definition():
    """Holm rejects exactly where the adjusted p-value max_{j<=k} (m - j + 1) p_(j) is <= level."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        p = list(rng.uniform(0, 0.08, size=int(rng.integers(1, 9))))
        order = np.argsort(p)
        scaled = [(len(p) - k) * p[i] for k, i in enumerate(order)]
        adjusted = np.empty(len(p))
        adjusted[order] = np.maximum.accumulate(scaled)
        assert holm(p, 0.05) == list(adjusted <= 0.05)


def row(metric: str, other: str, diff: float, p: float) -> dict:
    return {"metric": metric, "other": other, "hybrid_minus_other": diff, "p_value": p, "n_units": 10}


ROWS = [
    row("mono/map", "x-x-mono", -0.004, 0.30),  # worse but not significant: holds
    row("mono/map", "x-y", +0.010, 0.0001),
    row("cross/map", "x-x-mono", +0.020, 0.0001),
    row("cross/map", "x-y", -0.008, 0.0001),  # significantly worse: fails
    row("multi/map", "x-x-mono", +0.020, 0.0001),
    row("multi/map", "x-y", +0.001, 0.60),
    row("rank_distance", "x-x-mono", -50.0, 0.0001),  # lower is better: hybrid better
    row("rank_distance", "x-y", +9.0, 0.001),  # higher rank distance, significant: fails
    row("multi/map", "en-en", -0.2, 0.0001),  # not an opponent of the claim: ignored
]


def test_a_part_fails_only_where_hybrid_is_significantly_worse_in_that_metrics_direction():
    tests = claim_tests(ROWS)
    assert len(tests) == 8 and all(t.other in ("x-x-mono", "x-y") for t in tests)
    assert verdicts(tests) == {
        "mono/map": "holds",
        "cross/map": "fails (worse than x-y)",
        "multi/map": "holds",
        "rank_distance": "fails (worse than x-y)",
    }


def test_a_metric_with_a_missing_opponent_is_not_tested():
    tests = claim_tests([r for r in ROWS if not (r["metric"] == "mono/map" and r["other"] == "x-y")])
    assert verdicts(tests)["mono/map"] == "not tested"


@pytest.mark.parametrize("p", [0.001, 0.02])
def test_the_correction_decides_a_borderline_loss(p):
    """One loss at p among 8 tests: Holm's first threshold is 0.05 / 8 = 0.00625."""
    rows = [row(m, o, -0.01 if (m, o) == ("cross/map", "x-y") else 0.01, p if (m, o) == ("cross/map", "x-y")
                else 0.5) for m in ("mono/map", "cross/map", "multi/map", "rank_distance") for o in ("x-x-mono", "x-y")]
    failed = verdicts(claim_tests(rows))["cross/map"].startswith("fails")
    assert failed == (p < 0.05 / 8)


def test_the_section_names_the_failed_parts_per_protocol():
    text = claim_section({"protocols": {"xquad-to-mlqa": ROWS}})
    assert "**mlqa-r (xquad-to-mlqa)**: The claim fails on cross mAP, rank distance." in text
    assert "| cross mAP | fails (worse than x-y) | +0.0200* (p=0.0001) | -0.0080* (p=0.0001) |" in text
    assert "| mono mAP | holds | -0.0040 (p=0.3) | +0.0100* (p=0.0001) |" in text
    assert claim_section({"protocols": {}}) == ""


def test_the_claim_and_the_significance_table_print_a_tested_difference_alike():
    """One record, two tables: same digits per metric (4 for an mAP difference, 1 for rank distance) and the same
    three-significant-digit p-value, so a reader can match them; only the claim marks Holm's decision with *."""
    rows = [row("mono/map", "x-x-mono", -0.00421, 0.02547), row("rank_distance", "x-y", 8.26, 0.0754)]
    claim = claim_section({"protocols": {"xquad-to-mlqa": rows}})
    report = significance_table({"protocols": {"xquad-to-mlqa": rows}, "test": "t", "n_resamples": 1,
                                 "unit_scores": "s"})
    for cell in ("-0.0042 (p=0.0255)", "+8.3 (p=0.0754)"):
        assert cell in claim and cell in report
    assert digits("mono/map") == 3 and digits("rank_distance", difference=True) == 1


def vs(row_label: str, metric: str, other: str, diff: float, p: float) -> dict:
    return {"row": row_label, "metric": metric, "other": other, "row_minus_other": diff, "p_value": p, "n_units": 10}


BEST = [
    # a recipe: mono slightly below zero-shot (not significant), multi significantly above x-y: reaches the goal
    vs("x-y + wise-ft", "mono/map", "zero-shot", -0.002, 0.40), vs("x-y + wise-ft", "cross/map", "x-y", +0.01, 0.001),
    vs("x-y + wise-ft", "multi/map", "x-y", +0.012, 0.0002), vs("x-y + wise-ft", "rank_distance", "x-y", -3.0, 0.5),
    vs("x-y + wise-ft", "mono/map", "x-y", +0.02, 0.0002),  # not part of the goal: ignored
    # hybrid: rank distance significantly higher than x-y's (lower is better): blocked there only
    vs("hybrid", "mono/map", "zero-shot", -0.007, 0.07), vs("hybrid", "cross/map", "x-y", -0.001, 0.30),
    vs("hybrid", "multi/map", "x-y", +0.001, 0.6), vs("hybrid", "rank_distance", "x-y", +20.0, 0.0002),
    # x-y is its own reference for cross, multi and rank distance: one real test, in a family of 4 like every row
    vs("x-y", "mono/map", "zero-shot", -0.007, 0.0002),
    vs("x-x-mono", "mono/map", "zero-shot", -0.006, 0.015), vs("x-x-mono", "cross/map", "x-y", 0.0, 1.0),
    vs("x-x-mono", "multi/map", "x-y", 0.0, 1.0), vs("x-x-mono", "rank_distance", "x-y", 0.0, 1.0),
    # a row missing a test is left out
    vs("x-x", "mono/map", "zero-shot", -0.02, 0.0002),
]


def test_best_of_three_blocks_a_row_only_where_it_is_significantly_worse_than_its_reference():
    by_row = best_of_three_tests(BEST)
    assert sorted(by_row) == ["hybrid", "x-x-mono", "x-y", "x-y + wise-ft"]
    assert len(by_row["x-y"]) == 4 and blocking(by_row["x-x-mono"]) == []  # p = 0.015 > 0.05 / 4
    assert blocking(by_row["x-y + wise-ft"]) == []
    assert blocking(by_row["hybrid"]) == ["rank distance"]
    assert blocking(by_row["x-y"]) == ["mono mAP"]


def test_best_of_three_section_names_who_reaches_the_goal_and_the_stretch():
    text = best_of_three_section({"best_of_three": {"xquad-to-mlqa": BEST}})
    assert "**mlqa-r (xquad-to-mlqa)**: Reached by x-x-mono, x-y + wise-ft." in text
    assert "| x-y + wise-ft | -0.0020 (p=0.4) | +0.0100* (p=0.001) | +0.0120* (p=0.0002) | -3.0 (p=0.5) | " \
           "**reached** (above x-y on multi) |" in text
    assert "| x-y | -0.0070* (p=0.0002) | (itself) | (itself) | (itself) | blocked by mono mAP |" in text
    x_y_alike = [vs("x-y", "mono/map", "zero-shot", -0.007, 0.015)]  # the same p: the same verdict as x-x-mono's
    assert blocking(best_of_three_tests(x_y_alike)["x-y"]) == []
    without = best_of_three_section({"best_of_three": {"xquad-to-mlqa": BEST[5:10]}})
    assert "No row reaches it; closest (1 blocking metric): x-y, hybrid." in without
