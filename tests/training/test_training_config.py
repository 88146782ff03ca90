"""Config schema: study defaults, YAML and key=value overrides, type checks, one-line errors."""

from __future__ import annotations

import pytest

from langmix.errors import LangmixError
from langmix.training.config import (
    TrainConfig,
    absolute_data_paths,
    describe,
    from_dict,
    load_config,
    relative_data_paths,
    to_dict,
)


def test_defaults_are_the_study_settings():
    c = TrainConfig()
    assert (c.lr, c.weight_decay, c.temperature, c.batch_size) == (3e-5, 0.01, 0.05, 100)
    assert (c.model.max_query_length, c.model.max_passage_length) == (64, 256)
    assert (c.data.strategy, c.data.alpha) == ("hybrid", 0.5)


def test_yaml_then_overrides_with_sections_and_bare_keys(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data:\n  strategy: x-y\n  corpus: [mlqa-r]\nbatch_size: 16\n", encoding="utf-8")
    c = load_config(path, ["lr=1e-4", "data.alpha=proportional", "languages=en,de", "max_steps=null"])
    assert (c.data.strategy, c.data.corpus, c.batch_size) == ("x-y", ["mlqa-r"], 16)
    assert (c.lr, c.data.alpha, c.data.languages, c.max_steps) == (1e-4, "proportional", ["en", "de"], None)


def test_data_paths_in_a_file_are_read_against_its_folder_and_overrides_against_the_working_directory(
    tmp_path, monkeypatch
):
    folder = tmp_path / "configs"
    folder.mkdir()
    path = folder / "c.yaml"
    path.write_text("data:\n  corpus: [jsonl:../data/a.jsonl@2, xquad-r, 'squad:tr/s.{lang}.json']\n"
                    "  dev_benchmark: lareqa:../bench\n", encoding="utf-8")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    c = load_config(path)
    root = tmp_path.resolve()
    assert c.data.corpus == [f"jsonl:{root / 'data' / 'a.jsonl'}@2", "xquad-r",
                             f"squad:{root / 'configs' / 'tr' / 's.{lang}.json'}"]
    assert c.data.dev_benchmark == f"lareqa:{root / 'bench'}"
    assert load_config(path, ["data.corpus=jsonl:b.jsonl"]).data.corpus == ["jsonl:b.jsonl"]


def test_a_recorded_config_names_data_relative_to_its_folder_and_reads_back_the_same(tmp_path):
    config = load_config(None, [f"data.corpus=jsonl:{tmp_path / 'data' / 'train.jsonl'}@0.5,ntrex128",
                                f"data.dev_benchmark=lareqa:{tmp_path / 'bench'}"])
    run = tmp_path / "runs" / "a"
    recorded = relative_data_paths(config, run)
    assert recorded.data.corpus == ["jsonl:../../data/train.jsonl@0.5", "ntrex128"]
    assert recorded.data.dev_benchmark == "lareqa:../../bench"
    assert config.data.corpus[0].startswith("jsonl:/")  # a copy: the run's own config keeps its paths
    assert absolute_data_paths(recorded, run) == absolute_data_paths(config, tmp_path)


def test_round_trip_through_dict():
    c = load_config(None, ["strategy=x-x-mono", "seed=3"])
    assert from_dict(to_dict(c)) == c


# the distillation settings' refusals, checked through the Python API and the command line alike
DISTILL_CASES = [
    ("distill_weight=-0.5", "distill_weight=-0.5 must not be negative"),
    ("distill_weight=.nan", "distill_weight=nan must not be negative"),
    ("distill_weight=.inf", "distill_weight=inf is not a finite number"),
    ("distill_temperature=0", "distill_temperature=0.0 must be positive"),
    ("distill_temperature=.inf", "distill_temperature=inf is not a finite number; set distill_temperature to a "
                                 "finite number, or null"),
    ("distill_temperature=1e-300", "1/distill_temperature overflows float32"),
]


@pytest.mark.parametrize("override, words", [
    ("data.colour=red", "unknown config key 'data.colour'"),
    ("batch_size=big", "expected int"),
    ("symmetric=3", "expected bool"),
    ("strategy=round-robin", "unknown strategy 'round-robin'"),
    ("alpha=1.5", "outside [0, 1]"),
    ("alpha=some", "neither a number nor 'proportional'"),
    ("batch_size", "is not key=value"),
    ("batch_size=0", "must be positive"),
    ("max_steps=0", "max_steps=0 must be positive"),
    ("max_steps=-1", "max_steps=-1 must be positive"),
    ("lr=-1e-5", "lr=-1e-05 must be positive"),
    ("lr=.nan", "lr=nan must be positive"),
    ("data.hard_negatives=-1", "data.hard_negatives=-1 must not be negative"),
    ("data.max_records=0", "data.max_records=0 must be positive"),
    ("weight_decay=-0.1", "weight_decay=-0.1 must not be negative"),
    # settings under which training runs but learns nothing (issue 25)
    ("lr=.inf", "lr=inf is not a finite number"),
    ("lr=1e999", "lr=inf is not a finite number"),
    ("max_grad_norm=.inf", "max_grad_norm=inf is not a finite number"),
    ("temperature=.inf", "temperature=inf is not a finite number"),
    ("temperature=0", "temperature=0.0 must be positive"),
    ("temperature=1e-300", "1/temperature overflows float32"),
    *DISTILL_CASES,
    ("batch_size=1", "batch_size=1 leaves a query no negative"),
    ("device=foo", "unknown device 'foo'"),
    ("device=cuda1", "unknown device 'cuda1'"),
    ("device=gpu", "unknown device 'gpu'"),
])
def test_bad_overrides_fail_with_one_line_naming_the_fix(override, words):
    with pytest.raises(LangmixError) as err:
        load_config(None, [override])
    assert words in str(err.value) and "\n" not in str(err.value) and ";" in str(err.value)


@pytest.mark.parametrize("overrides", [
    ["batch_size=1", "data.hard_negatives=1"],  # the hard negative is the query's one negative
    ["device=cuda:1"], ["device=cuda"], ["device=cpu"], ["device=auto"], ["temperature=1e-3"],
    ["distill_weight=0.5", "distill_temperature=0.1"], ["distill_weight=1", "distill_temperature=null"],
])
def test_settings_that_still_train_are_accepted(overrides):
    load_config(None, overrides)


def test_missing_config_file_names_the_examples(tmp_path):
    with pytest.raises(LangmixError, match="configs/"):
        load_config(tmp_path / "nope.yaml")


def test_every_field_has_help():
    rows = describe()
    assert rows and all(help_text for _, _, help_text in rows)


def test_cli_shows_the_resolved_config_and_rejects_unknown_keys():
    import subprocess
    import sys
    from pathlib import Path

    from typer.testing import CliRunner

    from langmix.cli import app

    quick = Path(__file__).parents[2] / "configs" / "quick.yaml"
    shown = CliRunner().invoke(app, ["train", str(quick), "--show-config", "-o", "strategy=x-y", "-o", "lr=1e-4"])
    assert shown.exit_code == 0 and "strategy: x-y" in shown.output and "lr: 0.0001" in shown.output
    bad = subprocess.run([sys.executable, "-c", "from langmix.cli import main; main()", "train", str(quick),
                          "-o", "colour=red"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("langmix: error: unknown config key 'colour'")
    assert bad.stderr.count("\n") == 1


def test_cli_lists_every_setting_with_its_default_and_needs_a_config_to_train():
    import subprocess
    import sys

    from typer.testing import CliRunner

    from langmix.cli import app

    listed = CliRunner().invoke(app, ["train", "--settings"])
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert len(lines) == len(describe())
    for (key, default, text), line in zip(describe(), lines, strict=True):
        assert line.startswith(f"{key} = {default} ") and line.endswith(text)
    assert any(line.startswith("eval_on_start = False ") for line in lines)
    bare = subprocess.run([sys.executable, "-c", "from langmix.cli import main; main()", "train"],
                          capture_output=True, text=True)
    assert bare.returncode == 2 and bare.stderr.startswith("langmix: error: no CONFIG file given")
    assert "--settings" in bare.stderr and bare.stderr.count("\n") == 1


@pytest.mark.parametrize("case, words", [
    ("max_steps=0", "max_steps=0 must be positive"),
    ("max_steps=-1", "max_steps=-1 must be positive"),
    ("lr=-1e-5", "lr=-1e-05 must be positive"),
    ("data.hard_negatives=-1", "data.hard_negatives=-1 must not be negative"),
    ("latin1_corpus", "is not UTF-8 text"),
    ("cross_only_string", "cross_only='false': Input should be a valid boolean"),
    ("out_is_a_file", "is a file, not a folder"),
    ("resume_nothing", "no complete checkpoint"),
    *DISTILL_CASES,
    ("batch_size=1", "batch_size=1 leaves a query no negative"),
    ("lr=.inf", "lr=inf is not a finite number"),
    ("device=foo", "unknown device 'foo'"),
])
def test_train_command_bad_input_is_one_line_before_any_training(tmp_path, cli, case, words):
    import json

    config = tmp_path / "c.yaml"
    config.write_text("model:\n  name: never-loaded\n", encoding="utf-8")
    corpus = tmp_path / "corpus.jsonl"
    row = {"id": "x", "queries": {"en": "caf\u00e9"}, "passages": {"en": "p"}}
    if case == "latin1_corpus":
        corpus.write_bytes((json.dumps(row, ensure_ascii=False) + "\n").encode("latin-1"))
    else:
        corpus.write_text(json.dumps({**row, "cross_only": "false"}) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    args = ["-o", f"data.corpus=jsonl:{corpus}"]
    if "=" in case:
        args += ["-o", case]
    elif case == "out_is_a_file":
        out.write_text("a file")
    elif case == "resume_nothing":
        args.append("--resume")
    assert words in cli("train", config, "--out", out, *args).error_line()


def test_python_api_validates_a_config_built_by_hand(tmp_path, train_tiny, make_config):
    import dataclasses

    config = dataclasses.replace(make_config(), temperature=float("inf"))
    with pytest.raises(LangmixError, match="temperature=inf is not a finite number"):
        train_tiny(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("key, kind, shortest", [
    ("max_query_length", "query", 6), ("max_passage_length", "passage", 5)])
def test_lengths_that_keep_no_text_are_refused_before_the_first_step(tmp_path, train_tiny, make_config, tiny_model,
                                                                     key, kind, shortest):
    from langmix.model.encoding import encoder_parts, shortest_useful_length, tokenize

    # XLM-R: <s> ... </s> and the prompt ('query: ' is 3 tokens, 'passage: ' 2); 1 kept all 18 tokens before
    prompt = tiny_model.prompts[kind]
    assert shortest_useful_length(tiny_model.tokenizer, prompt) == shortest
    parts = encoder_parts(tiny_model)
    texts = ["Where is Berlin?", "Wie alt ist Rom?"]
    assert tokenize(parts, texts, prompt, shortest - 1)[0] == tokenize(parts, texts, prompt, shortest - 1)[1]
    assert tokenize(parts, texts, prompt, shortest)[0] != tokenize(parts, texts, prompt, shortest)[1]
    for value in (1, shortest - 1):
        with pytest.raises(LangmixError, match=rf"model.{key}={value} keeps no {kind} text.* to {shortest} or more"):
            train_tiny(make_config(f"model.{key}={value}"), tmp_path / "run")
        assert not list((tmp_path / "run").glob("train_log.jsonl"))
    with pytest.raises(LangmixError, match=rf"model.{key}=600 is longer than the model's 510 positions"):
        train_tiny(make_config(f"model.{key}=600"), tmp_path / "run")


def test_device_cuda_n_is_the_gpu_it_names(monkeypatch):
    import torch

    from langmix import distributed as dist

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert dist.init_distributed("cuda:1").device == "cuda:1"  # was cuda:0 whatever N said
    assert dist.init_distributed("cuda").device == "cuda:0"
    with pytest.raises(LangmixError, match=r"device=cuda:2 names a GPU that is not there \(2 visible\)"):
        dist.init_distributed("cuda:2")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(LangmixError, match="puts all 2 torchrun processes on one GPU"):
        dist.init_distributed("cuda:1")
