"""``langmix train CONFIG.yaml [--override key=value ...] [--resume [--allow-changed KEY]] [--out DIR]``.

Scale out with ``torchrun --nproc_per_node N --no-python langmix train CONFIG.yaml --out DIR``: each
process takes its slice of the global batch and in-batch negatives are gathered across processes.
"""

from __future__ import annotations

from pathlib import Path

import typer

from langmix.cli.root import app
from langmix.errors import LangmixError


@app.command()
def train(
    config: Path | None = typer.Argument(None, help="YAML file of overrides (examples in configs/)."),
    override: list[str] = typer.Option(
        [], "--override", "-o", help="key=value, e.g. data.strategy=x-y or lr=1e-5 (repeatable)."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue from the newest checkpoint in --out (a run without one starts again)."
    ),
    allow_changed: list[str] = typer.Option(
        [], "--allow-changed", help="With --resume: a setting that may differ from the checkpointed run, among "
        "lr, warmup_ratio, max_steps, epochs, max_grad_norm (repeatable or comma-separated), e.g. to resume a run "
        "that diverged with a lower lr: --resume --allow-changed lr -o lr=3e-6."
    ),
    out: Path | None = typer.Option(None, "--out", help="Run folder (default: runs/<config name>)."),
    show_config: bool = typer.Option(False, "--show-config", help="Print the resolved config and exit."),
    settings: bool = typer.Option(
        False, "--settings", help="List every config key with its default and meaning, and exit (CONFIG unread)."
    ),
) -> None:
    """Train the shared dual encoder with a batch strategy (x-x-mono, x-y, hybrid, x-x, en-en)."""
    from langmix.distributed import cleanup_distributed
    from langmix.training.config import describe, dump_yaml, load_config
    from langmix.training.loop import train as run_training

    if settings:
        rows = describe()
        width = max(len(f"{key} = {default}") for key, default, _ in rows)
        typer.echo("\n".join(f"{f'{key} = {default}':<{width}}  {text}" for key, default, text in rows))
        return
    if config is None:
        raise LangmixError("no CONFIG file given", "pass one, e.g. langmix train configs/quick.yaml "
                           "(langmix train --settings lists every key it may set)")
    cfg = load_config(config, override)
    if show_config:
        typer.echo(dump_yaml(cfg), nl=False)
        return
    out_dir = out or Path("runs") / config.stem
    try:
        changed = [key.strip() for item in allow_changed for key in item.split(",") if key.strip()]
        result = run_training(cfg, out_dir, resume=resume, allow_changed=changed)
    finally:
        cleanup_distributed()
    best = ", ".join(f"{k}={v:.4f}" for k, v in result.best_metrics.items())
    stop = " (stopped early)" if result.stopped_early else ""
    typer.echo(f"trained {result.steps} steps{stop}; best at step {result.best_step}: {best}")
    typer.echo(f"model: {result.best_model_dir}")
