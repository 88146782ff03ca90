"""``langmix train CONFIG.yaml [--override key=value ...] [--resume] [--out DIR]``.

Scale out with ``torchrun --nproc_per_node N --no-python langmix train CONFIG.yaml --out DIR``: each
process takes its slice of the global batch and in-batch negatives are gathered across processes.
"""

from __future__ import annotations

from pathlib import Path

import typer

from langmix.cli.root import app


@app.command()
def train(
    config: Path = typer.Argument(..., help="YAML file of overrides (examples in configs/)."),
    override: list[str] = typer.Option(
        [], "--override", "-o", help="key=value, e.g. data.strategy=x-y or lr=1e-5 (repeatable)."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue from the newest checkpoint in --out (a run without one starts again)."
    ),
    out: Path | None = typer.Option(None, "--out", help="Run folder (default: runs/<config name>)."),
    show_config: bool = typer.Option(False, "--show-config", help="Print the resolved config and exit."),
) -> None:
    """Train the shared dual encoder with a batch strategy (x-x-mono, x-y, hybrid, x-x, en-en)."""
    from langmix.config import dump_yaml, load_config
    from langmix.distributed import cleanup_distributed
    from langmix.training import train as run_training

    cfg = load_config(config, override)
    if show_config:
        typer.echo(dump_yaml(cfg), nl=False)
        return
    out_dir = out or Path("runs") / config.stem
    try:
        result = run_training(cfg, out_dir, resume=resume)
    finally:
        cleanup_distributed()
    best = ", ".join(f"{k}={v:.4f}" for k, v in result.best_metrics.items())
    stop = " (stopped early)" if result.stopped_early else ""
    typer.echo(f"trained {result.steps} steps{stop}; best at step {result.best_step}: {best}")
    typer.echo(f"model: {result.best_model_dir}")
