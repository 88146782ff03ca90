"""The text of a reproduce report (report.md): settings, protocols, deviations from the study, Table 1 with
mean ± std over seeds, the study's own numbers (marked as theirs), significance and the cells' wall times."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from langmix.io import read_json
from langmix.markdown import difference, table
from langmix.reproduce.aggregate import (
    LOWER_IS_BETTER,
    METRICS,
    benchmark_of,
    digits,
    group_cells,
    row_order,
    summarize,
)
from langmix.reproduce.claim import best_of_three_section, claim_section
from langmix.reproduce.grid import PROTOCOLS
from langmix.reproduce.study import SOURCE, STUDY_TABLE1

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


def fmt_mean_std(mean: float, std: float, digits: int) -> str:
    if np.isnan(mean):
        return "n/a"
    return f"{mean:.{digits}f}" if np.isnan(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def table1(results: dict[str, Any], wall: bool = True) -> str:
    """Mean ± std over seeds per row and metric; ``wall`` adds the mean wall seconds per cell."""
    rows_out = []
    for protocol, rows in group_cells(results).items():
        bench = benchmark_of(protocol)
        for label in row_order(rows):
            records = rows[label]
            cells = []
            for metric in METRICS:
                mean, std, _ = summarize(records, f"{bench}/{metric}")
                cells.append(fmt_mean_std(mean, std, digits(metric)))
            seconds = [f"{np.mean([r['wall_seconds'] for r in records]):.0f}"] if wall else []
            rows_out.append([f"{bench} ({protocol})", label, len(records), *cells, *seconds])
    header = ["test set (protocol)", "strategy", "seeds", *METRICS.values(), *(["wall s / cell"] if wall else [])]
    return table(header, rows_out)


def compared_section(results: dict[str, Any]) -> list[str]:
    """Each row of this run beside the same row of the ``compare_with`` run (e.g. the same grid at another step
    budget): seed means of the headline metrics, the steps each selected, and the order of the trained rows by
    each metric in both runs. Empty when no compared run is named or found."""
    folder = results.get("settings", {}).get("compare_with")
    if not folder or not (Path(folder) / "results.json").is_file():
        return []
    other = group_cells(read_json(Path(folder) / "results.json"))
    lines = [f"## Against {folder}", "",
             "This run (here) beside the compared run (there): mean over each run's seeds; steps = the selected "
             "(best dev) step / the steps trained, per seed; the orders list the trained rows best first.", ""]
    for protocol, rows in group_cells(results).items():
        bench, there = benchmark_of(protocol), other.get(protocol, {})
        shared = [label for label in row_order(rows) if label in there]
        if not shared:
            continue
        body = [[label, _steps(rows[label]), _steps(there[label]),
                 *(f"{_mean(rows[label], bench, m):.{digits(m)}f} / {_mean(there[label], bench, m):.{digits(m)}f}"
                   for m in METRICS)] for label in shared]
        lines += [f"**{bench} ({protocol})**", "",
                  table(["row", "steps here", "steps there", *(f"{name}: here / there" for name in METRICS.values())],
                        body), "", *_orders(rows, there, shared, bench), ""]
    return lines


def _mean(records: list[dict[str, Any]], bench: str, metric: str) -> float:
    return summarize(records, f"{bench}/{metric}")[0]


def _steps(records: list[dict[str, Any]]) -> str:
    trained = [r["train"] for r in records if r.get("train")]
    return ", ".join(f"{t['best_step']}/{t['steps']}" for t in trained) or "-"


def _orders(here: dict[str, Any], there: dict[str, Any], shared: list[str], bench: str) -> list[str]:
    """One line per metric: the trained rows best first, here and there, and whether the order is the same."""
    trained = [label for label in shared if any(r.get("train") for r in here[label])]
    if len(trained) < 2:
        return []
    out = []
    for metric, name in METRICS.items():
        sign = 1 if metric in LOWER_IS_BETTER else -1
        orders = [sorted(trained, key=lambda label, rows=rows: sign * _mean(rows[label], bench, metric))
                  for rows in (here, there)]
        verdict = "same order" if orders[0] == orders[1] else "**order changed**"
        out.append(f"- {name}: here {' > '.join(orders[0])}; there {' > '.join(orders[1])} ({verdict})")
    return out


def study_table() -> str:
    rows = [
        [bench, model, strategy, f"{mono:.3f}", f"{cross:.3f}", f"{multi:.3f}", f"{rd:.1f}"]
        for bench, models in STUDY_TABLE1.items()
        for model, strategies in models.items()
        for strategy, (mono, cross, multi, rd) in strategies.items()
    ]
    header = ["test set", "model (study)", "strategy", "mono mAP", "cross mAP", "multi mAP", "rank distance"]
    return table(header, rows)


def significance_table(sig: dict[str, Any], others: Sequence[str] | None = None) -> str:
    """Per protocol, hybrid minus each other row (p) on every metric; ``others`` keeps only those rows. Then the
    run's other tested pairs (x-y minus x-x-mono), if any."""
    if not sig.get("protocols"):
        return "No significance test: hybrid (alpha 0.5) and at least one other strategy are needed.\n"
    parts = [
        f"{sig['test']}, {sig['n_resamples']} sign flips; unit = one query (cross: one query and pool "
        f"language), score = {sig['unit_scores']}. Cell: hybrid minus other (p). For rank distance "
        "lower is better, so a negative difference favours hybrid.",
        "",
    ]
    header = [*METRICS.values(), "units (mono / cross / multi / rd)"]
    for protocol, rows in sig["protocols"].items():
        wanted = [other for other in dict.fromkeys(r["other"] for r in rows) if others is None or other in others]
        lines = [[other, *_difference_cells(rows, "hybrid_minus_other", other)] for other in wanted]
        parts += [f"**{benchmark_of(protocol)} ({protocol})**", "", table(["hybrid vs", *header], lines), ""]
        pairs = sig.get("pairs", {}).get(protocol, [])
        if pairs:
            names = dict.fromkeys((r["row"], r["other"]) for r in pairs)
            lines = [[f"{row} vs {other}", *_difference_cells([r for r in pairs if r["row"] == row],
                                                               "row_minus_other", other)] for row, other in names]
            parts += ["Without hybrid: the first row minus the second (p).", "", table(["pair", *header], lines), ""]
    return "\n".join(parts)


def _difference_cells(rows: list[dict[str, Any]], key: str, other: str) -> list[str]:
    """Per metric "+0.0123 (p=0.01)" of the records against ``other`` (n/a where missing), then their units."""
    by = {r["metric"]: r for r in rows if r["other"] == other}
    cells = ["n/a" if m not in by else difference(by[m][key], digits(m, difference=True), by[m]["p_value"])
             for m in METRICS]
    return [*cells, " / ".join(str(by[m]["n_units"]) if m in by else "-" for m in METRICS)]


def cells_table(results: dict[str, Any]) -> str:
    rows = []
    for r in results["cells"].values():
        train = r.get("train", {})
        alpha = r.get("effective_alpha")
        rows.append([r["id"], train.get("steps", 0), train.get("best_step", "-"),
                     "-" if alpha is None else f"{alpha:.3f}", f"{r['train_seconds']:.0f}",
                     f"{r['eval_seconds']:.0f}", f"{r['wall_seconds']:.0f}", ran_on(r)])
    header = ["cell", "steps", "best step", "effective alpha", "train s", "eval s", "wall s", "ran on"]
    return table(header, rows)


def device_name(device: dict[str, Any] | None) -> str:
    """A cell's device in words: the GPU's name, or the CPU with its threads and, where recorded, its native bf16
    instructions (one model name covers Xeons with and without AMX); "not recorded" for old records."""
    if not device:
        return "not recorded"
    if device.get("cuda"):
        return str(device.get("gpu", "GPU"))
    bf16 = f", bf16: {device['cpu_bf16'] or 'none'}" if "cpu_bf16" in device else ""
    return f"{device.get('cpu', 'CPU')}, {device.get('cpu_threads', '?')} threads{bf16}"


def ran_on(record: dict[str, Any]) -> str:
    """Where and on which code a cell ran: its device in words and the short commit."""
    return f"{device_name(record.get('device'))}, `{(record.get('commit') or '?')[:7]}`"


def devices_line(cells: dict[str, Any]) -> str:
    """Every device the cells ran on, with how many cells each (a grid may move between machines)."""
    counts = Counter(device_name(r.get("device")) for r in cells.values())
    return "; ".join(f"{name} ({n} cell{'s' * (n != 1)})" for name, n in counts.items()) or "none yet"


def settings_lines(results: dict[str, Any]) -> list[str]:
    s = results.get("settings", {})
    train = s.get("train", {})
    return [
        f"- preset: `{s.get('preset')}`; model: `{s.get('model')}`; ran on: {devices_line(results['cells'])}",
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
        "## The study's claim, part by part",
        "",
        claim_section(sig) or "Not tested yet: hybrid, x-x-mono and x-y cells are needed.",
        "",
        "## Best of all three: each row against zero-shot (mono) and x-y (the rest)",
        "",
        best_of_three_section(sig) or "Not tested yet: zero-shot and x-y cells and another row are needed.",
        "",
        *compared_section(results),
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
