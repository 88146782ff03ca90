"""The ``langmix`` command (:mod:`.root`): importing a subcommand module registers its commands on the app,
in the order of ``langmix --help``."""

from langmix.cli import model, evaluate, train, merge, reproduce, search, serve  # noqa: F401, I001
from langmix.cli.root import app, main

__all__ = ["app", "main"]
