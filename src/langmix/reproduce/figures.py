"""The figures of a reproduce report, per protocol (PNG): the four metrics of every row, the dev curves of the
trained rows, the alpha curve and the language-pair mAP heatmaps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from langmix.io import read_json
from langmix.plotting import pyplot, save_png
from langmix.reproduce.aggregate import (
    LOWER_IS_BETTER,
    METRICS,
    alpha_points,
    benchmark_of,
    group_cells,
    row_order,
    summarize,
)
from langmix.reproduce.grid import HYBRID_LABEL, MAIN_ROWS
from langmix.training.run_folder import LOG_FILE, read_log

ZERO_SHOT = "zero-shot"


def _save(fig, path: Path) -> None:
    save_png(fig, path, dpi=110)


def plot_alpha_curve(protocol: str, rows: dict[str, list[dict[str, Any]]]):
    """Four panels (mono, cross, multi mAP, rank distance) against alpha; error bars = std over seeds;
    the proportional row, if present, is drawn at its effective alpha as a diamond."""
    plt = pyplot()
    bench = benchmark_of(protocol)
    points = alpha_points(rows)
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.4))
    for ax, (metric, name) in zip(axes, METRICS.items(), strict=True):
        stats = [summarize(records, f"{bench}/{metric}") for _, records in points]
        ax.errorbar(
            [a for a, _ in points],
            [s[0] for s in stats],
            yerr=[0 if np.isnan(s[1]) else s[1] for s in stats],
            marker="o",
            capsize=3,
            label="hybrid(alpha)",
        )
        prop = rows.get("hybrid-proportional")
        if prop and prop[0].get("effective_alpha") is not None:
            mean, _, _ = summarize(prop, f"{bench}/{metric}")
            ax.plot([prop[0]["effective_alpha"]], [mean], "D", color="C3", label="proportional")
        ax.set_xlabel("alpha (share of x-x-mono batches)")
        ax.set_title(name)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{bench} ({protocol}): metrics against hybrid alpha")
    fig.tight_layout()
    return fig


def _style(label: str) -> dict[str, Any]:
    """One colour per strategy in every figure; an alpha-sweep row dotted and a debiased row hatched in
    hybrid's / its strategy's colour."""
    base = label.split(" + ", 1)[0]
    names = list(MAIN_ROWS)
    color = f"C{names.index(base if base in names else HYBRID_LABEL) % 10}"
    return {"color": color, "hatch": "//" if " + " in label else (None if base in names else "..")}


def plot_metrics(protocol: str, rows: dict[str, list[dict[str, Any]]]):
    """The headline picture: one panel per metric, a bar per row (mean over seeds), each seed a dot, error
    bar = std over seeds; zero-shot's value as a dashed line to read every row's gain against."""
    plt = pyplot()
    bench, labels = benchmark_of(protocol), row_order(rows)
    fig, axes = plt.subplots(1, 4, figsize=(max(12.0, 1.9 * len(labels)), 4.2))
    for ax, (metric, name) in zip(axes, METRICS.items(), strict=True):
        key = f"{bench}/{metric}"
        stats = [summarize(rows[label], key) for label in labels]
        x = np.arange(len(labels))
        bars = ax.bar(x, [m for m, _, _ in stats], yerr=[0 if np.isnan(sd) else sd for _, sd, _ in stats],
                      capsize=3, alpha=0.75, edgecolor="white")
        for bar, label in zip(bars, labels, strict=True):
            style = _style(label)
            bar.set_facecolor(style["color"])
            bar.set_hatch(style["hatch"])
        for i, label in enumerate(labels):
            seeds = [r["metrics"][key] for r in rows[label] if r["metrics"].get(key) is not None]
            ax.plot([i] * len(seeds), seeds, "k.", markersize=4)
        if ZERO_SHOT in rows:
            ax.axhline(summarize(rows[ZERO_SHOT], key)[0], color="grey", linestyle="--", linewidth=1)
        _zoom(ax, [m for m, _, _ in stats])
        ax.set_xticks(x, labels, rotation=60, ha="right", fontsize=8)
        ax.set_title(f"{name} (lower = less bias)" if metric in LOWER_IS_BETTER else name, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(f"{bench} ({protocol}): mean over seeds, dots = seeds, dashed = zero-shot")
    fig.tight_layout()
    return fig


def _zoom(ax, values: list[float]) -> None:
    """Start the y axis near the smallest bar, so that differences of a few points show."""
    finite = [v for v in values if not np.isnan(v)]
    if finite:
        low, high = min(finite), max(finite)
        span = (high - low) or 0.1 * abs(high)
        ax.set_ylim(max(0.0, low - 0.5 * span), None)


def plot_dev_curves(protocol: str, rows: dict[str, list[dict[str, Any]]], out: Path,
                    other: tuple[str, Path, dict[str, list[dict[str, Any]]]] | None = None):
    """The model-selection metric on dev data against the training step, per trained row: each seed a thin
    line with its chosen step starred, the mean over seeds thick. A curve still rising at its last step says
    the budget, not the criterion, ended training. ``other`` = (name, folder, rows) of another run (say a
    shorter budget) drawn dashed beside it, row by row. None when no cell has a training log."""
    curves = _dev_curves(rows, out)
    if not curves:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    _draw_dev_curves(ax, curves, "-", "")
    if other is not None:
        name, folder, other_rows = other
        _draw_dev_curves(ax, {k: v for k, v in _dev_curves(other_rows, folder).items() if k in curves}, "--",
                         f", {name}")
    metric = rows[next(iter(curves))][0]["train"]["selection_metric"]
    ax.set_xlabel("training step")
    ax.set_ylabel(f"dev {metric}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, title="row (seeds)", title_fontsize=8)
    versus = f"; dashed: {other[0]}" if other is not None else ""
    ax.set_title(f"{protocol}: dev curves (star = selected step{versus})", fontsize=10)
    fig.tight_layout()
    return fig


def _dev_curves(rows: dict[str, list[dict[str, Any]]], out: Path) -> dict[str, list]:
    curves = {}
    for label, records in rows.items():
        if " + " in label:  # a debiased or derived row shares its cells' training
            continue
        found = [c for c in (dev_curve(out, r) for r in records) if c]
        if found:
            curves[label] = found
    return curves


def _draw_dev_curves(ax, curves: dict[str, list], line: str, suffix: str) -> None:
    for label, found in curves.items():
        color = _style(label)["color"]
        for steps, values, best in found:
            ax.plot(steps, values, line, color=color, alpha=0.35, linewidth=1)
            if best in steps:
                ax.plot([best], [values[steps.index(best)]], "*", color=color, markersize=8)
        common = sorted(set.intersection(*(set(steps) for steps, _, _ in found)))
        means = [np.mean([values[steps.index(s)] for steps, values, _ in found]) for s in common]
        ax.plot(common, means, line, color=color, linewidth=2.2, marker="o", markersize=3,
                label=f"{label} ({len(found)}{suffix})")


def dev_curve(out: Path, record: dict[str, Any]) -> tuple[list[int], list[float], int] | None:
    """(steps, dev values of the selection metric, selected step) from a trained cell's log, or None."""
    train = record.get("train") or {}
    log = out / "cells" / record["id"] / "train" / LOG_FILE
    metric = train.get("selection_metric")
    if not metric or not log.is_file():
        return None
    dev = [row for row in read_log(log) if row.get("event") == "dev" and row.get(metric) is not None]
    if not dev:
        return None
    return [int(row["step"]) for row in dev], [float(row[metric]) for row in dev], train.get("best_step")


def plot_heatmaps(protocol: str, rows: dict[str, list[dict[str, Any]]], minus: str | None = None):
    """One language-pair mAP panel per main row (mean over seeds); rows = query, columns = pool language.
    With ``minus`` (a row label, e.g. zero-shot), each panel is that row's grid subtracted, on a diverging scale
    centred at 0 (blue = gain), so that differences of a few points between the rows show."""
    plt = pyplot()
    labels = [label for label in row_order(rows) if label in MAIN_ROWS and label != minus]
    langs = rows[labels[0]][0]["languages"]
    n = len(langs)
    grids = {label: _pair_grid(rows[label], langs) for label in labels}
    if minus is None:
        scale = {"cmap": "viridis", "vmin": 0, "vmax": 1}
        title = "mAP per language pair (mean over seeds)"
    else:
        base = _pair_grid(rows[minus], langs)
        grids = {label: grid - base for label, grid in grids.items()}
        top = float(np.nanmax(np.abs(np.stack(list(grids.values()))))) or 1.0
        scale = {"cmap": "RdBu", "vmin": -top, "vmax": top}
        title = f"mAP per language pair minus {minus} (mean over seeds; blue = gain)"
    fig, axes = plt.subplots(
        1, len(labels), figsize=(0.3 * n * len(labels) + 1.5, 0.3 * n + 1.2), squeeze=False, layout="constrained"
    )
    image = None
    for ax, label in zip(axes[0], labels, strict=True):
        image = ax.imshow(np.ma.masked_invalid(grids[label]), **scale)
        ax.set_xticks(range(n), langs, fontsize=7)
        ax.set_yticks(range(n), langs, fontsize=7)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("pool language", fontsize=8)
    axes[0][0].set_ylabel("query language", fontsize=8)
    fig.colorbar(image, ax=axes[0].tolist(), fraction=0.02)
    fig.suptitle(f"{benchmark_of(protocol)} ({protocol}): {title}")
    return fig


def _pair_grid(records: list[dict[str, Any]], langs: list[str]) -> np.ndarray:
    """A row's (query language x pool language) mAP grid, mean over its seeds."""
    return _seed_mean(
        [[[np.nan if r["pair_map"][x][y] is None else r["pair_map"][x][y] for y in langs] for x in langs]
         for r in records]
    )


def _seed_mean(grids: list) -> np.ndarray:
    """Mean over seeds of (n, n) grids, ignoring NaN (a pair without shared ids); NaN where every seed has
    NaN. The numbers of ``np.nanmean(grids, axis=0)``, without its warning on an all-NaN cell."""
    stack = np.asarray(grids, dtype=np.float64)
    count = (~np.isnan(stack)).sum(0)
    total = np.where(np.isnan(stack), 0.0, stack).sum(0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def figures(out: Path, results: dict[str, Any]) -> list[str]:
    names = []
    other = _compared_run(results.get("settings", {}).get("compare_with"))
    for protocol, rows in group_cells(results).items():
        _save(plot_metrics(protocol, rows), out / f"metrics-{protocol}.png")
        names.append(f"metrics-{protocol}.png")
        versus = (other[0], other[1], other[2][protocol]) if other and protocol in other[2] else None
        dev = plot_dev_curves(protocol, rows, out, versus)
        if dev is not None:
            _save(dev, out / f"dev_curves-{protocol}.png")
            names.append(f"dev_curves-{protocol}.png")
        _save(plot_heatmaps(protocol, rows), out / f"heatmap-{protocol}.png")
        names.append(f"heatmap-{protocol}.png")
        if ZERO_SHOT in rows and len([label for label in rows if label in MAIN_ROWS]) > 1:
            _save(plot_heatmaps(protocol, rows, minus=ZERO_SHOT), out / f"heatmap_gain-{protocol}.png")
            names.append(f"heatmap_gain-{protocol}.png")
        if len(alpha_points(rows)) >= 2:
            _save(plot_alpha_curve(protocol, rows), out / f"alpha_curve-{protocol}.png")
            names.append(f"alpha_curve-{protocol}.png")
    return names


def _compared_run(folder: str | None) -> tuple[str, Path, dict[str, Any]] | None:
    """(name, folder, protocol -> rows) of the run named by the ``compare_with`` setting, if it is there."""
    if not folder or not (Path(folder) / "results.json").is_file():
        return None
    return str(folder), Path(folder), group_cells(read_json(Path(folder) / "results.json"))
