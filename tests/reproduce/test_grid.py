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


def test_row_seeds_and_seed_major_order():
    cells = build_grid(["xquad-to-mlqa", "mlqa-to-xquad"], ["zero-shot", "en-en", "hybrid"], [0, 1, 2],
                       row_seeds={"en-en": 1}, seed_major=True)
    assert [c.id for c in cells] == [
        "xquad-to-mlqa/zero-shot/seed0", "xquad-to-mlqa/en-en/seed0", "xquad-to-mlqa/hybrid/seed0",
        "mlqa-to-xquad/zero-shot/seed0", "mlqa-to-xquad/en-en/seed0", "mlqa-to-xquad/hybrid/seed0",
        "xquad-to-mlqa/hybrid/seed1", "mlqa-to-xquad/hybrid/seed1",
        "xquad-to-mlqa/hybrid/seed2", "mlqa-to-xquad/hybrid/seed2",
    ]


def test_medium_config_has_the_issue_grid():
    """configs/reproduce-medium.yaml: 3 seeds for x-x-mono, x-y and hybrid, 1 for the baselines, both protocols,
    whole test sets, LIR rows for zero-shot and hybrid."""
    from pathlib import Path

    from langmix.reproduce.settings import make_settings

    settings = make_settings("full", Path(__file__).parents[2] / "configs" / "reproduce-medium.yaml")
    cells = build_grid(settings.protocols, settings.strategies, settings.seeds, settings.alphas,
                       settings.sweep_seeds, settings.row_seeds, settings.seed_major)
    seeds: dict[tuple[str, str], int] = {}
    for c in cells:
        seeds[c.protocol, c.label] = seeds.get((c.protocol, c.label), 0) + 1
    for protocol in ("xquad-to-mlqa", "mlqa-to-xquad"):
        assert {label: seeds[protocol, label] for label in MAIN_ROWS} == {
            "zero-shot": 1, "en-en": 1, "x-x": 1, "x-x-mono": 3, "x-y": 3, "hybrid": 3, "hybrid-proportional": 1}
    assert settings.test_questions is None and settings.train_config().max_steps >= 200
    assert settings.train_config().batch_size >= 32 and settings.debias and "hybrid" in settings.debias_rows


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
        {"row_seeds": {"nope": 1}},
        {"row_seeds": {"hybrid": 0}},
    ],
)
def test_bad_selection_is_one_line_error(kwargs):
    args = {"protocols": ["xquad-to-mlqa"], "labels": ["hybrid"], "seeds": [0], "alphas": [], **kwargs}
    with pytest.raises(LangmixError):
        build_grid(**args)
