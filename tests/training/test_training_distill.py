"""Training with the same-language distillation term (``distill_weight``): off by default and then the plain
InfoNCE run, on it logs its terms, the teacher is the starting model also after a resume."""

from __future__ import annotations

import shutil

import pytest
import torch

from langmix.training import checkpoint as ckpt
from langmix.training import loop as training
from langmix.training.losses import InfoNCELoss, SameLanguageDistillation
from langmix.training.run_folder import read_log


def _rows(run, event: str) -> list[dict]:
    return [row for row in read_log(run / "train_log.jsonl") if row["event"] == event]


def _weights(run) -> dict[str, torch.Tensor]:
    return ckpt.load_checkpoint(ckpt.latest_checkpoint(run))["model"]


def test_weight_0_is_the_plain_infonce_run_and_builds_no_teacher(make_config, tmp_path, train_tiny, monkeypatch):
    """The default run against one whose loss is built as before the term existed: the same losses and weights
    after 2 steps, no teacher, no teacher forward, no new log keys."""
    config = make_config("data.strategy=hybrid", "data.hard_negatives=1", "max_steps=2", "eval_every=2")
    with monkeypatch.context() as patch:
        patch.setattr(training, "make_loss", lambda config, *_: InfoNCELoss(config.temperature, config.symmetric))
        train_tiny(config, tmp_path / "before")

    def refused(*args, **kwargs):
        raise AssertionError("a teacher at distill_weight=0")

    monkeypatch.setattr(training, "frozen_copy", refused)
    monkeypatch.setattr(SameLanguageDistillation, "target", refused)
    train_tiny(config, tmp_path / "run")
    rows = read_log(tmp_path / "run" / "train_log.jsonl")
    assert not any({"info_nce", "distill", "dev_distill"} & row.keys() for row in rows)
    before, after = _weights(tmp_path / "before"), _weights(tmp_path / "run")
    assert all(torch.equal(before[k], after[k]) for k in before)
    losses = [[r["loss"] for r in _rows(tmp_path / run, "train")] for run in ("before", "run")]
    assert losses[0] == losses[1] and len(losses[0]) == 2


def test_a_run_with_distillation_logs_its_terms_and_trains_otherwise(make_config, tmp_path, train_tiny):
    """x-x-mono: every candidate is in its query's language. Step 1 starts from the same weights with the
    same dropout masks (the teacher draws no random number), so its InfoNCE term is the plain run's loss;
    then the term changes the weights."""
    plain, distilled = tmp_path / "plain", tmp_path / "distilled"
    base = ("data.strategy=x-x-mono", "max_steps=2", "eval_every=2", "data.hard_negatives=1")
    train_tiny(make_config(*base), plain)
    train_tiny(make_config(*base, "distill_weight=2.0", "distill_temperature=0.1"), distilled)
    rows, reference = _rows(distilled, "train"), _rows(plain, "train")
    assert rows[0]["info_nce"] == reference[0]["loss"]
    for row in rows:
        assert row["distill"] > 0 and row["loss"] == pytest.approx(row["info_nce"] + 2.0 * row["distill"], rel=1e-5)
    dev = _rows(distilled, "dev")[0]
    assert dev["dev_distill"] > 0 and dev["dev_loss"] != pytest.approx(_rows(plain, "dev")[0]["dev_loss"])
    a, b = _weights(plain), _weights(distilled)
    assert any(not torch.equal(a[k], b[k]) for k in a)
    card = "same-language distillation from the starting model | weight 2.0, temperature 0.1"
    assert card in (distilled / "best-model" / "README.md").read_text()
    assert "distillation" not in (plain / "best-model" / "README.md").read_text()


def test_resume_keeps_the_starting_model_as_the_teacher(make_config, tmp_path, train_tiny):
    """Delete the final checkpoint, resume from step 6 of 8: the same weights and losses as without the
    interruption (a teacher taken from the resumed weights would give other ones)."""
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    config = make_config("data.strategy=hybrid", "distill_weight=1.0")
    train_tiny(config, straight)
    train_tiny(config, resumed)
    shutil.rmtree(ckpt.latest_checkpoint(resumed))
    train_tiny(config, resumed, resume=True)
    a, b = _weights(straight), _weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["loss"] for r in _rows(straight, "train")] == [r["loss"] for r in _rows(resumed, "train")]
