"""Resumability: finished cells are never rerun; a killed run keeps every finished cell."""

from __future__ import annotations

import pytest

from langmix.errors import LangmixError
from langmix.io import read_json
from langmix.reproduce import runner
from langmix.reproduce.data import ProtocolData
from langmix.reproduce.settings import make_settings


class Killed(Exception):
    pass


@pytest.fixture
def fake_cells(monkeypatch, tmp_path):
    """Replace data preparation and cell execution; record which cells ran; optionally die at cell k."""
    ran: list[str] = []
    state = {"die_at": None}

    def fake_prepare(protocol, folder, *args, **kw):
        return ProtocolData(folder / "train.jsonl", benchmark=None, info={"test": protocol.test})

    def fake_run_cell(cell, settings, data, out, zero_shot_model):
        if state["die_at"] is not None and len(ran) == state["die_at"]:
            raise Killed(cell.id)
        ran.append(cell.id)
        return {
            "id": cell.id,
            "protocol": cell.protocol,
            "label": cell.label,
            "seed": cell.seed,
            "metrics": {"mlqa-r/multi/map": 0.5},
            "languages": ["de"],
            "pair_map": {"de": {"de": 0.5}},
            "train_seconds": 0.5,
            "eval_seconds": 0.5,
            "wall_seconds": 1.0,
        }

    monkeypatch.setattr(runner, "prepare_protocol", fake_prepare)
    monkeypatch.setattr(runner, "run_cell", fake_run_cell)
    return ran, state


def settings(**kw):
    base = {
        "protocols": ["xquad-to-mlqa"],
        "strategies": ["zero-shot", "x-y", "hybrid"],
        "seeds": [0, 1],
        "alphas": [],
    }
    return make_settings("quick", **{**base, **kw})


def test_killed_run_keeps_finished_cells_and_resumes_the_rest(fake_cells, tmp_path):
    ran, state = fake_cells
    state["die_at"] = 2
    with pytest.raises(Killed):
        runner.run_reproduce(settings(), tmp_path, report=False)
    saved = read_json(tmp_path / "results.json")
    assert list(saved["cells"]) == ran == ["xquad-to-mlqa/zero-shot/seed0", "xquad-to-mlqa/x-y/seed0"]

    state["die_at"] = None
    ran.clear()
    results = runner.run_reproduce(settings(), tmp_path, report=False)
    assert ran == ["xquad-to-mlqa/x-y/seed1", "xquad-to-mlqa/hybrid/seed0", "xquad-to-mlqa/hybrid/seed1"]
    assert len(results["cells"]) == 5
    assert [i["cells_run"] for i in results["invocations"]] == [3]  # the killed invocation recorded none

    ran.clear()
    runner.run_reproduce(settings(), tmp_path, report=False)
    assert ran == []  # everything finished: nothing reruns


def test_grid_can_grow_but_settings_cannot_change(fake_cells, tmp_path):
    ran, _ = fake_cells
    runner.run_reproduce(settings(seeds=[0]), tmp_path, report=False)
    ran.clear()
    runner.run_reproduce(settings(seeds=[0, 1]), tmp_path, report=False)
    assert ran == ["xquad-to-mlqa/x-y/seed1", "xquad-to-mlqa/hybrid/seed1"]
    with pytest.raises(LangmixError, match="other settings"):
        runner.run_reproduce(settings(test_questions=7), tmp_path, report=False)


def test_a_narrower_invocation_runs_its_part_first_and_the_report_still_counts_the_whole_grid(fake_cells, tmp_path):
    ran, state = fake_cells
    state["die_at"] = 1
    with pytest.raises(Killed):
        runner.run_reproduce(settings(), tmp_path)
    state["die_at"] = None
    ran.clear()
    runner.run_reproduce(settings(strategies=["hybrid"]), tmp_path)
    assert ran == ["xquad-to-mlqa/hybrid/seed0", "xquad-to-mlqa/hybrid/seed1"]
    assert len(read_json(tmp_path / "results.json")["grid"]) == 5
    assert "**In progress: 3 of 5 cells done.**" in (tmp_path / "report.md").read_text(encoding="utf-8")
    ran.clear()
    runner.run_reproduce(settings(), tmp_path)
    assert ran == ["xquad-to-mlqa/x-y/seed0", "xquad-to-mlqa/x-y/seed1"]
    assert "In progress" not in (tmp_path / "report.md").read_text(encoding="utf-8")


def test_cell_config_sets_strategy_alpha_seed_and_corpus(tmp_path):
    from langmix.reproduce.grid import build_grid

    s = settings()
    cell = next(c for c in build_grid(["xquad-to-mlqa"], ["hybrid-proportional"], [3]) if c.trains)
    config = runner.cell_train_config(s.train_config(), cell, tmp_path / "train.jsonl")
    assert (config.data.strategy, config.data.alpha, config.seed) == ("hybrid", "proportional", 3)
    assert config.data.corpus == [f"jsonl:{(tmp_path / 'train.jsonl').resolve()}"]
    assert s.train_config().data.strategy == "hybrid" and s.train_config().seed == 0  # shared base untouched


def test_a_killed_run_leaves_a_report_marked_in_progress(fake_cells, tmp_path):
    ran, state = fake_cells
    state["die_at"] = 2
    with pytest.raises(Killed):
        runner.run_reproduce(settings(), tmp_path)
    assert "**In progress: 2 of 5 cells done.**" in (tmp_path / "report.md").read_text(encoding="utf-8")
    state["die_at"] = None
    runner.run_reproduce(settings(), tmp_path)
    assert "In progress" not in (tmp_path / "report.md").read_text(encoding="utf-8")
