"""langmix batch samplers inside sentence-transformers' ``SentenceTransformerTrainer``.

The trainer feeds rows of a ``datasets.Dataset`` to a batch sampler that yields row indices. The
adapter therefore enumerates every usable (record, query language, passage language) combination of
a corpus in a fixed order (:func:`st_rows`), stores one row per combination (:func:`to_st_dataset`,
columns ``anchor``, ``positive`` and optionally ``negative``, with the ``"query: "`` / ``"passage: "``
prompts prepended), and translates each :class:`~langmix.data.parallel.Pair` drawn by a langmix
sampler into its row (:class:`LangmixBatchSampler`). Usage (docs/sentence-transformers.md)::

    dataset = to_st_dataset(corpus)
    args = SentenceTransformerTrainingArguments(..., batch_sampler=st_batch_sampler(corpus, "hybrid", alpha=0.5))

Needs the ``st`` extra (``pip install 'langmix[st]'``: ``datasets`` and ``accelerate``, which the trainer
needs too). The dataset has one row per combination (for 11 fully parallel languages 121 rows per record), so
restrict languages (``corpus.filter_languages``) or use short passages for large corpora.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

import torch

from langmix.data.parallel import Pair, ParallelCorpus
from langmix.errors import LangmixError, require
from langmix.model.prompts import PROMPTS
from langmix.training.sampling import make_sampler

try:  # sentence-transformers >= 6 moved the samplers to base/
    from sentence_transformers.base.sampler import DefaultBatchSampler
except ImportError:  # pragma: no cover - older sentence-transformers
    from sentence_transformers.sampler import DefaultBatchSampler

ROW_PROMPTS = (PROMPTS["query"], PROMPTS["passage"])  # prepended to the anchor and positive columns


def st_rows(corpus: ParallelCorpus) -> list[Pair]:
    """Every pair a sampler may draw, in dataset row order: per record its mono then its cross pairs."""
    rows = []
    for index, record in enumerate(corpus.records):
        rows += [Pair(index, lang, lang) for lang in record.mono_languages]
        rows += [Pair(index, q, p) for q, p in record.cross_pairs]
    return rows


def to_st_dataset(corpus: ParallelCorpus, negatives: bool = False, prompts: tuple[str, str] | None = ROW_PROMPTS):
    """A ``datasets.Dataset`` with ``anchor`` (query), ``positive`` (passage) and, if asked, ``negative``.

    The negative of a row is the first hard negative of its record in the passage language; every row
    must have one. ``prompts=None`` leaves the texts as they are (e.g. to use the trainer's ``prompts``).
    """
    dataset_class = require("datasets", "st", "to_st_dataset").Dataset
    query_prompt, passage_prompt = prompts or ("", "")
    rows = st_rows(corpus)
    records = corpus.records
    columns = {
        "anchor": [query_prompt + records[p.record].queries[p.query_lang] for p in rows],
        "positive": [passage_prompt + records[p.record].passages[p.passage_lang] for p in rows],
    }
    if negatives:
        lacking = [p for p in rows if not records[p.record].negatives.get(p.passage_lang)]
        if lacking:
            raise LangmixError(
                f"{len(lacking)} of {len(rows)} rows (e.g. record {records[lacking[0].record].id} "
                f"in {lacking[0].passage_lang}) have no hard negative",
                "keep only records with negatives or build the dataset without negatives",
            )
        columns["negative"] = [passage_prompt + records[p.record].negatives[p.passage_lang][0] for p in rows]
    return dataset_class.from_dict(columns)


class LangmixBatchSampler(DefaultBatchSampler):
    """A sentence-transformers batch sampler yielding the rows of a langmix sampler's pairs.

    Takes the trainer's arguments (dataset, batch_size, drop_last, valid_label_columns, generator, seed)
    plus ``corpus``, ``strategy``, ``alpha`` and further langmix sampler options; the trainer's
    ``seed`` seeds the langmix sampler and ``set_epoch`` is passed on.
    """

    def __init__(
        self,
        dataset,
        batch_size: int,
        drop_last: bool,
        valid_label_columns: list[str] | None = None,
        generator: torch.Generator | None = None,
        seed: int = 0,
        *,
        corpus: ParallelCorpus,
        strategy: str,
        alpha: float | str = 0.5,
        **kw,
    ) -> None:
        super().__init__(
            dataset,
            batch_size=batch_size,
            drop_last=drop_last,
            valid_label_columns=valid_label_columns,
            generator=generator,
            seed=seed,
        )
        rows = st_rows(corpus)
        if len(dataset) != len(rows):
            raise LangmixError(
                f"the training dataset has {len(dataset)} rows but corpus '{corpus.name}' {len(rows)} pairs",
                "build train_dataset with to_st_dataset(corpus)",
            )
        self.row_of = {pair: number for number, pair in enumerate(rows)}
        self.sampler = make_sampler(strategy, corpus, batch_size, seed=seed, alpha=alpha, drop_last=drop_last, **kw)

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        self.sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.sampler:
            yield [self.row_of[pair] for pair in batch]

    def __len__(self) -> int:
        return len(self.sampler)


def st_batch_sampler(corpus: ParallelCorpus, strategy: str, alpha: float | str = 0.5, **kw) -> Callable:
    """The value for ``SentenceTransformerTrainingArguments(batch_sampler=...)``."""
    require("accelerate", "st", "sentence-transformers' trainer")
    return functools.partial(LangmixBatchSampler, corpus=corpus, strategy=strategy, alpha=alpha, **kw)
