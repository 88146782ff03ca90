"""``langmix reproduce``: the study's experiment (strategies x test sets x seeds, alpha sweep) with a report.

:mod:`.grid` defines protocols, rows and cells; :mod:`.data` builds each protocol's training corpus and
test set; :mod:`.runner` trains and evaluates the cells resumably; :mod:`.combine` copies cells run in
parallel run folders into one; :mod:`.report` renders report.md and figures from results.json; :mod:`.study`
holds the study's own numbers (marked as theirs).
"""

from langmix.reproduce.combine import combine_runs
from langmix.reproduce.grid import MAIN_ROWS, PROTOCOLS, Cell, build_grid
from langmix.reproduce.report import finalize, render
from langmix.reproduce.runner import run_reproduce
from langmix.reproduce.settings import PRESETS, ReproduceSettings, make_settings

__all__ = [
    "MAIN_ROWS",
    "PRESETS",
    "PROTOCOLS",
    "Cell",
    "ReproduceSettings",
    "build_grid",
    "combine_runs",
    "finalize",
    "make_settings",
    "render",
    "run_reproduce",
]
