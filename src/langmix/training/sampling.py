"""Batch samplers deciding the language make-up of each training batch (the study's variable).

Every sampler yields lists of :class:`~langmix.data.parallel.Pair` (record index, query language,
passage language), never text, and obeys two rules:

* each record appears at most once per batch, so no translation of a query's passage is one of its
  in-batch negatives (records have unique ids, see :class:`~langmix.data.parallel.ParallelCorpus`);
* all randomness comes from the sampler's own ``torch.Generator``, reseeded with ``seed + epoch`` at
  the top of ``__iter__``: the batches are a pure function of (corpus, options, seed, epoch).

Strategies (``make_sampler`` builds one by name):

``x-x-mono``  one language per batch for every query and passage. The language ``l`` is drawn per batch
              with probability ``n_l / sum_k n_k``, ``n_l`` = records with a query and a passage in ``l``;
              the batch's records are drawn among those ``n_l``. A language with ``n_l < batch_size``
              cannot fill a batch and is skipped with a warning.
``x-y``       every pair cross-lingual: (query language, passage language) drawn uniformly per pair among
              the record's combinations with different languages.
``hybrid``    per batch an ``x-x-mono`` batch with probability ``alpha``, else an ``x-y`` batch.
              ``alpha="proportional"`` sets ``alpha = M / (M + C)`` with ``M`` the number of mono and ``C``
              the number of cross (record, query language, passage language) combinations in the data.
``x-x``       languages mixed within the batch, each pair monolingual (its language drawn per pair).
``en-en``     English queries and passages only.

Records are drawn from per-pool random orders (a new order once a pool runs short), so within an
epoch a record repeats only after its pool has been used up. An epoch has ``floor(n / batch_size)``
batches (``ceil`` without ``drop_last``), ``n`` = records the strategy can use.

Checkpoints and resuming: ``state_dict()`` holds (strategy, seed, epoch, batch size, ...). To resume
in the middle of epoch ``e`` after ``k`` batches, ``load_state_dict`` (or ``set_epoch(e)``) and skip
the first ``k`` batches of ``iter(sampler)``: iteration replays exactly.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import torch

from langmix.data.parallel import Pair, ParallelCorpus, check_languages
from langmix.errors import LangmixError

BatchSource = Callable[[int], list[Pair]]  # batch size -> next batch, drawing from one generator


class _Stream:
    """Endless draws of distinct items: the items in a random order, reshuffled when fewer than k remain."""

    def __init__(self, items: list[int], generator: torch.Generator) -> None:
        self.items, self.generator = items, generator
        self.order: list[int] = []
        self.position = 0

    def take(self, k: int) -> list[int]:
        if self.position + k > len(self.order):
            # the short leftover is dropped so that the k items stay distinct
            self.order = [self.items[i] for i in torch.randperm(len(self.items), generator=self.generator).tolist()]
            self.position = 0
        self.position += k
        return self.order[self.position - k : self.position]


def _pick(options: list[tuple], generator: torch.Generator) -> list:
    """One uniformly drawn element of each ``options[i]`` (all draws from one ``torch.rand`` call)."""
    u = torch.rand(len(options), generator=generator).tolist()
    return [choices[min(int(x * len(choices)), len(choices) - 1)] for x, choices in zip(u, options, strict=True)]


class LanguageBatchSampler:
    """Base class: options, epoch handling, length and the seeded generator; subclasses give batches.

    A subclass sets ``strategy``, computes ``self.size`` (records it can use) in ``_prepare`` and
    returns a :data:`BatchSource` from ``_source(generator)``.
    """

    strategy: ClassVar[str] = ""

    def __init__(
        self,
        corpus: ParallelCorpus,
        batch_size: int,
        seed: int = 0,
        drop_last: bool = True,
        languages: list[str] | None = None,
        **kw,
    ) -> None:
        if kw:
            raise LangmixError(
                f"{self.strategy} sampler got unknown option(s) {', '.join(kw)}",
                "valid options: batch_size, seed, drop_last, languages (alpha for hybrid)",
            )
        if batch_size < 1:
            raise LangmixError(f"batch_size {batch_size} must be at least 1", "use e.g. 32")
        if languages is not None:
            check_languages(languages, corpus.languages, corpus.name or "corpus")
        self.corpus, self.batch_size, self.seed, self.drop_last = corpus, batch_size, seed, drop_last
        self.languages = set(languages) if languages is not None else set(corpus.languages)
        self.epoch = 0
        self.size = self._prepare()
        if self.size < batch_size:
            raise LangmixError(
                f"{self.strategy} batches of {batch_size} need that many records but "
                f"'{corpus.name or 'corpus'}' has {self.size} usable ones",
                "lower batch_size or add data",
            )

    # ------------------------------------------------------------------ for subclasses
    def _prepare(self) -> int:
        raise NotImplementedError

    def _source(self, generator: torch.Generator) -> BatchSource:
        raise NotImplementedError

    def _mono_languages(self, index: int) -> tuple[str, ...]:
        return tuple(lang for lang in self.corpus.records[index].mono_languages if lang in self.languages)

    def _cross_pairs(self, index: int) -> tuple[tuple[str, str], ...]:
        return tuple(
            p for p in self.corpus.records[index].cross_pairs if p[0] in self.languages and p[1] in self.languages
        )

    # ------------------------------------------------------------------ sampler protocol
    def __len__(self) -> int:
        """Batches per epoch: ``floor(size / batch_size)``, or ``ceil`` when the last short batch is kept."""
        return self.size // self.batch_size if self.drop_last else math.ceil(self.size / self.batch_size)

    def __iter__(self) -> Iterator[list[Pair]]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        source = self._source(generator)
        for number in range(len(self)):
            yield source(min(self.batch_size, self.size - number * self.batch_size))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def state_dict(self) -> dict:
        return {
            "strategy": self.strategy,
            "seed": self.seed,
            "epoch": self.epoch,
            "batch_size": self.batch_size,
            "drop_last": self.drop_last,
            "languages": sorted(self.languages),
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore seed and epoch; the options that shape batches must match the checkpoint's."""
        mine = self.state_dict()
        for key in ("strategy", "batch_size", "drop_last", "languages", "alpha"):
            if key in state and state[key] != mine.get(key):
                raise LangmixError(
                    f"checkpoint sampler has {key}={state[key]!r} but this run {mine.get(key)!r}",
                    "resume with the configuration the checkpoint was trained with",
                )
        self.seed, self.epoch = int(state["seed"]), int(state["epoch"])


class XXMonoBatchSampler(LanguageBatchSampler):
    """``x-x-mono``: a whole batch in one language ``l``, drawn per batch with probability ``n_l / sum n``."""

    strategy = "x-x-mono"

    def _prepare(self) -> int:
        self.pools: dict[str, list[int]] = {}
        for index in range(len(self.corpus)):
            for lang in self._mono_languages(index):
                self.pools.setdefault(lang, []).append(index)
        if not self.pools:
            raise LangmixError(
                f"no record of '{self.corpus.name}' has a query and a passage in one language "
                f"of {', '.join(sorted(self.languages))}",
                "x-x-mono needs monolingual pairs; use x-y for translation-only data such as mkqa",
            )
        small = {lang: len(p) for lang, p in self.pools.items() if len(p) < self.batch_size}
        if len(small) == len(self.pools):
            raise LangmixError(
                f"x-x-mono batches of {self.batch_size} cannot be filled in any language {small} "
                "(records per language)",
                "lower batch_size or add data",
            )
        if small:
            # a language too small for one batch cannot take part; say so rather than fail on big data sets
            warnings.warn(
                f"x-x-mono skips {small} (records per language): fewer than batch_size {self.batch_size}", stacklevel=3
            )
            self.pools = {lang: pool for lang, pool in self.pools.items() if lang not in small}
        self.langs = sorted(self.pools)
        self.weights = torch.tensor([len(self.pools[lang]) for lang in self.langs], dtype=torch.float64)
        self.members = set().union(*map(set, self.pools.values()))
        return len(self.members)

    def _source(self, generator: torch.Generator) -> BatchSource:
        streams = {lang: _Stream(self.pools[lang], generator) for lang in self.langs}

        def batch(k: int) -> list[Pair]:
            lang = self.langs[int(torch.multinomial(self.weights, 1, generator=generator))]
            return [Pair(i, lang, lang) for i in streams[lang].take(k)]

        return batch


class _PerPairSampler(LanguageBatchSampler):
    """Records drawn from one pool; each pair's (query, passage) languages drawn among ``_options``."""

    def _options(self, index: int) -> tuple[tuple[str, str], ...]:
        raise NotImplementedError

    def _prepare(self) -> int:
        options = [self._options(i) for i in range(len(self.corpus))]
        self.eligible = [i for i, o in enumerate(options) if o]
        self.options = {i: options[i] for i in self.eligible}
        return len(self.eligible)

    def _source(self, generator: torch.Generator) -> BatchSource:
        stream = _Stream(self.eligible, generator)

        def batch(k: int) -> list[Pair]:
            records = stream.take(k)
            chosen = _pick([self.options[i] for i in records], generator)
            return [Pair(i, q, p) for i, (q, p) in zip(records, chosen, strict=True)]

        return batch


class XYBatchSampler(_PerPairSampler):
    """``x-y``: every pair has query language != passage language, drawn uniformly among the record's."""

    strategy = "x-y"

    def _prepare(self) -> int:
        if len(self.languages) < 2:
            raise LangmixError(
                f"x-y needs at least 2 languages but '{self.corpus.name}' offers "
                f"{', '.join(sorted(self.languages)) or 'none'}",
                "add languages or use x-x-mono",
            )
        return super()._prepare()

    def _options(self, index: int) -> tuple[tuple[str, str], ...]:
        return self._cross_pairs(index)


class XXBatchSampler(_PerPairSampler):
    """``x-x``: languages mixed in a batch, each pair monolingual in a language drawn per pair."""

    strategy = "x-x"

    def _options(self, index: int) -> tuple[tuple[str, str], ...]:
        return tuple((lang, lang) for lang in self._mono_languages(index))


class EnEnBatchSampler(XXBatchSampler):
    """``en-en``: English queries and English passages only."""

    strategy = "en-en"

    def __init__(self, corpus: ParallelCorpus, batch_size: int, seed: int = 0, drop_last: bool = True, **kw) -> None:
        if kw.pop("languages", None) not in (None, ["en"]):
            raise LangmixError("en-en samples English only", "drop the languages option or use x-x")
        super().__init__(corpus, batch_size, seed, drop_last, languages=["en"], **kw)


class HybridBatchSampler(LanguageBatchSampler):
    """``hybrid``: per batch, an x-x-mono batch with probability ``alpha``, else an x-y batch.

    The two halves are an :class:`XXMonoBatchSampler` and an :class:`XYBatchSampler` drawing from this
    sampler's generator. An epoch has ``floor(n / batch_size)`` batches, ``n`` = records usable by
    either half.
    """

    strategy = "hybrid"

    def __init__(
        self,
        corpus: ParallelCorpus,
        batch_size: int,
        seed: int = 0,
        drop_last: bool = True,
        alpha: float | str = 0.5,
        **kw,
    ) -> None:
        self.requested_alpha = alpha
        super().__init__(corpus, batch_size, seed, drop_last, **kw)

    def _prepare(self) -> int:
        options = {"corpus": self.corpus, "batch_size": self.batch_size, "languages": sorted(self.languages)}
        alpha = self.requested_alpha
        if alpha == "proportional":
            mono = sum(len(self._mono_languages(i)) for i in range(len(self.corpus)))
            cross = sum(len(self._cross_pairs(i)) for i in range(len(self.corpus)))
            alpha = mono / max(mono + cross, 1)
        if isinstance(alpha, str) or not 0.0 <= alpha <= 1.0:
            raise LangmixError(
                f"alpha {self.requested_alpha!r} is not in [0, 1]",
                "use a number such as 0.5 or 'proportional'",
            )
        self.alpha = float(alpha)
        self.mono = XXMonoBatchSampler(**options) if self.alpha > 0 else None
        self.cross = XYBatchSampler(**options) if self.alpha < 1 else None
        return len((self.mono.members if self.mono else set()) | (set(self.cross.eligible) if self.cross else set()))

    def _source(self, generator: torch.Generator) -> BatchSource:
        mono = self.mono._source(generator) if self.mono else None
        cross = self.cross._source(generator) if self.cross else None

        def batch(k: int) -> list[Pair]:
            # one coin per batch from the shared generator, so the mono/x-y sequence replays with the seed
            heads = float(torch.rand(1, generator=generator)) < self.alpha
            return mono(k) if heads else cross(k)

        return batch

    def state_dict(self) -> dict:
        return {**super().state_dict(), "alpha": self.alpha}


SAMPLERS: dict[str, type[LanguageBatchSampler]] = {
    cls.strategy: cls
    for cls in (XXMonoBatchSampler, XYBatchSampler, HybridBatchSampler, XXBatchSampler, EnEnBatchSampler)
}
STRATEGIES: tuple[str, ...] = tuple(SAMPLERS)  # the names data.strategy and make_sampler take


def make_sampler(
    strategy: str, corpus: ParallelCorpus, batch_size: int, seed: int = 0, alpha: float | str = 0.5, **kw
) -> LanguageBatchSampler:
    """The sampler of ``strategy`` (one of :data:`STRATEGIES`); ``alpha`` is used by ``hybrid`` only."""
    if strategy not in SAMPLERS:
        raise LangmixError(f"unknown strategy '{strategy}'", f"use one of {', '.join(STRATEGIES)}")
    if strategy == "hybrid":
        kw["alpha"] = alpha
    return SAMPLERS[strategy](corpus, batch_size, seed=seed, **kw)


def batch_makeup(batch: list[Pair]) -> dict[str, Any]:
    """Language make-up of a batch for the training log: shares of mono and cross pairs, the languages used
    and the number of pairs per ``<query language>-<passage language>``."""
    mono = sum(p.query_lang == p.passage_lang for p in batch)
    counts: dict[str, int] = {}
    for p in batch:
        key = f"{p.query_lang}-{p.passage_lang}"
        counts[key] = counts.get(key, 0) + 1
    langs = sorted({p.query_lang for p in batch} | {p.passage_lang for p in batch})
    return {
        "mono_share": mono / len(batch),
        "cross_share": 1 - mono / len(batch),
        "languages": langs,
        "pair_counts": dict(sorted(counts.items())),
    }
