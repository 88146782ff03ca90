"""``langmix reproduce [--quick]``: the study's experiment on the data at hand, with an honest report."""

from __future__ import annotations

from pathlib import Path

import typer

from langmix.cli.root import app, comma_list


@app.command()
def reproduce(
    quick: bool = typer.Option(
        False, "--quick", help="Small real run: <= 15 min on 2 CPU cores (embedded model)."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Run folder (default runs/reproduce-<preset>)."
    ),
    model: str | None = typer.Option(
        None, help="Model name or path (default: embedded multilingual-e5-small)."
    ),
    config: Path | None = typer.Option(
        None, help="YAML settings over the preset (configs/reproduce-*.yaml)."
    ),
    protocols: str | None = typer.Option(
        None, help="Comma list: xquad-to-mlqa, mlqa-to-xquad, xquad-articles."
    ),
    strategies: str | None = typer.Option(
        None, help="Comma list of rows: zero-shot, en-en, x-x, x-x-mono, x-y, hybrid, hybrid-proportional."
    ),
    seeds: str | None = typer.Option(None, help="Comma list of training seeds, e.g. 0,1,2."),
    alphas: str | None = typer.Option(
        None, help="Alpha sweep, e.g. 0,0.25,0.5,0.75,1 ('none' for no sweep)."
    ),
    steps: int | None = typer.Option(None, min=1, help="Training steps per cell (sets max_steps)."),
    test_questions: int | None = typer.Option(
        None, min=1, help="Question ids kept per test set (default preset's)."
    ),
    train_set: list[str] = typer.Option(
        [], "--train-set",
        help="Training override key=value, as langmix train --override (repeatable; langmix train --settings "
        "lists the keys).",
    ),
    keep_models: bool = typer.Option(
        False, "--keep-models", help="Keep each cell's best model and checkpoints."
    ),
    compare_with: Path | None = typer.Option(
        None, "--compare-with", help="Another run folder (e.g. a shorter budget) whose dev curves the report "
        "draws dashed beside this run's; kept in results.json for later reports."),
    report_only: bool = typer.Option(
        False, "--report-only", help="Only redo significance tests and report.md."
    ),
    combine: list[Path] = typer.Option(
        [], "--combine", help="Copy the finished cells of this run folder (a part of the same grid, run in "
        "parallel with the same settings) into --out, then redo the report (repeatable)."),
) -> None:
    """Train and evaluate every strategy on every test set (resumable; finished cells are never rerun)."""
    from langmix.io import check_writable
    from langmix.reproduce import combine_runs, finalize, make_settings, run_reproduce
    from langmix.reproduce.settings import apply_train_overrides

    preset = "quick" if quick else "full"
    folder = check_writable(out or Path("runs") / f"reproduce-{preset}", folder=True)
    if combine:
        done = combine_runs(folder, combine)
        skipped = f"; {len(done['skipped'])} already there, kept" if done["skipped"] else ""
        typer.echo(f"copied {len(done['copied'])} cells into {folder}{skipped}")
    if report_only or combine:
        typer.echo(f"wrote {finalize(folder, compare_with)}")
        return
    sweep = None if alphas is None else ([] if alphas.strip() == "none" else comma_list(alphas, float, "--alphas"))
    settings = make_settings(
        preset,
        config,
        model=model,
        protocols=comma_list(protocols),
        strategies=comma_list(strategies),
        seeds=comma_list(seeds, int, "--seeds"),
        alphas=sweep,
        test_questions=test_questions,
        keep_models=keep_models or None,
        compare_with=str(compare_with) if compare_with else None,
    )
    apply_train_overrides(settings, train_set + ([f"max_steps={steps}"] if steps is not None else []))
    results = run_reproduce(settings, folder)
    typer.echo(f"{len(results['cells'])} cells in {folder}/results.json; report: {folder}/report.md")
