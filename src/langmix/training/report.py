"""What a training run shows a reader: the best model's card and the loss curve.

The best model is saved in sentence-transformers format (atomically, Hugging Face's progress bars off) with a
``README.md`` model card stating the data, the batch strategy and the dev numbers that selected it;
``loss_curve.png`` plots the training loss per logged step and the dev loss per evaluation from the run's
``train_log.jsonl``.
"""

from __future__ import annotations

from pathlib import Path

from langmix.io import atomic_dir
from langmix.markdown import table
from langmix.model.pooled import quiet_hf_progress
from langmix.plotting import pyplot, save_png
from langmix.training.config import TrainConfig
from langmix.training.run_folder import read_log


def plot_loss_curve(log_path: Path, png_path: Path) -> None:
    """Training loss per step and dev loss per evaluation, as a PNG (matplotlib Agg, no display needed)."""
    plt = pyplot()
    rows = read_log(log_path) if log_path.exists() else []
    train_rows = [r for r in rows if r.get("event") == "train"]
    dev_rows = [r for r in rows if r.get("event") == "dev"]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([r["step"] for r in train_rows], [r["loss"] for r in train_rows], label="train loss", lw=0.8)
    ax.plot([r["step"] for r in dev_rows], [r["dev_loss"] for r in dev_rows], "o-", label="dev loss")
    ax.set_xlabel("step")
    ax.set_ylabel("InfoNCE loss")
    ax.legend()
    fig.tight_layout()
    save_png(fig, png_path, dpi=100)


def save_best_model(
    model, folder: Path, config: TrainConfig, metrics: dict[str, float], step: int, metric_name: str
) -> None:
    """Save in sentence-transformers format (atomically) with a card stating data, strategy, dev numbers."""
    with atomic_dir(folder) as tmp:
        with quiet_hf_progress():
            model.save(str(tmp))
        (tmp / "README.md").write_text(model_card(config, metrics, step, metric_name), encoding="utf-8")


def distill_rows(config: TrainConfig) -> list[list]:
    """The card's row of the distillation term (docs/distillation.md), none when it is off."""
    if config.distill_weight == 0:
        return []
    temperature = config.temperature if config.distill_temperature is None else config.distill_temperature
    return [["same-language distillation from the starting model", f"weight {config.distill_weight}, "
             f"temperature {temperature}"]]


def model_card(config: TrainConfig, metrics: dict[str, float], step: int, metric_name: str) -> str:
    data = config.data
    settings = table(["setting", "value"], [
        ["training data", ", ".join(data.corpus)],
        ["languages", ", ".join(data.languages) if data.languages else "all of the data"],
        ["batch strategy", data.strategy],
        ["alpha", f"{data.alpha}" if data.strategy == "hybrid" else "n/a (not hybrid)"],
        ["seed", config.seed],
        ["batch size / lr / weight decay", f"{config.batch_size} / {config.lr} / {config.weight_decay}"],
        ["hard negatives per query", data.hard_negatives],
        ["dev split", f"{data.dev_fraction} of record ids"],
        *distill_rows(config),
    ])
    dev = table(["metric", "value"], [[k, f"{v:.4f}"] for k, v in sorted(metrics.items())])
    return f"""---
library_name: sentence-transformers
tags: [sentence-transformers, langmix, multilingual, dense-retrieval]
---

# langmix retriever ({data.strategy})

Shared dual encoder fine-tuned from `{config.model.name}` with contrastive InfoNCE (temperature
{config.temperature}) with langmix; the checkpoint of step {step} was selected on dev `{metric_name}`.

{settings}

## Dev numbers at the selected step

{dev}

Use with prompts `query: ` and `passage: ` (stored in the model's prompts):
`model.encode(texts, prompt_name="query")`.
"""
