"""langmix: train and evaluate multilingual dense retrievers with hybrid (mono + cross-lingual) batches."""

from langmix.errors import LangmixError
from langmix.model.load import DEFAULT_MODEL, encode, load_model

__version__ = "0.1.0"
__all__ = ["DEFAULT_MODEL", "LangmixError", "encode", "load_model", "__version__"]
