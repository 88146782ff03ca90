"""The grid: which cells exist, their ids, and bad selections."""

from __future__ import annotations

import pytest

from langmix.errors import LangmixError
from langmix.reproduce.grid import DEFAULT_ALPHAS, MAIN_ROWS, PROTOCOLS, build_grid, hybrid_label


def test_full_grid_counts_each_cell_once():
    seeds = [0, 1, 2]
    cells = build_grid(list(PROTOCOLS), list(MAIN_ROWS), seeds, list(DEFAULT_ALPHAS), sweep_seeds=1)
    ids = [c.id for c in cells]
    assert len(ids) == len(set(ids))
    trained_rows = [label for label, (strategy, _) in MAIN_ROWS.items() if strategy is not None]
    sweep_extra = [a for a in DEFAULT_ALPHAS if a != 0.5]  # alpha 0.5 is the hybrid row itself
    per_protocol = 1 + len(trained_rows) * len(seeds) + len(sweep_extra)
    assert len(cells) == len(PROTOCOLS) * per_protocol


def test_zero_shot_has_one_cell_and_sweep_uses_first_seeds():
    cells = build_grid(["xquad-to-mlqa"], ["zero-shot", "hybrid"], [5, 6, 7], [0.25, 0.5], sweep_seeds=2)
    by_label: dict[str, list[int]] = {}
    for c in cells:
        by_label.setdefault(c.label, []).append(c.seed)
    assert by_label == {"zero-shot": [5], "hybrid": [5, 6, 7], "hybrid-a0.25": [5, 6]}
    assert not next(c for c in cells if c.label == "zero-shot").trains


def test_hybrid_labels():
    assert hybrid_label(0.5) == "hybrid"
    assert hybrid_label("proportional") == "hybrid-proportional"
    assert hybrid_label(0.25) == "hybrid-a0.25"
    assert hybrid_label(1) == "hybrid-a1"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"protocols": ["nope"]},
        {"labels": ["x-z"]},
        {"seeds": []},
        {"seeds": [1, 1]},
        {"alphas": [1.5]},
        {"labels": []},
    ],
)
def test_bad_selection_is_one_line_error(kwargs):
    args = {"protocols": ["xquad-to-mlqa"], "labels": ["hybrid"], "seeds": [0], "alphas": [], **kwargs}
    with pytest.raises(LangmixError):
        build_grid(**args)
