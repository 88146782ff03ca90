"""The report renders from results.json alone: Table-1 shape, mean ± std over seeds, study numbers, figures;
significance from per-query files through the evaluation package's compare machinery."""

from __future__ import annotations

import json

import numpy as np
import pytest

from langmix.io import read_json, write_json
from langmix.reproduce.aggregate import group_cells, summarize
from langmix.reproduce.figures import dev_curve, plot_dev_curves, plot_heatmaps
from langmix.reproduce.report import finalize, render
from langmix.reproduce.study import STUDY_TABLE1
from langmix.training.run_folder import LOG_FILE

BENCH = "mlqa-r"
LANGS = ["de", "en"]
# (label, alpha or None, seed) -> (mono, cross, multi, rank distance): arbitrary distinct inputs
INPUTS = {
    ("zero-shot", None, 0): (0.50, 0.30, 0.20, 40.0),
    ("x-y", None, 0): (0.52, 0.41, 0.30, 20.0),
    ("x-y", None, 1): (0.54, 0.43, 0.34, 22.0),
    ("hybrid", 0.5, 0): (0.60, 0.44, 0.31, 18.0),
    ("hybrid", 0.5, 1): (0.62, 0.46, 0.35, 16.0),
    ("hybrid", 0.5, 2): (0.64, 0.42, 0.33, 17.0),
    ("hybrid-a0", 0.0, 0): (0.55, 0.45, 0.32, 19.0),
    ("hybrid-a1", 1.0, 0): (0.63, 0.35, 0.25, 30.0),
}
KEYS = ["mono/map", "cross/map", "multi/map", "rank_distance"]


def results_json() -> dict:
    cells = {}
    for (label, alpha, seed), values in INPUTS.items():
        cid = f"xquad-to-mlqa/{label}/seed{seed}"
        cells[cid] = {
            "id": cid,
            "protocol": "xquad-to-mlqa",
            "label": label,
            "alpha": alpha,
            "seed": seed,
            "strategy": None if label == "zero-shot" else ("x-y" if label == "x-y" else "hybrid"),
            "metrics": {f"{BENCH}/{k}": v for k, v in zip(KEYS, values, strict=True)},
            "pair_map": {x: {y: values[0] if x == y else values[1] for y in LANGS} for x in LANGS},
            "languages": LANGS,
            "train_seconds": 2.0,
            "eval_seconds": 1.0,
            "wall_seconds": 3.0 + seed,
            "effective_alpha": alpha,
            "train": {"steps": 4, "best_step": 4},
        }
    return {
        "settings": {"preset": "quick", "model": "m", "seeds": [0, 1, 2], "alphas": [0, 0.5, 1]},
        "protocols": {},
        "cells": cells,
    }


def test_table1_shows_mean_and_sample_std_over_seeds(tmp_path):
    write_json(tmp_path / "results.json", results_json())
    text = render(tmp_path).read_text(encoding="utf-8")
    table = text.split("## Table 1 (measured here)")[1].split("## The study's numbers")[0]
    hybrid_mono = [v[0] for (label, _, _), v in INPUTS.items() if label == "hybrid"]
    mean, std = np.mean(hybrid_mono), np.std(hybrid_mono, ddof=1)
    row = next(line for line in table.splitlines() if "| hybrid |" in line)
    assert f"| 3 | {mean:.3f} ± {std:.3f} |" in row
    zero = next(line for line in table.splitlines() if "| zero-shot |" in line)
    assert "| 1 | 0.500 |" in zero and "±" not in zero  # one seed: no std is invented
    assert table.index("| zero-shot |") < table.index("| x-y |") < table.index("| hybrid |")
    assert table.index("| hybrid |") < table.index("| hybrid-a0 |") < table.index("| hybrid-a1 |")
    # the study's numbers sit in their own, labelled section
    study = text.split("## The study's numbers (NOT measured here)")[1]
    assert f"{STUDY_TABLE1['mlqa-r']['LaBSE']['hybrid'][0]:.3f}" in study
    for name in ("metrics-xquad-to-mlqa.png", "heatmap-xquad-to-mlqa.png", "heatmap_gain-xquad-to-mlqa.png",
                 "alpha_curve-xquad-to-mlqa.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({name})" in text
    assert not (tmp_path / "dev_curves-xquad-to-mlqa.png").exists()  # no training logs, no dev figure


def test_the_cells_table_says_where_and_on_which_commit_each_cell_ran(tmp_path):
    results = results_json()
    cpu, gpu = results["cells"]["xquad-to-mlqa/x-y/seed0"], results["cells"]["xquad-to-mlqa/x-y/seed1"]
    cpu.update(device={"cpu": "Xeon", "cpu_threads": 2, "cuda": False}, commit="8e33fb4" + "0" * 33)
    gpu.update(device={"cpu": "EPYC", "cpu_threads": 16, "cuda": True, "gpu": "NVIDIA H200"}, commit="a" * 40)
    amx = next(c for c in results["cells"].values() if c not in (cpu, gpu))  # one model name, two kinds of Xeon
    amx.update(device={"cpu": "Xeon", "cpu_threads": 2, "cpu_bf16": "amx", "cuda": False}, commit="b" * 40)
    write_json(tmp_path / "results.json", results)
    lines = render(tmp_path).read_text(encoding="utf-8").splitlines()
    row = {cell: next(line for line in lines if line.startswith(f"| {cell} |")) for cell in (cpu["id"], gpu["id"])}
    assert row[cpu["id"]].endswith("| Xeon, 2 threads, `8e33fb4` |")
    assert row[gpu["id"]].endswith("| NVIDIA H200, `aaaaaaa` |")
    assert next(line for line in lines if line.startswith(f"| {amx['id']} |")).endswith(
        "| Xeon, 2 threads, bf16: amx, `bbbbbbb` |")
    n_other = len(results["cells"]) - 3  # the fixture's cells record no device
    ran_on = next(line for line in lines if line.startswith("- preset:")).split("ran on: ")[1]
    assert set(ran_on.split("; ")) == {"Xeon, 2 threads (1 cell)", "NVIDIA H200 (1 cell)",
                                       "Xeon, 2 threads, bf16: amx (1 cell)", f"not recorded ({n_other} cells)"}
    other = next(c for c in results["cells"] if c not in (cpu["id"], gpu["id"], amx["id"]))
    assert next(line for line in lines if line.startswith(f"| {other} |")).endswith("| not recorded, `?` |")


def test_dev_curves_come_from_the_cells_training_logs(tmp_path):
    results = results_json()
    for cell in results["cells"].values():
        cell["train"] = {"steps": 4, "best_step": 2, "selection_metric": "xquad-r/multi/map"}
    cid = "xquad-to-mlqa/hybrid/seed1"
    log = tmp_path / "cells" / cid / "train" / LOG_FILE
    log.parent.mkdir(parents=True)
    rows = [{"step": 1, "loss": 0.9}, {"event": "dev", "step": 2, "xquad-r/multi/map": 0.6},
            {"event": "dev", "step": 4, "xquad-r/multi/map": 0.55, "dev_loss": 0.3}]
    log.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert dev_curve(tmp_path, results["cells"][cid]) == ([2, 4], [0.6, 0.55], 2)
    assert dev_curve(tmp_path, results["cells"]["xquad-to-mlqa/hybrid/seed0"]) is None  # no log
    write_json(tmp_path / "results.json", results)
    text = render(tmp_path).read_text(encoding="utf-8")
    assert (tmp_path / "dev_curves-xquad-to-mlqa.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "](dev_curves-xquad-to-mlqa.png)" in text


def test_another_runs_dev_curves_are_drawn_dashed_beside_this_runs(tmp_path):
    """--compare-with: a longer budget's curves (solid) beside a shorter one's (dashed), row by row."""
    for name, steps in (("long", [100, 200, 300]), ("short", [50, 100])):
        results = results_json()
        for cell in results["cells"].values():
            cell["train"] = {"steps": steps[-1], "best_step": steps[0], "selection_metric": "xquad-r/multi/map"}
        log = tmp_path / name / "cells" / "xquad-to-mlqa/hybrid/seed0" / "train" / LOG_FILE
        log.parent.mkdir(parents=True)
        log.write_text("".join(json.dumps({"event": "dev", "step": s, "xquad-r/multi/map": 0.5}) + "\n"
                               for s in steps), encoding="utf-8")
        write_json(tmp_path / name / "results.json", results)
    rows = group_cells(read_json(tmp_path / "long" / "results.json"))["xquad-to-mlqa"]
    other = group_cells(read_json(tmp_path / "short" / "results.json"))["xquad-to-mlqa"]
    fig = plot_dev_curves("xquad-to-mlqa", rows, tmp_path / "long", ("short", tmp_path / "short", other))
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert lines["hybrid (1)"].get_linestyle() == "-" and list(lines["hybrid (1)"].get_xdata()) == [100, 200, 300]
    assert lines["hybrid (1, short)"].get_linestyle() == "--"
    assert list(lines["hybrid (1, short)"].get_xdata()) == [50, 100]
    assert "dashed: short" in fig.axes[0].get_title()
    finalize(tmp_path / "long", compare_with=tmp_path / "short")  # kept for later reports
    assert read_json(tmp_path / "long" / "results.json")["settings"]["compare_with"] == str(tmp_path / "short")


def test_the_report_sets_each_row_beside_the_compared_runs_and_says_where_the_order_changed(tmp_path):
    """compare_with: seed means here / there, the selected steps, and the trained rows' order per metric."""
    short, long = results_json(), results_json()
    for run in (short, long):
        run["cells"]["xquad-to-mlqa/zero-shot/seed0"].pop("train")  # trains nothing
    write_json(tmp_path / "short" / "results.json", short)
    long["cells"] = {cid: cell for cid, cell in long["cells"].items() if cell["seed"] == 0}
    long["cells"]["xquad-to-mlqa/x-y/seed0"]["metrics"]["mlqa-r/cross/map"] = 0.50  # x-y now leads on cross
    long["cells"]["xquad-to-mlqa/x-y/seed0"]["train"] = {"steps": 800, "best_step": 300}
    long["settings"]["compare_with"] = str(tmp_path / "short")
    write_json(tmp_path / "long" / "results.json", long)
    text = render(tmp_path / "long").read_text(encoding="utf-8")
    section = text.split(f"## Against {tmp_path / 'short'}")[1].split("## Figures")[0]
    xy_there = np.mean([v[1] for (label, _, _), v in INPUTS.items() if label == "x-y"])
    assert f"| x-y | 300/800 | 4/4, 4/4 | 0.520 / 0.530 | 0.500 / {xy_there:.3f} |" in section
    hybrid_there = np.mean([v[1] for (label, _, _), v in INPUTS.items() if label == "hybrid"])
    assert f"| hybrid | 4/4 | 4/4, 4/4, 4/4 | 0.600 / 0.620 | 0.440 / {hybrid_there:.3f} |" in section
    assert "| zero-shot | - | - |" in section
    # cross: here x-y 0.50 > hybrid-a0 0.45 > hybrid 0.44 > hybrid-a1; there hybrid-a0 0.45 > hybrid 0.44 > x-y 0.42
    assert "- cross mAP: here x-y > hybrid-a0 > hybrid > hybrid-a1; there hybrid-a0 > hybrid > x-y > hybrid-a1 " \
           "(**order changed**)" in section
    assert "- rank distance: here hybrid > hybrid-a0 > x-y > hybrid-a1" in section  # lower is better: first
    del long["settings"]["compare_with"]
    write_json(tmp_path / "long" / "results.json", long)
    assert "## Against" not in render(tmp_path / "long").read_text(encoding="utf-8")


def test_gain_heatmaps_show_each_rows_pair_map_minus_zero_shot_on_a_centred_scale():
    rows = group_cells(results_json())["xquad-to-mlqa"]
    fig = plot_heatmaps("xquad-to-mlqa", rows, minus="zero-shot")
    panels = {ax.get_title(): ax.images[0] for ax in fig.axes if ax.images}
    assert list(panels) == ["x-y", "hybrid"]  # main rows only, the baseline itself left out
    # x-y: seeds 0 and 1 (mono .52/.54, cross .41/.43) minus zero-shot (mono .50, cross .30)
    np.testing.assert_allclose(panels["x-y"].get_array(), [[0.03, 0.12], [0.12, 0.03]], atol=1e-12)
    low, high = panels["hybrid"].get_clim()
    assert low == -high and high == pytest.approx(0.14)  # the largest gain: hybrid cross .44 mean - .30


def test_summarize_one_seed_has_no_std():
    mean, std, n = summarize([{"metrics": {"k": 0.25}}], "k")
    assert (mean, n) == (0.25, 1) and np.isnan(std)


def test_significance_from_per_query_files(tmp_path):
    results = results_json()
    results["settings"]["n_resamples"] = 2000
    rng = np.random.default_rng(0)
    units = [f"en:q{i}" for i in range(40)]
    base = rng.uniform(0.2, 0.6, len(units))
    for cid, cell in results["cells"].items():
        # hybrid clearly above every other row on mono; identical to x-y elsewhere
        shift = 0.3 if cell["label"] == "hybrid" else 0.0
        per_query = {f"{BENCH}/mono/map": dict(zip(units, base + shift, strict=True))}
        per_query.update({f"{BENCH}/{k}": dict(zip(units, base, strict=True)) for k in KEYS[1:]})
        write_json(tmp_path / "cells" / cid / "eval" / "per_query.json", per_query)
    write_json(tmp_path / "results.json", results)
    finalize(tmp_path)
    sig = read_json(tmp_path / "results.json")["significance"]["protocols"]["xquad-to-mlqa"]
    mono = {r["other"]: r for r in sig if r["metric"] == "mono/map"}
    assert set(mono) == {"zero-shot", "x-y", "hybrid-a0", "hybrid-a1"}
    assert all(r["p_value"] < 0.01 and abs(r["hybrid_minus_other"] - 0.3) < 1e-9 for r in mono.values())
    assert all(r["p_value"] == 1.0 for r in sig if r["metric"] != "mono/map")
    assert all(r["n_units"] == len(units) for r in sig)
    assert "hybrid vs" in (tmp_path / "report.md").read_text(encoding="utf-8")


def test_x_y_is_tested_against_x_x_mono_beside_hybrids_tests(tmp_path):
    """The pair that says how much mono mAP hybrid could win back: x-y minus x-x-mono, seed-averaged per query."""
    results = results_json()
    results["settings"]["n_resamples"] = 2000
    for seed in (0, 1):
        cid = f"xquad-to-mlqa/x-x-mono/seed{seed}"
        results["cells"][cid] = {**results["cells"][f"xquad-to-mlqa/x-y/seed{seed}"], "id": cid, "label": "x-x-mono",
                                 "strategy": "x-x-mono"}
    units = [f"en:q{i}" for i in range(40)]
    base = np.random.default_rng(2).uniform(0.2, 0.6, len(units))
    for cid, cell in results["cells"].items():
        # x-y seed k is x-x-mono + 0.1 + 0.02 k on cross: the pair's difference is the seeds' mean, 0.11
        gain = 0.1 + 0.02 * cell["seed"] if cell["label"] == "x-y" else 0.0
        per_query = {f"{BENCH}/{k}": dict(zip(units, base + (gain if k == "cross/map" else 0.0), strict=True))
                     for k in KEYS}
        write_json(tmp_path / "cells" / cid / "eval" / "per_query.json", per_query)
    write_json(tmp_path / "results.json", results)
    finalize(tmp_path)
    pairs = {r["metric"]: r for r in read_json(tmp_path / "results.json")["significance"]["pairs"]["xquad-to-mlqa"]}
    assert set(pairs) == set(KEYS) and {(r["row"], r["other"]) for r in pairs.values()} == {("x-y", "x-x-mono")}
    assert pairs["cross/map"]["row_minus_other"] == pytest.approx(0.11) and pairs["cross/map"]["p_value"] < 0.01
    assert pairs["mono/map"]["row_minus_other"] == 0.0 and pairs["mono/map"]["p_value"] == 1.0
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| x-y vs x-x-mono | +0.0000 (p=1) | +0.1100 (p=" in text


def test_debiased_rows_and_gzipped_per_query_files(tmp_path):
    """A cell re-scored after LIR appears as its own row (``hybrid + lir:1``) in Table 1 and the significance
    tests; per-query files may be gzip-compressed (how reproduce cells keep them)."""
    from langmix.io import gzip_file

    results = results_json()
    results["settings"]["n_resamples"] = 500
    units = [f"en:q{i}" for i in range(30)]
    base = np.random.default_rng(1).uniform(0.2, 0.6, len(units))
    for cid, cell in results["cells"].items():
        folders = {"eval": 0.0}
        if cell["label"] == "hybrid":
            debiased = {k: v + 0.01 for k, v in cell["metrics"].items()}
            cell["debiased"] = {"lir:1": {"metrics": debiased, "pair_map": cell["pair_map"], "languages": LANGS}}
            folders["eval-lir-1"] = 0.2
        for folder, shift in folders.items():
            per_query = {f"{BENCH}/{k}": dict(zip(units, base + shift, strict=True)) for k in KEYS}
            write_json(tmp_path / "cells" / cid / folder / "per_query.json", per_query)
            gzip_file(tmp_path / "cells" / cid / folder / "per_query.json")
    write_json(tmp_path / "results.json", results)
    finalize(tmp_path)
    saved = read_json(tmp_path / "results.json")
    sig = saved["significance"]["protocols"]["xquad-to-mlqa"]
    lir = {r["metric"]: r for r in sig if r["other"] == "hybrid + lir:1"}
    assert abs(lir["mono/map"]["hybrid_minus_other"] + 0.2) < 1e-9 and lir["mono/map"]["p_value"] < 0.01
    table = (tmp_path / "report.md").read_text(encoding="utf-8").split("## Table 1 (measured here)")[1]
    hybrid_mono = np.mean([v[0] + 0.01 for (label, _, _), v in INPUTS.items() if label == "hybrid"])
    row = next(line for line in table.splitlines() if "| hybrid + lir:1 |" in line)
    assert f"| 3 | {hybrid_mono:.3f} ±" in row
    assert table.index("| hybrid |") < table.index("| hybrid + lir:1 |") < table.index("| hybrid-a0 |")


def test_an_unfinished_grid_is_marked_in_progress_and_the_selection_rule_is_the_runs(tmp_path):
    results = results_json()
    results["grid"] = [*results["cells"], "xquad-to-mlqa/x-x-mono/seed0"]
    results["settings"]["train"] = {"data": {"dev_benchmark": "xquad-r"}}
    write_json(tmp_path / "results.json", results)
    text = render(tmp_path).read_text(encoding="utf-8")
    assert f"**In progress: {len(INPUTS)} of {len(INPUTS) + 1} cells done.**" in text
    assert "dev multi mAP of held-out training questions (`data.dev_benchmark: xquad-r`)" in text
    assert "InfoNCE loss on a dev split" not in text
    results["grid"] = list(results["cells"])
    del results["settings"]["train"]
    write_json(tmp_path / "results.json", results)
    text = render(tmp_path).read_text(encoding="utf-8")
    assert "In progress" not in text and "InfoNCE loss on a dev split" in text


def test_readme_results_block_is_rendered_from_the_run_and_stale_blocks_are_named(tmp_path):
    """The README's lead table is a block rendered from results.json: sync writes it, a changed result makes it
    stale, and the block shows hybrid against x-y only (the only other main row of these inputs)."""
    from langmix.reproduce.readme import stale_blocks, sync

    results = results_json()
    results["significance"] = {
        "test": "t", "n_resamples": 10, "unit_scores": "s",
        "protocols": {"xquad-to-mlqa": [
            {"other": other, "metric": m, "hybrid_minus_other": 0.01, "p_value": 0.5, "n_units": 7}
            for other in ("zero-shot", "x-y", "hybrid-a0") for m in KEYS
        ]},
    }
    write_json(tmp_path / "run" / "results.json", results)
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- langmix:results run -->\nold\n<!-- /langmix:results -->\nend\n", encoding="utf-8")
    assert stale_blocks(readme) == ["run"]
    assert sync(readme) == 1 and stale_blocks(readme) == []
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("intro\n") and text.endswith("<!-- /langmix:results -->\nend\n") and "\nold\n" not in text
    hybrid_multi = np.mean([v[2] for (label, _, _), v in INPUTS.items() if label == "hybrid"])
    assert "| hybrid | 3 | " in text and f"{hybrid_multi:.3f} ±" in text and "wall s" not in text
    assert "| x-y | +0.0100 (p=0.5) |" in text and "| zero-shot | +0.0100" not in text
    assert "![" not in text  # no figure in the run folder, no image
    render(tmp_path / "run")  # writes metrics-xquad-to-mlqa.png beside results.json
    assert stale_blocks(readme) == ["run"] and sync(readme) == 1
    assert "![metrics-xquad-to-mlqa](run/metrics-xquad-to-mlqa.png)" in readme.read_text(encoding="utf-8")
    results["cells"]["xquad-to-mlqa/hybrid/seed2"]["metrics"][f"{BENCH}/multi/map"] = 0.99
    write_json(tmp_path / "run" / "results.json", results)
    assert stale_blocks(readme) == ["run"]


def test_the_readme_lead_table_equals_the_committed_medium_run():
    """README.md's results blocks are the rendering of the committed results.json they name."""
    from pathlib import Path

    from langmix.reproduce.readme import stale_blocks

    readme = Path(__file__).resolve().parents[2] / "README.md"
    assert "<!-- langmix:results results/medium-cpu -->" in readme.read_text(encoding="utf-8")
    assert stale_blocks(readme) == [], "run python scripts/readme-results.py"
