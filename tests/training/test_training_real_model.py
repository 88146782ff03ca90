"""A short run of the embedded mE5-small on an XQuAD-R slice lowers the dev loss and raises dev mAP (slow).

Run: ``.venv/bin/pytest -m slow tests/training/test_training_real_model.py`` (minutes on 2 CPU cores).
"""

from __future__ import annotations

import pytest

from langmix.model.load import load_model
from langmix.training.config import load_config
from langmix.training.loop import load_training_data, train

pytestmark = pytest.mark.slow

LANGS = ["en", "de", "es"]


class LareqaDevEvaluator:
    """Multilingual-pool mAP of the XQuAD-R dev questions (pool: their paragraphs in every language)."""

    greater_is_better = True

    def __init__(self, qids: list[str]) -> None:
        from langmix.data.lareqa import load_lareqa
        from langmix.evaluation.lareqa import subset_benchmark

        self.benchmark = subset_benchmark(load_lareqa("xquad-r", languages=LANGS), qids=qids)
        self.primary_metric = "xquad-r/multi/map"

    def __call__(self, model) -> dict[str, float]:
        from langmix.evaluation.lareqa import embed_benchmark, score_lareqa

        emb = embed_benchmark(model, self.benchmark, batch_size=32)
        metrics = score_lareqa(self.benchmark, emb.queries, emb.candidates).metrics
        return {k: v for k, v in metrics.items() if k.endswith("/map")}


def test_short_run_lowers_dev_loss_and_raises_dev_map(embedded_model_path, tmp_path):
    config = load_config(
        None,
        [
            f"model.name={embedded_model_path}",
            "model.freeze_embeddings=true",
            "model.max_passage_length=128",
            "data.corpus=xquad-r",
            f"data.languages={','.join(LANGS)}",
            "data.dev_fraction=0.1",
            "data.dev_batches=4",
            "data.max_records=320",
            "data.strategy=hybrid",
            "batch_size=16",
            "epochs=2",  # 320 records / 16 = 20 steps per epoch
            "max_steps=40",
            "lr=3e-5",
            "eval_every=10",
            "patience=0",
            "selection_metric=dev_loss",
            "device=cpu",
        ],
    )
    _, dev = load_training_data(config)
    evaluator = LareqaDevEvaluator([r.id.split(":", 1)[1] for r in dev.records])
    before = evaluator(load_model(embedded_model_path))
    result = train(config, tmp_path / "run", evaluator=evaluator)
    first, last = result.history[0], result.history[-1]
    assert (first["step"], last["step"]) == (10, 40)
    assert last["dev_loss"] < first["dev_loss"]
    assert last[evaluator.primary_metric] > before[evaluator.primary_metric]
