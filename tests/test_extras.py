"""Optional dependencies: the main job (train + LAReQA evaluation) runs without the extras, and a feature that
needs one fails with one line naming it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from langmix.data.parallel import ParallelCorpus, ParallelRecord
from langmix.errors import LangmixError
from langmix.training.st_adapter import to_st_dataset
from langmix.vector_index import build_index

EXTRAS = ("accelerate", "datasets", "faiss")  # langmix[st] and langmix[search]
DISTRIBUTIONS = ("accelerate", "datasets", "faiss_cpu")  # their distributions' names
FIXTURES = Path(__file__).parent / "fixtures"


def test_a_missing_extra_is_one_line_naming_it(monkeypatch):
    for name in EXTRAS:
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    with pytest.raises(LangmixError, match=r"needs the package 'faiss'.* 'langmix\[search\]'"):
        build_index(np.eye(4, dtype=np.float32))
    corpus = ParallelCorpus([ParallelRecord("r", {"en": "q", "de": "f"}, {"en": "p", "de": "a"})])
    with pytest.raises(LangmixError, match=r"needs the package 'datasets'.* 'langmix\[st\]'") as err:
        to_st_dataset(corpus)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(("args", "missing", "extra"), [
    (["index", "xquad-r", "--out", "IDX"], "faiss", "search"),
    (["search", "IDX", "Wo liegt Berlin?"], "faiss", "search"),
    (["serve", "IDX"], "fastapi", "serve"),
    (["serve", "IDX"], "uvicorn", "serve"),
])
def test_search_commands_name_their_extra(cli, monkeypatch, tmp_path, args, missing, extra):
    """langmix index / search / serve without their extra: one line naming it, before any data or model loads."""
    monkeypatch.setitem(sys.modules, missing, None)
    line = cli(*[str(tmp_path / "idx") if a == "IDX" else a for a in args]).error_line()
    assert f"needs the package '{missing}'" in line and f"pip install 'langmix[{extra}]'" in line


def test_train_and_evaluate_without_the_extras(tiny_model_path, tmp_path):
    """What `langmix reproduce` does to a cell, in a process where accelerate, datasets and faiss are not
    installed (the README's first command installs langmix without extras): they can neither be imported nor
    be found by the metadata look-ups (sentence-transformers imports ``datasets`` when it finds its metadata)."""
    overrides = [f"model.name={tiny_model_path}", f"data.corpus=jsonl:{FIXTURES / 'training' / 'xquad-r-slice.jsonl'}",
                 "model.max_query_length=24", "model.max_passage_length=48", "data.dev_fraction=0.25",
                 "batch_size=8", "max_steps=2", "eval_every=2", "threads=1", "device=cpu"]
    code = f"""
import importlib.metadata as metadata
import sys
for name in {EXTRAS!r}:
    sys.modules[name] = None
from_name = metadata.Distribution.from_name.__func__

def hidden(cls, name):
    if name.replace("-", "_") in {DISTRIBUTIONS!r}:
        raise metadata.PackageNotFoundError(name)
    return from_name(cls, name)

metadata.Distribution.from_name = classmethod(hidden)
from langmix.training.config import load_config
from langmix.evaluation.runner import run_evaluation
from langmix.training.loop import train

result = train(load_config(None, {overrides!r}), {str(tmp_path / "train")!r})
run_evaluation(str(result.best_model_dir), "lareqa:{FIXTURES / 'data' / 'xquad-r'}", {str(tmp_path / "eval")!r},
               candidates="sentence", use_cache=False)
print("loaded:", [name for name in {EXTRAS!r} if sys.modules.get(name) is not None])
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "loaded: []" in done.stdout and (tmp_path / "eval" / "results.json").is_file()
