"""``langmix merge``: average models weight by weight (WiSE-FT with the starting model, model soups)."""

from __future__ import annotations

from pathlib import Path

import typer

from langmix.cli.root import app, comma_list
from langmix.errors import LangmixError
from langmix.model.default import MODEL_NAME


@app.command()
def merge(
    models: list[str] = typer.Argument(
        ..., help=f"Two or more models of one architecture and tokenizer: folders, hub names, or {MODEL_NAME} "
        "(the default starting model of langmix train)."),
    out: Path = typer.Option(..., "--out", "-o", help="New folder for the merged sentence-transformers model "
                             "(with merge.json: inputs, weights, versions)."),
    weights: str | None = typer.Option(
        None, help="One weight per model, comma-separated, summing to 1, e.g. 0.25,0.75 (default: uniform)."),
    lambdas: str | None = typer.Option(
        None, help="WiSE-FT with lambda picked on dev: weights of the second model to try (the first gets "
        "1 - lambda), e.g. 0,0.25,0.5,0.75,1; each is scored on --dev-run's held-out training questions and "
        "the best is saved."),
    dev_run: Path | None = typer.Option(
        None, help="With --lambdas: the 'langmix train' run folder (a reproduce cell's train/) whose held-out "
        "training questions score each lambda; no test set is read."),
    dev_metric: str | None = typer.Option(
        None, help="With --lambdas: the dev metric that picks lambda (default: the one the run selected its "
        "model on, e.g. xquad-r/multi/map)."),
) -> None:
    """Average models weight by weight: WiSE-FT (a fine-tuned model with the model it started from, e.g.
    'langmix merge multilingual-e5-small RUN/best-model --weights 0.25,0.75') or a model soup of runs
    fine-tuned from one start."""
    from langmix.model.merge import check_new_folder, check_weights, input_name, merge_models, save_merged

    check_new_folder(out)
    if lambdas is None:
        if dev_run is not None or dev_metric is not None:
            raise LangmixError("--dev-run and --dev-metric only pick a lambda", "add --lambdas, e.g. 0,0.5,0.75,1")
        chosen = check_weights(comma_list(weights, float, "--weights"), len(models))
        model, extra = merge_models(models, chosen), None
    else:
        chosen, model, extra = _pick_on_dev(models, weights, comma_list(lambdas, float, "--lambdas"), dev_run,
                                            dev_metric)
    save_merged(model, out, [input_name(m, i) for i, m in enumerate(models)], chosen, extra)
    typer.echo(f"wrote {out} (weights {', '.join(f'{w:g}' for w in chosen)})", err=True)


def _pick_on_dev(models: list[str], weights: str | None, lambdas: list[float], dev_run: Path | None,
                 dev_metric: str | None):
    """(weights, model, record) of the lambda whose merge scores best on the run's dev questions."""
    from langmix.model.load import load_model
    from langmix.model.merge import check_lambdas, choose_lambda, merge_models
    from langmix.training.run_dev import run_dev_evaluator

    if weights is not None or len(models) != 2 or dev_run is None:
        raise LangmixError("--lambdas takes two models (start, fine-tuned), --dev-run and no --weights",
                           "e.g. langmix merge multilingual-e5-small RUN/best-model --lambdas 0,0.5,1 --dev-run RUN")
    check_lambdas(lambdas)
    evaluator, metric = run_dev_evaluator(dev_run)
    metric = dev_metric or metric
    start, tuned = (load_model(m) for m in models)  # on the GPU where there is one, as the dev evaluation runs
    best, rows = choose_lambda(start, tuned, lambdas, evaluator, metric)
    typer.echo(f"lambda\t{metric}")
    for row in rows:
        typer.echo(f"{row['lambda']:g}\t{row[metric]:.4f}")
    typer.echo(f"lambda {best:g} scores best on the dev questions of {dev_run}", err=True)
    record = {"dev_selection": {"run": str(dev_run.resolve()), "metric": metric, "lambda": best, "scores": rows}}
    return [1.0 - best, best], merge_models([start, tuned], [1.0 - best, best]), record
