"""The path docs/merge.md's earlier releases imported: the same module as :mod:`langmix.model.merge`."""

import sys

from langmix.model import merge

sys.modules[__name__] = merge
