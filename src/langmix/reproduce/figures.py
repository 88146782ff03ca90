"""The figures of a reproduce report: per protocol the alpha curve and the language-pair mAP heatmaps (PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from langmix.plotting import pyplot, save_png
from langmix.reproduce.aggregate import METRICS, alpha_points, benchmark_of, group_cells, row_order, summarize
from langmix.reproduce.grid import MAIN_ROWS


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


def plot_heatmaps(protocol: str, rows: dict[str, list[dict[str, Any]]]):
    """One language-pair mAP panel per main row (mean over seeds); rows = query, columns = pool language."""
    plt = pyplot()
    labels = [label for label in row_order(rows) if label in MAIN_ROWS]
    langs = rows[labels[0]][0]["languages"]
    n = len(langs)
    fig, axes = plt.subplots(
        1, len(labels), figsize=(0.45 * n * len(labels) + 1.5, 0.45 * n + 1.4), squeeze=False
    )
    image = None
    for ax, label in zip(axes[0], labels, strict=True):
        grid = _seed_mean(
            [[[np.nan if r["pair_map"][x][y] is None else r["pair_map"][x][y] for y in langs] for x in langs]
             for r in rows[label]]
        )
        image = ax.imshow(np.ma.masked_invalid(grid), cmap="viridis", vmin=0, vmax=1)
        ax.set_xticks(range(n), langs, fontsize=7)
        ax.set_yticks(range(n), langs, fontsize=7)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("pool language", fontsize=8)
    axes[0][0].set_ylabel("query language", fontsize=8)
    fig.colorbar(image, ax=axes[0].tolist(), fraction=0.02)
    fig.suptitle(f"{benchmark_of(protocol)} ({protocol}): mAP per language pair (mean over seeds)")
    return fig


def _seed_mean(grids: list) -> np.ndarray:
    """Mean over seeds of (n, n) grids, ignoring NaN (a pair without shared ids); NaN where every seed has
    NaN. The numbers of ``np.nanmean(grids, axis=0)``, without its warning on an all-NaN cell."""
    stack = np.asarray(grids, dtype=np.float64)
    count = (~np.isnan(stack)).sum(0)
    total = np.where(np.isnan(stack), 0.0, stack).sum(0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def figures(out: Path, results: dict[str, Any]) -> list[str]:
    names = []
    for protocol, rows in group_cells(results).items():
        _save(plot_heatmaps(protocol, rows), out / f"heatmap-{protocol}.png")
        names.append(f"heatmap-{protocol}.png")
        if len(alpha_points(rows)) >= 2:
            _save(plot_alpha_curve(protocol, rows), out / f"alpha_curve-{protocol}.png")
            names.append(f"alpha_curve-{protocol}.png")
    return names
