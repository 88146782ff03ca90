"""Writing an evaluation run: results.json, per_query.json, report.md and plots (matplotlib, Agg).

Everything is computed in memory first and each file is written atomically, so a failure leaves no
half-written result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from langmix.evaluation.results import LareqaResult, Result, RetrievalResult, result_record
from langmix.io import write_json, write_text
from langmix.markdown import table
from langmix.plotting import pyplot, save_png

PLOTS = ("pair_map.png", "rank_distance.png")  # LAReQA runs only


def write_run(out: str | Path, result: Result, meta: dict[str, Any]) -> list[Path]:
    """Write results.json, per_query.json, report.md and (LAReQA) heatmap + rank-distance plots.

    A run already in ``out`` is replaced: its results.json goes first (so a write that dies half-way
    leaves no folder that reads as complete), and its plots go when this run makes none.
    """
    out = Path(out)
    record = result_record(result, meta)
    files = {"report.md": markdown_report(result, meta)}
    (out / "results.json").unlink(missing_ok=True)
    if not isinstance(result, LareqaResult):
        for name in PLOTS:
            (out / name).unlink(missing_ok=True)
    write_json(out / "per_query.json", result.per_query)
    written = [out / "per_query.json"]
    if isinstance(result, LareqaResult):
        written += [
            _save(plot_pair_heatmap(result), out / PLOTS[0]),
            _save(plot_rank_distance(result), out / PLOTS[1]),
        ]
    for name, text in files.items():
        write_text(out / name, text)
        written.append(out / name)
    write_json(out / "results.json", record)  # last: its presence marks a complete run
    return written + [out / "results.json"]


# ----------------------------------------------------------------------------------------------- markdown
def markdown_report(result: Result, meta: dict[str, Any]) -> str:
    head = [
        f"# Evaluation: {result.benchmark}",
        "",
        f"- model: `{meta.get('model', '?')}`",
        f"- data hash: `{str(result.info.get('data_hash', '?'))[:16]}`",
    ]
    if isinstance(result, RetrievalResult):
        rows = [[key.split("/", 1)[1], f"{value:.4f}"] for key, value in result.metrics.items()]
        return "\n".join(head + ["", table(["metric", "value"], rows), ""])
    name, m = result.benchmark, result.metrics
    head += [
        f"- candidates: `{result.mode}`",
        f"- queries x candidates: {result.info['n_queries']} x "
        f"{result.info['n_candidates']}; cross pairs: {result.info['n_cross_pairs']}",
        f"- ties: {result.info['tie_rule']}",
        "",
    ]
    table1 = table(
        ["data", "model", "mode", "mono mAP", "cross mAP", "multi mAP", "rank distance"],
        [
            [
                name,
                str(meta.get("model", "?")),
                result.mode,
                *(_fmt(m[f"{name}/{k}"]) for k in ("mono/map", "cross/map", "multi/map")),
                _fmt(m[f"{name}/rank_distance"], 1),
            ]
        ],
    )
    multi = table(
        ["mAP@20", "Recall@1", "Recall@10", "MRR@10", "top-10 own-language share", "mAP w/o own answer"],
        [
            [
                _fmt(m[f"{name}/{k}"])
                for k in (
                    "multi/map@20",
                    "multi/recall@1",
                    "multi/recall@10",
                    "multi/mrr@10",
                    "bias/top10_own_share",
                    "bias/map_without_own",
                )
            ]
        ],
    )
    per_lang = table(
        ["lang", "mono mAP", "multi mAP", "rank distance", "top-10 own share", "mAP w/o own"],
        [
            [
                lang,
                *(_fmt(m.get(f"{name}/{k}/{lang}", float("nan"))) for k in ("mono/map", "multi/map")),
                _fmt(m[f"{name}/rank_distance/{lang}"], 1),
                *(_fmt(m[f"{name}/{k}/{lang}"]) for k in ("bias/top10_own_share", "bias/map_without_own")),
            ]
            for lang in result.langs
        ],
    )
    pairs = table(
        ["query \\ pool", *result.langs],
        [
            [x, *(_fmt(result.pair_map[i, j]) for j in range(len(result.langs)))]
            for i, x in enumerate(result.langs)
        ],
    )
    return "\n".join(
        head
        + [
            "## Table 1 view",
            "",
            table1,
            "",
            "## Multilingual pool",
            "",
            multi,
            "",
            "## Per query language",
            "",
            per_lang,
            "",
            "## Language-pair mAP (diagonal: mono)",
            "",
            pairs,
            "",
        ]
    )


def _fmt(value: float, digits: int = 3) -> str:
    return "n/a" if value is None or np.isnan(value) else f"{value:.{digits}f}"


# ----------------------------------------------------------------------------------------------- plots
def plot_pair_heatmap(result: LareqaResult):
    plt = pyplot()

    n = len(result.langs)
    fig, ax = plt.subplots(figsize=(1 + 0.6 * n, 0.8 + 0.55 * n))
    image = ax.imshow(np.ma.masked_invalid(result.pair_map), cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(n), result.langs)
    ax.set_yticks(range(n), result.langs)
    ax.set_xlabel("pool (answer) language")
    ax.set_ylabel("query language")
    for i in range(n):
        for j in range(n):
            if not np.isnan(result.pair_map[i, j]):
                ax.text(j, i, f"{result.pair_map[i, j]:.2f}", ha="center", va="center", fontsize=7, color="w")
    ax.set_title(f"{result.benchmark} mAP by language pair ({result.mode})")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


def plot_rank_distance(result: LareqaResult):
    plt = pyplot()

    distances = result.rank_distances()
    fig, ax = plt.subplots(figsize=(1.5 + 0.6 * len(distances), 3.5))
    data = [d if d.size else np.zeros(1) for d in distances.values()]
    ax.boxplot(data, showmeans=True)
    ax.set_xticks(range(1, len(distances) + 1), list(distances))
    ax.set_ylabel("rank distance (max - min rank of answers)")
    ax.set_title(f"{result.benchmark}: rank distance per query language (lower = less bias)")
    fig.tight_layout()
    return fig


def _save(fig, path: Path) -> Path:
    return save_png(fig, path, dpi=120)
