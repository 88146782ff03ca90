"""The experiment grid: protocols (train data -> test set) x strategies x seeds, plus the alpha sweep.

A :class:`Cell` is one training run and its evaluation; its :attr:`Cell.id` names its folder and its entry
in the run's ``results.json``. Rows of the study's table are *labels*: a batch strategy plus, for hybrid,
its alpha (``hybrid`` = alpha 0.5, ``hybrid-proportional``, ``hybrid-a0.25`` ...). ``zero-shot`` is the
untrained model; it is deterministic, so it gets one cell whatever the seeds.
"""

from __future__ import annotations

from dataclasses import dataclass

from langmix.errors import LangmixError

XQUAD_LANGS = ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh")
MLQA_LANGS = ("ar", "de", "en", "es", "hi", "vi", "zh")


@dataclass(frozen=True)
class Protocol:
    """Train on ``lareqa_train`` (plus the extra parallel sources) in ``languages``; test on ``test``.

    ``article_split``: train and test on one benchmark, split by article (the test articles are held out
    of training entirely).
    """

    name: str
    lareqa_train: str
    test: str
    languages: tuple[str, ...]
    article_split: bool = False
    description: str = ""


PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol(
            "xquad-to-mlqa",
            "xquad-r",
            "mlqa-r",
            XQUAD_LANGS,
            description="train XQuAD-R (11 langs) + NTREX-128 + MKQA, test MLQA-R (7 langs)",
        ),
        Protocol(
            "mlqa-to-xquad",
            "mlqa-r",
            "xquad-r",
            MLQA_LANGS,
            description="train MLQA-R (7 langs) + NTREX-128 + MKQA in those languages, test XQuAD-R "
            "(11 langs; el, ru, th, tr unseen in training)",
        ),
        Protocol(
            "xquad-articles",
            "xquad-r",
            "xquad-r",
            XQUAD_LANGS,
            article_split=True,
            description="XQuAD-R article-disjoint: train on some articles (+ NTREX-128 + MKQA), "
            "test on the held-out articles",
        ),
    )
}

# row label -> (batch strategy or None for no training, hybrid alpha or None)
MAIN_ROWS: dict[str, tuple[str | None, float | str | None]] = {
    "zero-shot": (None, None),
    "en-en": ("en-en", None),
    "x-x": ("x-x", None),
    "x-x-mono": ("x-x-mono", None),
    "x-y": ("x-y", None),
    "hybrid": ("hybrid", 0.5),
    "hybrid-proportional": ("hybrid", "proportional"),
}
HYBRID_LABEL = "hybrid"  # the row every other row is tested against
DEFAULT_ALPHAS = (0.0, 0.25, 0.4, 0.5, 0.6, 0.75, 1.0)


def hybrid_label(alpha: float | str) -> str:
    """``hybrid`` for alpha 0.5 (the study's setting), ``hybrid-proportional``, else ``hybrid-a<alpha>``."""
    if alpha == "proportional":
        return "hybrid-proportional"
    if float(alpha) == 0.5:
        return HYBRID_LABEL
    return f"hybrid-a{float(alpha):g}"


@dataclass(frozen=True)
class Cell:
    protocol: str
    label: str  # table row
    strategy: str | None  # None: zero-shot (no training)
    alpha: float | str | None
    seed: int

    @property
    def id(self) -> str:
        return f"{self.protocol}/{self.label}/seed{self.seed}"

    @property
    def trains(self) -> bool:
        return self.strategy is not None


def build_grid(
    protocols: list[str],
    labels: list[str],
    seeds: list[int],
    alphas: list[float] | None = None,
    sweep_seeds: int = 1,
    row_seeds: dict[str, int] | None = None,
    seed_major: bool = False,
) -> list[Cell]:
    """Cells in run order: per protocol the main rows (every seed), then the alpha sweep.

    The sweep trains ``hybrid`` at each alpha with the first ``sweep_seeds`` seeds; alpha 0.5 *is* the
    ``hybrid`` row, so its cells are shared, never run twice. ``row_seeds`` gives a row fewer seeds (its
    first ``n``). ``seed_major`` orders the cells by seed first (every row and protocol of the first seed,
    then the second seed, ...), so a grid run across several sessions has a whole table early.
    """
    row_seeds = row_seeds or {}
    if row_seeds:
        check_names(list(row_seeds), MAIN_ROWS, "strategy")
    if any(n < 1 for n in row_seeds.values()):
        raise LangmixError(f"row_seeds {row_seeds} holds a count below 1", "give each row at least 1 seed")
    check_names(protocols, PROTOCOLS, "protocol")
    check_names(labels, MAIN_ROWS, "strategy")
    if not seeds:
        raise LangmixError("no seed given", "give at least one seed, e.g. --seeds 0,1,2")
    if len(set(seeds)) != len(seeds):
        raise LangmixError(f"seeds {seeds} repeat", "give distinct seeds")
    for alpha in alphas or []:
        if not 0.0 <= alpha <= 1.0:
            raise LangmixError(f"alpha {alpha} is outside [0, 1]", "give probabilities such as 0.25,0.5")
    cells: dict[str, Cell] = {}
    for protocol in protocols:
        for label in labels:
            strategy, alpha = MAIN_ROWS[label]
            for seed in seeds[: row_seeds.get(label, len(seeds))] if strategy is not None else seeds[:1]:
                _add(cells, Cell(protocol, label, strategy, alpha, seed))
        for alpha in alphas or []:
            for seed in seeds[: max(sweep_seeds, 1)]:
                _add(cells, Cell(protocol, hybrid_label(alpha), "hybrid", float(alpha), seed))
    ordered = list(cells.values())
    if seed_major:  # stable: within a seed, the protocol/row order above
        ordered.sort(key=lambda c: seeds.index(c.seed))
    return ordered


def _add(cells: dict[str, Cell], cell: Cell) -> None:
    cells.setdefault(cell.id, cell)


def check_names(names: list[str], known, what: str) -> None:
    unknown = [n for n in names if n not in known]
    if unknown:
        raise LangmixError(f"unknown {what} {', '.join(unknown)}", f"use some of {', '.join(known)}")
    if not names:
        raise LangmixError(f"no {what} selected", f"use some of {', '.join(known)}")
