"""A rerun of a grid cell sees what the cell saw: the same training data, recreated with the fingerprint the
cell recorded, and the same batches, for every trained row.

``tests/fixtures/reproduce/batches.json`` holds, for each trained row of the medium grid's settings on the
tiny data (batch size 4, dev fraction 0.25, seed 0, both protocols), the data fingerprint a run writes to
``data.json``, the resolved alpha and a digest of every batch of the first two epochs (record id, query
language, passage language). A change to the data build, the dev split or a sampler that moves any of them
means that the committed cells no longer rerun on the batches they trained on: the test fails and says how
to accept such a change deliberately.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from langmix.distributed import DistEnv
from langmix.io import read_json, write_json
from langmix.reproduce.grid import build_grid
from langmix.reproduce.runner import cell_train_config, run_protocol_data
from langmix.reproduce.settings import ReproduceSettings, apply_train_overrides, make_settings
from langmix.training.loop import load_training_data
from langmix.training.run_folder import DATA_FILE, check_data, data_record
from langmix.training.sampling import make_sampler

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "fixtures" / "reproduce" / "batches.json"
UPDATE = "LANGMIX_UPDATE_GOLDEN"
ROWS = ["x-x-mono", "x-y", "hybrid", "hybrid-proportional", "x-x", "en-en"]
PROTOCOLS = ["xquad-to-mlqa", "mlqa-to-xquad"]


def medium_settings() -> ReproduceSettings:
    settings = make_settings(config_file=ROOT / "configs" / "reproduce-medium.yaml")
    # the tiny protocols hold 17-23 records: smaller batches, and a dev split that keeps some
    apply_train_overrides(settings, ["batch_size=4", "data.dev_fraction=0.25"])
    return settings


def cell_record(settings: ReproduceSettings, cell, out: Path) -> dict:
    """Data fingerprint, resolved alpha and the digest of two epochs of batches, as a cell's training sees them."""
    data = run_protocol_data(settings, cell.protocol, out)
    config = cell_train_config(settings.train_config(), cell, data.train_path)
    train, dev = load_training_data(config)
    sampler = make_sampler(config.data.strategy, train, config.batch_size, seed=config.seed, alpha=config.data.alpha)
    batches = []
    for epoch in (0, 1):  # the training loop's order: set_epoch, then the epoch's batches
        sampler.set_epoch(epoch)
        batches += [[[train.records[p.record].id, p.query_lang, p.passage_lang] for p in batch] for batch in sampler]
    return {
        "data_fingerprint": data_record(train, dev)["fingerprint"],
        "alpha": getattr(sampler, "alpha", None),  # what TrainResult.alpha records
        "batches": len(batches),
        "digest": hashlib.sha256(json.dumps(batches).encode()).hexdigest(),
    }


def test_every_rows_data_alpha_and_batches_match_the_golden_file(tiny_data, tmp_path):
    settings = medium_settings()
    cells = [c for c in build_grid(PROTOCOLS, ROWS, [0]) if c.trains]
    found = {cell.id: cell_record(settings, cell, tmp_path) for cell in cells}
    assert len(found) == len(ROWS) * len(PROTOCOLS)
    if os.environ.get(UPDATE):
        write_json(GOLDEN, found)
        pytest.skip(f"{UPDATE} is set: rewrote {GOLDEN.relative_to(ROOT)}")
    golden = read_json(GOLDEN)
    changed = sorted(cid for cid in found if found[cid] != golden.get(cid))
    assert not changed, (
        f"the training data, alpha or batches of {', '.join(changed)} changed for a fixed seed: committed grid "
        f"cells would no longer rerun on what they trained on. If that is deliberate, run `{UPDATE}=1 pytest "
        f"tests/reproduce/test_rerun.py`, commit {GOLDEN.relative_to(ROOT)}, and say in docs/reproduce.md "
        "('What a rerun gives') which committed cells ran before the change"
    )


def test_a_recreated_training_corpus_has_the_fingerprint_its_cell_recorded(tiny_data, tmp_path):
    settings = medium_settings()
    cell = next(c for c in build_grid(["xquad-to-mlqa"], ["hybrid"], [0]) if c.trains)
    first = run_protocol_data(settings, cell.protocol, tmp_path / "first")
    config = cell_train_config(settings.train_config(), cell, first.train_path)
    run = tmp_path / "cell"
    run.mkdir()
    check_data(run, *load_training_data(config), resuming=False, env=DistEnv())  # the cell's data.json
    # rebuilt from the sources in another process, with another string-hash seed (set order must not matter)
    script = ("import sys; from pathlib import Path; from test_rerun import medium_settings; "
              "from langmix.reproduce.runner import run_protocol_data; "
              "run_protocol_data(medium_settings(), 'xquad-to-mlqa', Path(sys.argv[1]))")
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).parent), *filter(None, [os.environ.get("PYTHONPATH")])])}
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "again")], env=env, check=True)
    again = tmp_path / "again" / "data" / cell.protocol / "train.jsonl"
    assert again.read_bytes() == first.train_path.read_bytes()
    rerun = cell_train_config(settings.train_config(), cell, again)
    check_data(run, *load_training_data(rerun), resuming=True, env=DistEnv())  # raises if the fingerprint differs
    assert read_json(run / DATA_FILE) == data_record(*load_training_data(rerun))
