"""The training loop on the tiny model: run folder, logs, model card, resume, NaN, frozen embeddings, bad input."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from langmix.errors import LangmixError
from langmix.model.load import load_model
from langmix.training import checkpoint as ckpt
from langmix.training.losses import InfoNCELoss
from langmix.training.run_folder import read_log


def _weights(run_dir):
    return ckpt.load_checkpoint(ckpt.latest_checkpoint(run_dir))["model"]


class Worsening:
    """A dev evaluator whose primary metric only gets worse: 1, 1/2, 1/3, ..."""

    primary_metric = "dev/map"
    greater_is_better = True

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, model) -> dict[str, float]:
        self.calls += 1
        return {"dev/map": 1.0 / self.calls}


def test_run_folder_logs_and_model_card(make_config, tmp_path, train_tiny):
    config = make_config("data.strategy=hybrid", "data.hard_negatives=1", "seed=7")
    result = train_tiny(config, tmp_path / "run")
    run = tmp_path / "run"
    for name in ("config.yaml", "config.json", "versions.json", "train_log.jsonl", "loss_curve.png", "metrics.json"):
        assert (run / name).is_file(), name
    rows = read_log(run / "train_log.jsonl")
    steps = [r for r in rows if r["event"] == "train"]
    assert [r["step"] for r in steps] == list(range(1, 9))
    assert all(0.0 <= r["mono_share"] <= 1.0 and r["languages"] and r["lr"] > 0 for r in steps)
    assert sum(r["pair_counts"][k] for r in steps[:1] for k in r["pair_counts"]) == 8
    assert [r["step"] for r in rows if r["event"] == "dev"] == [4, 8]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["steps"] == result.steps == 8 and metrics["best_step"] == result.best_step
    card = (run / "best-model" / "README.md").read_text()
    for words in ("hybrid", "| alpha | 0.5 |", "| seed | 7 |", "dev_loss", "xquad-r-slice.jsonl"):
        assert words in card
    reloaded = load_model(result.best_model_dir)
    assert reloaded.encode(["query: hallo"]).shape == (1, 32)


def test_freeze_embeddings_keeps_the_matrix_and_trains_the_rest(make_config, tmp_path, tiny_model, train_tiny):
    train_tiny(make_config("max_steps=2", "eval_every=2"), tmp_path / "run")
    before, after = tiny_model.state_dict(), _weights(tmp_path / "run")
    emb = next(k for k in before if k.endswith("word_embeddings.weight"))
    assert torch.equal(before[emb], after[emb])
    assert any(not torch.equal(before[k], after[k]) for k in before if k != emb)


@pytest.mark.parametrize("cpu_dropout", ["torch", "pcg64"])
def test_in_process_resume_equals_uninterrupted(make_config, tmp_path, train_tiny, cpu_dropout):
    """Delete the final checkpoint of a finished run, resume from step 6 of 8: same weights and losses."""
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    config = make_config(f"cpu_dropout={cpu_dropout}")
    train_tiny(config, straight)
    train_tiny(config, resumed)
    shutil.rmtree(ckpt.latest_checkpoint(resumed))
    assert ckpt.latest_checkpoint(resumed).name == "step-00000006"
    train_tiny(config, resumed, resume=True)
    a, b = _weights(straight), _weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    losses = [[r["loss"] for r in read_log(run / "train_log.jsonl") if r["event"] == "train"]
              for run in (straight, resumed)]
    assert losses[0] == losses[1] and len(losses[0]) == 8


def test_nan_loss_stops_with_one_line_and_keeps_the_last_good_checkpoint(make_config, tmp_path, monkeypatch,
                                                                          train_tiny):
    real = InfoNCELoss.forward
    calls = {"n": 0}

    def poisoned(loss_fn, embed_fn, batch):
        calls["n"] += 1
        loss = real(loss_fn, embed_fn, batch)
        return loss * float("nan") if calls["n"] == 3 else loss  # the third training step

    monkeypatch.setattr(InfoNCELoss, "forward", poisoned)
    with pytest.raises(LangmixError) as err:
        train_tiny(make_config("checkpoint_every=1"), tmp_path / "run")
    message = str(err.value)
    assert "loss became nan at step 3" in message and "--resume --allow-changed lr" in message
    assert "\n" not in message
    # step 3's loss came from the weights after step 2: a resume from step 2 would meet it again, whatever the lr
    latest = ckpt.latest_checkpoint(tmp_path / "run")
    assert latest.name == "step-00000001" and f"last good checkpoint: {latest} (moved aside: " in message
    assert ckpt.load_checkpoint(latest)["loop"]["step"] == 1
    assert (ckpt.checkpoint_root(tmp_path / "run") / "diverged-step-00000002").is_dir()


def test_inf_weights_are_never_checkpointed_nor_called_good(make_config, tmp_path, train_tiny):
    """lr=1e39 makes every weight inf in step 1, whose loss (computed before the update) is still finite; that
    checkpoint used to be written and named the last good one."""
    run = tmp_path / "run"
    with pytest.raises(LangmixError) as err:
        train_tiny(make_config("lr=1e39", "checkpoint_every=1", "eval_every=1"), run)
    message = str(err.value)
    assert "the weights became inf/nan at step 1 (" in message and "last good checkpoint: none" in message
    assert "rerun the same langmix train command with a lower lr, e.g. --override lr=1e+38" in message
    assert ckpt.latest_checkpoint(run) is None and not (run / "best-model").exists()
    assert not list(ckpt.checkpoint_root(run).glob("*step-*"))
    train_tiny(make_config("lr=1e-4", "max_steps=2", "eval_every=2"), run)  # as advised: starts again
    assert ckpt.latest_checkpoint(run).name == "step-00000002"


def test_a_diverged_run_resumes_with_a_lower_lr_from_a_finite_checkpoint(make_config, tmp_path, train_tiny):
    """lr=1e3 with weight decay 1 multiplies the weights by about -1000 a step: the forward overflows after a
    few steps. The advised resume (--resume --allow-changed lr, lower lr) finishes from the named checkpoint."""
    run, blow_up = tmp_path / "run", ["weight_decay=1.0", "precision=fp32", "checkpoint_every=1"]
    with pytest.raises(LangmixError) as err:
        train_tiny(make_config("lr=1e3", *blow_up), run)
    message = str(err.value)
    assert "loss became nan at step" in message
    assert "add --resume --allow-changed lr --override lr=100 to the same langmix train command" in message
    named = ckpt.latest_checkpoint(run)
    assert f"last good checkpoint: {named}" in message
    assert not ckpt.nonfinite_tensors(ckpt.load_checkpoint(named))  # the loader checks too
    good = ckpt.load_checkpoint(named)["loop"]["step"]
    lower = make_config("lr=1e-4", *blow_up)
    with pytest.raises(LangmixError, match="config differs .* in lr; pass --allow-changed lr to resume"):
        train_tiny(lower, run, resume=True)
    result = train_tiny(lower, run, resume=True, allow_changed=["lr"])
    assert result.steps == 8 and ckpt.latest_checkpoint(run).name == "step-00000008"
    rows = read_log(run / "train_log.jsonl")
    assert {"event": "resume", "step": good, "changed": {"lr": [1e3, 1e-4]}} in rows
    losses = [r["loss"] for r in rows if r["event"] == "train"]
    assert len(losses) == 8 and all(math.isfinite(x) for x in losses)
    assert json.loads((run / "config.json").read_text())["lr"] == 1e-4  # the run's config is the new one


@pytest.mark.parametrize("allowed, resume, words", [
    (["batch_size"], True, "--allow-changed batch_size: a resume can change only lr, warmup_ratio"),
    (["lr"], False, "--allow-changed applies to a resume; add --resume"),
])
def test_allow_changed_is_checked(make_config, tmp_path, train_tiny, allowed, resume, words):
    with pytest.raises(LangmixError, match=words):
        train_tiny(make_config(), tmp_path / "run", resume=resume, allow_changed=allowed)


@pytest.mark.parametrize("override, words", [
    ("batch_size=64", "lower batch_size"),
    ("data.corpus=jsonl:/nonexistent/train.jsonl", "/nonexistent/train.jsonl"),
    ("data.corpus=wikipedia", "unknown corpus spec 'wikipedia'"),
])
def test_bad_input_is_one_line(make_config, tmp_path, override, words, train_tiny):
    with pytest.raises(LangmixError) as err:
        train_tiny(make_config(override), tmp_path / "run")
    assert words in str(err.value) and "\n" not in str(err.value)


def test_resume_needs_a_checkpoint_and_a_used_folder_needs_resume(make_config, tmp_path, train_tiny):
    with pytest.raises(LangmixError, match="no complete checkpoint"):
        train_tiny(make_config(), tmp_path / "empty", resume=True)
    train_tiny(make_config("max_steps=2", "eval_every=2"), tmp_path / "run")
    with pytest.raises(LangmixError, match="pass --resume"):
        train_tiny(make_config("max_steps=2", "eval_every=2"), tmp_path / "run")
    with pytest.raises(LangmixError, match="config differs .* in lr"):
        train_tiny(make_config("max_steps=2", "eval_every=2", "lr=1e-3"), tmp_path / "run", resume=True)


def test_resume_of_a_run_saved_before_a_setting_existed(make_config, tmp_path, train_tiny):
    """A run folder written by an older langmix lacks newer settings: they count as their defaults."""
    run = tmp_path / "run"
    train_tiny(make_config(), run)
    shutil.rmtree(ckpt.latest_checkpoint(run))
    saved = json.loads((run / "config.json").read_text())
    del saved["model"]["compile"]  # added to langmix after such a run was written
    (run / "config.json").write_text(json.dumps(saved))
    train_tiny(make_config(), run, resume=True)
    assert ckpt.latest_checkpoint(run).name == "step-00000008"
    with pytest.raises(LangmixError, match="config differs .* in model.compile"):
        train_tiny(make_config("model.compile=true"), run, resume=True)


def test_evaluator_metric_selects_the_best_model_and_early_stopping(make_config, tmp_path, train_tiny):
    """An evaluator whose primary metric only gets worse: best stays at the first evaluation, patience 1 stops."""

    evaluator = Worsening()
    result = train_tiny(make_config("eval_every=2", "patience=1", "max_steps=8"), tmp_path / "run", evaluator=evaluator)
    assert result.selection_metric == "dev/map" and result.best_step == 2
    assert result.stopped_early and result.steps == 4 and evaluator.calls == 2
    assert "dev/map" in (tmp_path / "run" / "best-model" / "README.md").read_text()


def test_eval_on_start_logs_step_0_changes_no_weight_and_is_never_selected(make_config, tmp_path, train_tiny):
    """The untrained model's dev row starts the curve; with a metric that only gets worse it would win, but the
    best model stays a trained one; and evaluating first draws nothing from the training's random streams."""

    settings = ("eval_every=4", "max_steps=8", "cpu_dropout=pcg64")
    train_tiny(make_config(*settings), tmp_path / "plain", evaluator=Worsening())
    result = train_tiny(make_config(*settings, "eval_on_start=true"), tmp_path / "start", evaluator=Worsening())
    rows = read_log(tmp_path / "start" / "train_log.jsonl")
    assert [r["step"] for r in rows if r["event"] == "dev"] == [0, 4, 8]
    assert result.best_step == 4 and [h["step"] for h in result.history] == [0, 4, 8]
    a, b = _weights(tmp_path / "plain"), _weights(tmp_path / "start")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_dev_benchmark_selects_on_lareqa_map_of_held_out_questions(make_config, tmp_path, train_tiny):
    """data.dev_benchmark builds a LAReQA evaluator from the held-out question ids only."""
    lareqa = Path(__file__).parents[1] / "fixtures" / "data" / "xquad-r"
    config = make_config(f"data.corpus=lareqa:{lareqa}", f"data.dev_benchmark=lareqa:{lareqa}",
                         "data.dev_candidates=sentence", "data.dev_fraction=0.3", "batch_size=4", "max_steps=4")
    result = train_tiny(config, tmp_path / "run")
    assert result.selection_metric == "xquad-r/multi/map"
    assert 0.0 < result.best_metrics["xquad-r/multi/map"] <= 1.0
    dev_rows = [row for row in read_log(tmp_path / "run" / "train_log.jsonl") if row.get("event") == "dev"]
    assert dev_rows and all("xquad-r/mono/map" in row for row in dev_rows)


def test_dev_benchmark_must_be_among_the_corpora(make_config, tmp_path, train_tiny):
    lareqa = Path(__file__).parents[1] / "fixtures" / "data" / "xquad-r"
    with pytest.raises(LangmixError, match="no held-out record comes from"):
        train_tiny(make_config(f"data.dev_benchmark=lareqa:{lareqa}"), tmp_path / "run")


def test_bf16_on_cpu_trains_close_to_fp32(make_config, tmp_path, train_tiny, pretend_cpu_bf16):
    """bf16 autocast on the CPU: the same run's first losses stay within 2 % of fp32 (dropout masks are the
    same: same seed, same RNG use); each run's metrics.json says which precision it ran in."""
    pretend_cpu_bf16("amx")  # where the CPU has none, torch emulates bf16: same numbers, slower
    fp32 = train_tiny(make_config("max_steps=3", "eval_every=3", "precision=fp32"), tmp_path / "fp32")
    bf16 = train_tiny(make_config("max_steps=3", "eval_every=3"), tmp_path / "bf16")  # auto: bf16 with AMX
    losses = [[r["loss"] for r in read_log(run.out_dir / "train_log.jsonl") if r["event"] == "train"]
              for run in (fp32, bf16)]
    assert len(losses[0]) == len(losses[1]) == 3
    assert losses[0] != losses[1]  # bf16 really ran
    assert all(abs(b - a) <= 0.02 * abs(a) for a, b in zip(*losses, strict=True)), losses
    ran_in = [json.loads((run.out_dir / "metrics.json").read_text())["precision"] for run in (fp32, bf16)]
    assert ran_in == ["fp32", "bf16"]


def test_fp16_on_cpu_is_one_line_error(make_config, tmp_path, train_tiny):
    with pytest.raises(LangmixError, match="fp16 needs a CUDA GPU"):
        train_tiny(make_config("precision=fp16", "device=cpu"), tmp_path / "run")
