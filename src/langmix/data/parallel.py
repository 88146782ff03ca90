"""Parallel training corpora: records grouping the translations of one question, splits and mixing.

A :class:`ParallelRecord` holds, per language, a query, its positive passage and optional hard
negatives. All translations of one question share the record's ``id``; batch samplers
(:mod:`langmix.training.sampling`) put each record at most once into a batch, so a translation of a query's
passage is never one of its in-batch negatives.

A (query language, passage language) combination of a record is

* *mono* when both languages are equal and the record has a query and a passage in it
  (never for ``cross_only`` records, see below);
* *cross* when the languages differ, the query exists in the first and the passage in the second.

``cross_only`` marks records whose passage in a language is the query itself (MKQA: the passage of
a question is the same question in another language). A mono pair would then be a copy of its
query, a trivial positive, so samplers only ever draw cross pairs from such records.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property

import torch

from langmix.errors import LangmixError


@dataclass(frozen=True)
class ParallelRecord:
    id: str  # group id shared by all translations of one question
    queries: dict[str, str]  # lang -> query text
    passages: dict[str, str]  # lang -> positive passage text
    negatives: dict[str, tuple[str, ...]] = field(default_factory=dict)  # lang -> hard negatives
    source: str = ""  # corpus it came from, for mixing and logging
    cross_only: bool = False  # passages are translations of the query: no mono pairs (MKQA)

    @cached_property
    def mono_languages(self) -> tuple[str, ...]:
        """Languages with a query and a passage, usable for a monolingual pair (none if cross-only)."""
        if self.cross_only:
            return ()
        return tuple(sorted(set(self.queries) & set(self.passages)))

    @cached_property
    def cross_pairs(self) -> tuple[tuple[str, str], ...]:
        """(query language, passage language) pairs with different languages, sorted."""
        return tuple((q, p) for q in sorted(self.queries) for p in sorted(self.passages) if q != p)

    @property
    def languages(self) -> set[str]:
        return set(self.queries) | set(self.passages)

    def restrict(self, langs: set[str]) -> ParallelRecord:
        """The same record with only the languages in ``langs``."""
        return replace(
            self,
            queries={k: v for k, v in self.queries.items() if k in langs},
            passages={k: v for k, v in self.passages.items() if k in langs},
            negatives={k: v for k, v in self.negatives.items() if k in langs},
        )


@dataclass
class ParallelCorpus:
    """A list of records with unique ids; ``name`` is used in logs and error messages."""

    records: list[ParallelRecord]
    name: str = ""

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for record in self.records:
            if record.id in seen:
                raise LangmixError(
                    f"corpus '{self.name}' holds record id '{record.id}' twice",
                    "give every group of translations one unique id",
                )
            seen.add(record.id)

    def __len__(self) -> int:
        return len(self.records)

    def fingerprint(self) -> str:
        """SHA-256 of every record's content, in order: equal exactly when the same records would be used."""
        digest = hashlib.sha256()
        for r in self.records:
            row = [r.id, r.queries, r.passages, r.negatives, r.source, r.cross_only]
            digest.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode("utf-8"))
        return digest.hexdigest()

    @property
    def languages(self) -> list[str]:
        """Sorted languages present in any record (as query or passage)."""
        return sorted(set().union(*(r.languages for r in self.records)))

    def split(self, dev_fraction: float, seed: int) -> tuple[ParallelCorpus, ParallelCorpus]:
        """(train, dev) split by record id, never by row: all translations of a question stay together.

        A record goes to dev iff ``u(seed, id) < dev_fraction`` where ``u`` maps the BLAKE2b hash of
        ``"<seed>:<id>"`` to [0, 1). The assignment of an id depends only on (seed, id), so adding or
        removing other records never moves it.
        """
        if not 0.0 <= dev_fraction < 1.0:
            raise LangmixError(f"dev_fraction {dev_fraction} is outside [0, 1)", "use e.g. 0.1")
        dev_ids = {r.id for r in self.records if unit_hash(f"{seed}:{r.id}") < dev_fraction}
        train = [r for r in self.records if r.id not in dev_ids]
        dev = [r for r in self.records if r.id in dev_ids]
        if not train or (dev_fraction > 0 and not dev):
            raise LangmixError(
                f"splitting {len(self)} records of '{self.name}' with dev_fraction {dev_fraction} "
                f"leaves {len(train)} train and {len(dev)} dev records",
                "use more data or another dev_fraction",
            )
        return ParallelCorpus(train, f"{self.name}/train"), ParallelCorpus(dev, f"{self.name}/dev")

    def filter_languages(self, langs: str | Iterable[str]) -> ParallelCorpus:
        """Keep only ``langs``; records left without any mono or cross pair are dropped."""
        wanted = set(as_languages(langs))
        check_languages(wanted, self.languages, self.name)
        kept = [r.restrict(wanted) for r in self.records]
        kept = [r for r in kept if r.mono_languages or r.cross_pairs]
        if not kept:
            raise LangmixError(
                f"no record of '{self.name}' has a usable pair in {', '.join(sorted(wanted))}",
                "choose more languages",
            )
        return ParallelCorpus(kept, self.name)


@dataclass(frozen=True)
class Pair:
    """One training example chosen by a sampler."""

    record: int  # index into corpus.records
    query_lang: str
    passage_lang: str


def as_languages(languages: str | Iterable[str] | None) -> list[str] | None:
    """A language selection as a list of codes: an iterable of codes, or one string ``"en"`` or
    ``"en,de"`` (as on the command line), which is never read letter by letter."""
    if languages is None:
        return None
    if isinstance(languages, str):
        return [code.strip() for code in languages.split(",") if code.strip()]
    codes = list(languages)
    if not all(isinstance(code, str) and code for code in codes):
        raise LangmixError(f"languages {codes!r} hold a non-code", "give language codes such as ['en', 'de']")
    return codes


def check_languages(wanted: Iterable[str], available: Iterable[str], name: str) -> None:
    """One-line error naming the languages ``name`` lacks and those it has."""
    missing = sorted(set(wanted) - set(available))
    if missing:
        raise LangmixError(
            f"'{name}' has no language {', '.join(missing)}",
            f"choose among {', '.join(sorted(available)) or 'none'}",
        )


def unit_hash(text: str) -> float:
    """Deterministic map of a string to [0, 1), identical across runs and machines (unlike ``hash``)."""
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def mix(corpora: list[ParallelCorpus], weights: list[float] | None, seed: int) -> ParallelCorpus:
    """Mix corpora so that corpus ``i`` supplies the share ``w_i / sum(w)`` of the records.

    ``weights=None`` concatenates everything (shares proportional to the sizes). Otherwise records are
    subsampled without replacement (repeating a record would put copies of one question into a batch):
    the mixture has ``N = min_i n_i / w_i`` records (weights normalised), of which ``round(w_i N)`` are a
    seeded random subset of corpus ``i``. Ids must be unique across corpora (loaders prefix them with
    the source name).
    """
    if not corpora:
        raise LangmixError("no corpus to mix", "give at least one data source")
    name = "+".join(c.name for c in corpora)
    if weights is None:
        return ParallelCorpus([r for c in corpora for r in c.records], name)
    if len(weights) != len(corpora) or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise LangmixError(
            f"weights {weights} do not fit {len(corpora)} corpora",
            "give one non-negative weight per corpus, not all zero",
        )
    shares = [w / sum(weights) for w in weights]
    total = min(len(c) / s for c, s in zip(corpora, shares, strict=True) if s > 0)
    generator = torch.Generator().manual_seed(seed)
    records = []
    for corpus, share in zip(corpora, shares, strict=True):
        order = torch.randperm(len(corpus), generator=generator).tolist()
        records += [corpus.records[i] for i in sorted(order[: round(share * total)])]
    return ParallelCorpus(records, name)

