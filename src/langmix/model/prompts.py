"""What an encoder is given, checked once: a prompt kind and its prompt, a list of texts, a loaded model.

One tower encodes both sides of retrieval; the side is chosen by a prompt (``query: `` / ``passage: ``,
the E5 convention) prepended to every text.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Literal

from langmix.errors import LangmixError

PROMPTS = {"query": "query: ", "passage": "passage: "}
Kind = Literal["query", "passage"]


def check_kind(kind: str) -> Kind:
    if kind not in PROMPTS:
        raise LangmixError(f"unknown prompt kind '{kind}'", "use 'query' or 'passage'")
    return kind  # type: ignore[return-value]


def check_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` as a non-empty list of strings. One bare string is refused: iterating it would embed
    every character on its own."""
    if isinstance(texts, str):
        raise LangmixError("texts is one string, not a list of texts", "pass a list, e.g. encode(model, [text], kind)")
    try:
        texts = list(texts)
    except TypeError as err:
        raise LangmixError(f"texts is {type(texts).__name__}, not a list of strings", "pass a list of strings") \
            from err
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise LangmixError(f"texts[{i}] is {type(text).__name__}, not a string", "pass strings only")
    if not texts:
        raise LangmixError("no texts to encode", "give at least one non-empty line")
    return texts


def check_model(model) -> None:
    """A loaded model (anything with ``encode``), not a name or a path (``str.encode`` is not a model's)."""
    if isinstance(model, str | bytes | os.PathLike) or not callable(getattr(model, "encode", None)):
        raise LangmixError(
            f"model is {type(model).__name__}, not a loaded model", "load it first: langmix.load_model(name_or_path)"
        )
