"""The report of a reproduce run, rendered from its ``results.json`` alone (plus per-query files for tests).

* Table 1 shape: per test set and strategy, mono / cross / multi mAP and rank distance as mean +- sample
  standard deviation over seeds (n given), next to the study's numbers (:mod:`.study`) clearly marked.
* Significance: per protocol, hybrid (alpha 0.5) against every other strategy, on per-query scores
  averaged over seeds, with :func:`langmix.evaluation.compare.compare_runs` (Fisher randomisation test).
* Alpha curve: mono, cross, multi mAP and rank distance against hybrid's alpha (PNG per protocol).
* Language-pair mAP heatmaps, one panel per strategy, averaged over seeds (PNG per protocol).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from langmix.evaluation.compare import TEST_NAME, compare_runs, per_query_path
from langmix.evaluation.debias import debias_folder
from langmix.io import read_json, write_json, write_text
from langmix.plotting import pyplot, save_png
from langmix.reproduce.grid import HYBRID_LABEL, MAIN_ROWS, PROTOCOLS
from langmix.reproduce.study import SOURCE, STUDY_TABLE1

METRICS = {
    "mono/map": "mono mAP",
    "cross/map": "cross mAP",
    "multi/map": "multi mAP",
    "rank_distance": "rank distance",
}
DEVIATIONS = [
    "Training data: no machine-translated QA corpus exists offline; training uses LAReQA questions of the "
    "*other* benchmark (or other articles) plus NTREX-128 inverse-cloze pairs and MKQA translation pairs, "
    "not the study's translated WikiQA/DuoRC/NewsQA/NQ/YahooQA/EntityQuestions + mMARCO.",
    "The study reports one run per strategy; here trained rows are mean ± std over seeds, and hybrid is "
    "tested against each other strategy per query.",
]


def deviations(settings: dict[str, Any]) -> list[str]:
    """The fixed deviations plus those of this run's settings (model, budget, test slice, candidates)."""
    train = settings.get("train", {})
    length = (
        f"at most {train['max_steps']} steps" if train.get("max_steps") else f"{train.get('epochs')} epochs"
    )
    frozen = "frozen" if train.get("model", {}).get("freeze_embeddings") else "trained"
    dev = train.get("data", {}).get("dev_benchmark")
    selection = (f"the LAReQA dev multi mAP of held-out training questions (`data.dev_benchmark: {dev}`)" if dev
                 else "the InfoNCE loss on a dev split drawn by record id from the training corpus")
    out = [
        f"Model: `{settings.get('model')}`, not XLM-R base / LaBSE.",
        *DEVIATIONS,
        f"Early stopping / model selection uses {selection}; it never overlaps the test set.",
        f"Budget: batch {train.get('batch_size')}, {length}, lr {train.get('lr')}, word embeddings {frozen} "
        "(the study: batch 100, lr 3e-5, to early stopping).",
    ]
    if settings.get("candidates") != "context":
        out.append(
            "Candidates are encoded as bare sentences; the LAReQA protocol encodes each sentence with its "
            "paragraph (`candidates: context`)."
        )
    if settings.get("test_questions") or settings.get("test_languages"):
        out.append(
            f"Test sets are slices ({settings.get('test_questions') or 'all'} question ids, languages "
            f"{settings.get('test_languages') or 'all'}), the pool restricted to their paragraphs: a smaller "
            "pool gives higher mAP and far smaller rank distances than the full benchmark."
        )
    if len(settings.get("seeds", [])) < 2:
        out.append(
            "One seed: the p-values cover the sampling of test queries only, not the spread over training "
            "seeds."
        )
    return out


# ----------------------------------------------------------------------------------------------- aggregation
def benchmark_of(protocol: str) -> str:
    return PROTOCOLS[protocol].test


def group_cells(results: dict[str, Any]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """protocol -> row label -> cell records (one per seed), in grid order. A cell re-scored after a
    training-free debiasing (``debiased``) also appears as a row ``<label> + <method>``."""
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for record in results["cells"].values():
        rows = groups.setdefault(record["protocol"], {})
        rows.setdefault(record["label"], []).append(record)
        for name, summary in record.get("debiased", {}).items():
            virtual = {**record, **summary, "label": f"{record['label']} + {name}", "eval_dir": debias_folder(name)}
            virtual.pop("debiased", None)
            rows.setdefault(virtual["label"], []).append(virtual)
    return groups


def summarize(records: list[dict[str, Any]], key: str) -> tuple[float, float, int]:
    """(mean, sample std with ddof=1 or NaN for one seed, n) of metric ``key`` over the records."""
    values = np.array([r["metrics"][key] for r in records if r["metrics"].get(key) is not None], dtype=float)
    if values.size == 0:
        return float("nan"), float("nan"), 0
    std = float(values.std(ddof=1)) if values.size > 1 else float("nan")
    return float(values.mean()), std, int(values.size)


def fmt_mean_std(mean: float, std: float, digits: int) -> str:
    if np.isnan(mean):
        return "n/a"
    return f"{mean:.{digits}f}" if np.isnan(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def row_order(labels) -> list[str]:
    """Main rows in the study's order (each followed by its debiased variants), then the sweep by alpha."""
    labels = list(labels)
    main = [label for row in MAIN_ROWS for label in sorted(x for x in labels if _base(x) == row)]
    sweep = sorted((label for label in labels if _base(label) not in MAIN_ROWS), key=_sweep_alpha)
    return main + sweep


def _base(label: str) -> str:
    return label.split(" + ", 1)[0]


def _sweep_alpha(label: str) -> float:
    return float(label.removeprefix("hybrid-a"))


# ----------------------------------------------------------------------------------------------- significance
def significance(out: Path, results: dict[str, Any], n_resamples: int) -> dict[str, Any]:
    """Per protocol: hybrid vs every other row, per metric, on seed-averaged per-query scores."""
    found: dict[str, Any] = {}
    for protocol, rows in group_cells(results).items():
        if HYBRID_LABEL not in rows:
            continue
        folders = {}
        for label in row_order(rows):
            averaged = seed_averaged_per_query(out, rows[label], benchmark_of(protocol))
            if averaged is None:
                continue
            folder = out / "significance" / protocol / label
            write_json(folder / "per_query.json", averaged)
            folders[label] = folder
        others = [label for label in folders if label != HYBRID_LABEL]
        if HYBRID_LABEL not in folders or not others:
            continue
        comparisons = compare_runs(
            [folders[HYBRID_LABEL], *(folders[o] for o in others)], n_resamples, finished=False
        )
        found[protocol] = [
            {
                "metric": c.metric.split("/", 1)[1],
                "other": Path(c.run).name,
                "n_units": c.n_units,
                "hybrid": c.baseline_mean,
                "other_mean": c.run_mean,
                "hybrid_minus_other": -c.delta,
                "p_value": c.p_value,
            }
            for c in comparisons
        ]
    return {
        "test": TEST_NAME,
        "n_resamples": n_resamples,
        "unit_scores": "mean over seeds per query",
        "protocols": found,
    }


def seed_averaged_per_query(out: Path, records: list[dict[str, Any]], bench: str) -> dict | None:
    """metric -> unit -> mean over the records' seeds (units present in every seed); None if files lack."""
    files = [per_query_path(out / "cells" / r["id"] / r.get("eval_dir", "eval")) for r in records]
    if not all(f.is_file() for f in files):
        return None
    runs = [read_json(f) for f in files]
    averaged = {}
    for metric in METRICS:
        key = f"{bench}/{metric}"
        units = set.intersection(*(set(run.get(key, {})) for run in runs))
        averaged[key] = {u: float(np.mean([run[key][u] for run in runs])) for u in sorted(units)}
    return averaged


# ----------------------------------------------------------------------------------------------- markdown
def table1(results: dict[str, Any]) -> str:
    lines = [
        "| test set (protocol) | strategy | seeds | " + " | ".join(METRICS.values()) + " | wall s / cell |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for protocol, rows in group_cells(results).items():
        bench = benchmark_of(protocol)
        for label in row_order(rows):
            records = rows[label]
            cells = []
            for metric in METRICS:
                mean, std, _ = summarize(records, f"{bench}/{metric}")
                cells.append(fmt_mean_std(mean, std, 1 if metric == "rank_distance" else 3))
            wall = np.mean([r["wall_seconds"] for r in records])
            lines.append(
                f"| {bench} ({protocol}) | {label} | {len(records)} | "
                + " | ".join(cells)
                + f" | {wall:.0f} |"
            )
    return "\n".join(lines)


def study_table() -> str:
    lines = [
        "| test set | model (study) | strategy | mono mAP | cross mAP | multi mAP | rank distance |",
        "|---|---|---|---|---|---|---|",
    ]
    for bench, models in STUDY_TABLE1.items():
        for model, rows in models.items():
            for strategy, (mono, cross, multi, rd) in rows.items():
                lines.append(
                    f"| {bench} | {model} | {strategy} | {mono:.3f} | {cross:.3f} | {multi:.3f} | {rd:.1f} |"
                )
    return "\n".join(lines)


def significance_table(sig: dict[str, Any]) -> str:
    if not sig.get("protocols"):
        return "No significance test: hybrid (alpha 0.5) and at least one other strategy are needed.\n"
    parts = [
        f"{sig['test']}, {sig['n_resamples']} sign flips; unit = one query (cross: one query and pool "
        f"language), score = {sig['unit_scores']}. Cell: hybrid minus other (p). For rank distance "
        "lower is better, so a negative difference favours hybrid.",
        "",
    ]
    for protocol, rows in sig["protocols"].items():
        others = list(dict.fromkeys(r["other"] for r in rows))
        by = {(r["other"], r["metric"]): r for r in rows}
        parts += [
            f"**{benchmark_of(protocol)} ({protocol})**",
            "",
            "| hybrid vs | " + " | ".join(METRICS.values()) + " | units (mono / cross / multi / rd) |",
            "|---|---|---|---|---|---|",
        ]
        for other in others:
            cells = []
            for metric in METRICS:
                r = by.get((other, metric))
                digits = 1 if metric == "rank_distance" else 4
                cells.append(
                    "n/a"
                    if r is None
                    else f"{_signed(r['hybrid_minus_other'], digits)} (p={r['p_value']:.3g})"
                )
            units = " / ".join(str(by[(other, m)]["n_units"]) if (other, m) in by else "-" for m in METRICS)
            parts.append(f"| {other} | " + " | ".join(cells) + f" | {units} |")
        parts.append("")
    return "\n".join(parts)


def _signed(value: float, digits: int) -> str:
    """``+0.0123``; a difference that rounds to zero prints as ``+0.0000``, never ``-0.0000``."""
    return f"{round(value, digits) + 0.0:+.{digits}f}"


def cells_table(results: dict[str, Any]) -> str:
    lines = [
        "| cell | steps | best step | effective alpha | train s | eval s | wall s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results["cells"].values():
        train = r.get("train", {})
        alpha = r.get("effective_alpha")
        lines.append(
            f"| {r['id']} | {train.get('steps', 0)} | {train.get('best_step', '-')} | "
            f"{'-' if alpha is None else f'{alpha:.3f}'} | {r['train_seconds']:.0f} | "
            f"{r['eval_seconds']:.0f} | {r['wall_seconds']:.0f} |"
        )
    return "\n".join(lines)


def settings_lines(results: dict[str, Any]) -> list[str]:
    s = results.get("settings", {})
    train = s.get("train", {})
    device = next(iter(results["cells"].values()), {}).get("device", {})
    return [
        f"- preset: `{s.get('preset')}`; model: `{s.get('model')}`; device: `{device}`",
        f"- seeds: {s.get('seeds')}; alpha sweep: {s.get('alphas') or 'none'} ({s.get('sweep_seeds')} seed(s) each)",
        f"- test candidates: `{s.get('candidates')}`; test questions per benchmark: "
        f"{s.get('test_questions') or 'all'}; test languages: {s.get('test_languages') or 'all'}",
        f"- training sources (mix weights): {s.get('sources')}; max training records: "
        f"{s.get('max_train_records') or 'all'}",
        f"- training overrides (langmix.config): `{train}`",
        f"- total wall time of the cells: {sum(r['wall_seconds'] for r in results['cells'].values()):.0f} s",
        *(
            f"- invocation {i + 1}: {inv['cells_run']} cell(s) in {inv['wall_seconds']:.0f} s wall, "
            "model loading and first-time conversion included"
            for i, inv in enumerate(results.get("invocations", []))
        ),
    ]


def protocol_lines(results: dict[str, Any]) -> list[str]:
    lines = []
    for name, info in results.get("protocols", {}).items():
        held = info.get("held_out_articles") or []
        lines.append(
            f"- **{name}**: {PROTOCOLS[name].description}. Training records: {info.get('train_records')} "
            f"{info.get('train_records_by_source')}; test: {info.get('test')} "
            f"{sum(info.get('test_questions', {}).values())} queries x "
            f"{sum(info.get('test_candidates', {}).values())} candidates in {', '.join(info.get('test_languages', []))}"
            + (f"; held-out articles ({len(held)}): {', '.join(held)}" if held else "")
        )
    return lines


def progress_lines(results: dict[str, Any]) -> list[str]:
    """A bold "in progress" line while cells of the grid are missing, else nothing."""
    grid = results.get("grid") or []
    done = sum(cell in results["cells"] for cell in grid)
    if done >= len(grid):
        return []
    return [f"**In progress: {done} of {len(grid)} cells done.** The tables cover the finished cells only; the "
            "run resumes with the same command.", ""]


def markdown(results: dict[str, Any], figures: list[str]) -> str:
    sig = results.get("significance", {})
    parts = [
        "# langmix reproduce: hybrid batching, measured",
        "",
        "Every number below was measured by this run; nothing expected is written in.",
        "",
        *progress_lines(results),
        "## Settings",
        "",
        *settings_lines(results),
        "",
        "## Protocols",
        "",
        *protocol_lines(results),
        "",
        "## Deviations from the study",
        "",
        *(f"- {d}" for d in deviations(results.get("settings", {}))),
        "",
        "## Table 1 (measured here)",
        "",
        "mAP over the whole LAReQA pool; mono = macro mean over languages, cross = macro mean over ordered "
        "language pairs, multi = all languages in one pool; rank distance = max - min rank of a query's "
        "answers in the multilingual pool (lower = less language bias). mean ± std (ddof 1) over seeds.",
        "",
        table1(results),
        "",
        "## The study's numbers (NOT measured here)",
        "",
        f"Source: {SOURCE}. Their backbones (XLM-R base, LaBSE) and machine-translated training data; shown "
        "for orientation only, not comparable in absolute terms.",
        "",
        study_table(),
        "",
        "## Significance: hybrid (alpha 0.5) vs every other strategy",
        "",
        significance_table(sig),
        "## Figures",
        "",
        *(f"![{Path(f).stem}]({f})" for f in figures),
        "",
        "## Cells (wall time per cell)",
        "",
        cells_table(results),
        "",
    ]
    return "\n".join(parts)


# ----------------------------------------------------------------------------------------------- figures
def _save(fig, path: Path) -> None:
    save_png(fig, path, dpi=110)


def alpha_points(rows: dict[str, list[dict[str, Any]]]) -> list[tuple[float, list[dict[str, Any]]]]:
    """(alpha, records) of the fixed-alpha hybrid rows, sorted by alpha."""
    points = []
    for label, records in rows.items():
        if label == HYBRID_LABEL or label.startswith("hybrid-a"):
            points.append((0.5 if label == HYBRID_LABEL else _sweep_alpha(label), records))
    return sorted(points, key=lambda p: p[0])


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
        grid = np.nanmean(
            [
                [
                    [np.nan if r["pair_map"][x][y] is None else r["pair_map"][x][y] for y in langs]
                    for x in langs
                ]
                for r in rows[label]
            ],
            axis=0,
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


def figures(out: Path, results: dict[str, Any]) -> list[str]:
    names = []
    for protocol, rows in group_cells(results).items():
        _save(plot_heatmaps(protocol, rows), out / f"heatmap-{protocol}.png")
        names.append(f"heatmap-{protocol}.png")
        if len(alpha_points(rows)) >= 2:
            _save(plot_alpha_curve(protocol, rows), out / f"alpha_curve-{protocol}.png")
            names.append(f"alpha_curve-{protocol}.png")
    return names


def render(out: str | Path, results: dict[str, Any] | None = None) -> Path:
    """Write report.md and the PNGs from ``results`` (default: ``out/results.json``)."""
    out = Path(out)
    results = results if results is not None else read_json(out / "results.json")
    names = figures(out, results) if results["cells"] else []
    write_text(out / "report.md", markdown(results, names))
    return out / "report.md"


def finalize(out: str | Path) -> Path:
    """Significance tests (from the cells' per-query files) into results.json, then the report."""
    out = Path(out)
    results = read_json(out / "results.json")
    n_resamples = results.get("settings", {}).get("n_resamples", 10_000)
    results["significance"] = significance(out, results, n_resamples)
    write_json(out / "results.json", results)
    return render(out, results)
