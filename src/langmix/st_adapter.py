"""The path README.md and docs/sentence-transformers.md import: the module :mod:`langmix.training.st_adapter`."""

import sys

from langmix.training import st_adapter

sys.modules[__name__] = st_adapter
