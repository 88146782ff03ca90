"""From a sampler's pairs to the texts of one rank's batch: queries, positive passages and hard negatives.

A global batch is a list of :class:`~langmix.data.parallel.Pair` (record, query language, passage language);
under ``torchrun`` each rank takes its contiguous slice (:func:`rank_slice`) and looks up the texts
(:func:`make_text_batch`): the query in the query language, the passage and up to ``N`` hard negatives in
the passage language. A record with fewer than ``N`` negatives leaves slots empty: ``negative_index`` says
which of the ``B * N`` slots the real negatives fill, and the loss masks the others out. The batch also
carries each pair's query and passage language (a hard negative is in its pair's passage language), which
the same-language distillation term of :mod:`langmix.training.losses` reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from langmix.data.parallel import Pair, ParallelCorpus
from langmix.distributed import DistEnv


@dataclass
class TextBatch:
    """The texts of one (rank-local) batch; hard negatives are flattened with their slot positions."""

    queries: list[str]
    positives: list[str]
    negatives: list[str]
    negative_index: Tensor  # (K,) slot of each real negative in the (B * N) negative block
    negative_slots: int  # B * N
    query_langs: list[str] = field(default_factory=list)  # (B,) language of each query
    passage_langs: list[str] = field(default_factory=list)  # (B,) language of each positive and its negatives


def make_text_batch(corpus: ParallelCorpus, pairs: Sequence[Pair], hard_negatives: int) -> TextBatch:
    """Texts for ``pairs`` (sampler output): query in the query language, passages in the passage language."""
    queries, positives, negatives, index = [], [], [], []
    for i, pair in enumerate(pairs):
        record = corpus.records[pair.record]
        queries.append(record.queries[pair.query_lang])
        positives.append(record.passages[pair.passage_lang])
        for j, text in enumerate(record.negatives.get(pair.passage_lang, ())[:hard_negatives]):
            negatives.append(text)
            index.append(i * hard_negatives + j)
    return TextBatch(
        queries, positives, negatives, torch.tensor(index, dtype=torch.long), len(pairs) * hard_negatives,
        [pair.query_lang for pair in pairs], [pair.passage_lang for pair in pairs],
    )


def rank_slice(pairs: list[Pair], env: DistEnv) -> list[Pair]:
    """This rank's contiguous share of the global batch (all ranks get the same size)."""
    per_rank = len(pairs) // env.world_size
    return pairs[env.rank * per_rank : (env.rank + 1) * per_rank]
