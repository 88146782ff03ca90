"""The dev set of a finished training run, rebuilt: the held-out training questions its model was selected on.

A choice made after training (a WiSE-FT lambda, :mod:`langmix.model.merge`) is made on the same data the run used
to select its best model, never on a test set: the run's resolved ``config.json`` gives the training data,
the split seed and the dev benchmark; the split is rebuilt by id, as training did, and checked against the
run's ``data.json`` fingerprint, so a changed training file cannot silently give other dev questions.
"""

from __future__ import annotations

from pathlib import Path

from langmix.errors import LangmixError
from langmix.evaluation.lareqa import LareqaEvaluator, dev_evaluator
from langmix.io import read_json
from langmix.training.config import absolute_data_paths, from_dict
from langmix.training.run_folder import DATA_FILE, data_record


def run_dev_evaluator(run_dir: str | Path) -> tuple[LareqaEvaluator, str]:
    """The LAReQA dev evaluator of the run in ``run_dir`` (its held-out training questions, in the run's
    candidate mode and precision) and the dev metric the run selected its model on."""
    from langmix.training.loop import load_training_data, selection

    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise LangmixError(f"{run_dir} is not a langmix train run folder (no config.json)",
                           "give the --out folder of 'langmix train' or a reproduce cell's train/ folder")
    # the run records its data paths relative to its folder (older runs: absolute, unchanged by this)
    config = absolute_data_paths(from_dict(read_json(run_dir / "config.json")), run_dir)
    if not config.data.dev_benchmark:
        raise LangmixError(f"the run in {run_dir} has no dev benchmark (data.dev_benchmark is null), so no dev mAP",
                           "give a run trained with data.dev_benchmark set, e.g. a reproduce cell's train/ folder")
    train, dev = load_training_data(config)
    saved = read_json(run_dir / DATA_FILE) if (run_dir / DATA_FILE).is_file() else {}
    if saved and saved.get("fingerprint") != data_record(train, dev)["fingerprint"]:
        raise LangmixError(f"the training data named in {run_dir}/config.json differ from those the run was "
                           f"trained on ({run_dir}/{DATA_FILE})", "restore the run's training data files")
    evaluator = dev_evaluator(config.data.dev_benchmark, [r.id for r in dev.records], config.data.dev_candidates,
                              config.data.languages, config.precision)
    metric, _ = selection(config, evaluator)
    return evaluator, metric
