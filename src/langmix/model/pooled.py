"""A Hugging Face encoder as a sentence-transformers model: encoder -> mean pooling -> L2 normalisation.

The shape of every model langmix builds or converts (the embedded default, random test models, any plain
transformer folder), with the prompts of :mod:`langmix.model.prompts`. Hugging Face's own progress bars (weights
loaded, shards written) are turned off while langmix loads and saves models: a run prints one bar per
level of its work, not one per model file.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

from langmix.model.prompts import PROMPTS


@contextlib.contextmanager
def quiet_hf_progress() -> Iterator[None]:
    """Hugging Face's progress bars (transformers and the hub) off inside, as they were after."""
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()


def _st_modules():
    try:  # sentence-transformers >= 6
        from sentence_transformers.sentence_transformer import modules
    except ImportError:
        from sentence_transformers import models as modules
    return modules


def mean_pooled(source: str | Path, max_seq_length: int = 512, device: str | None = None):
    """A transformer folder or hub name wrapped as encoder -> mean pooling -> L2 normalisation."""
    from sentence_transformers import SentenceTransformer

    modules = _st_modules()
    with quiet_hf_progress():
        word = modules.Transformer(str(source), max_seq_length=max_seq_length)
    pool = modules.Pooling(word.get_embedding_dimension(), pooling_mode="mean")
    return SentenceTransformer(modules=[word, pool, modules.Normalize()], device=device or "cpu",
                               prompts=dict(PROMPTS))


def save_encoder(encoder, tokenizer, folder: str | Path, max_seq_length: int = 512) -> Path:
    """Save a Hugging Face encoder and tokenizer as a mean-pooled sentence-transformers model in ``folder``."""
    folder = Path(folder)
    hf_dir = folder / "_hf"
    with quiet_hf_progress():
        encoder.save_pretrained(hf_dir)
        tokenizer.save_pretrained(hf_dir)
        mean_pooled(hf_dir, max_seq_length).save(str(folder))
    shutil.rmtree(hf_dir)
    return folder
