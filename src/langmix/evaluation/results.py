"""What an evaluation produces: LAReQA and retrieval results, and their JSON-ready record.

Both hold flat metrics (``<benchmark>/<view>/<metric>``) and the per-query scores behind them (metric key ->
unit id -> score), so paired significance tests (:mod:`.compare`) can work on any two results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class LareqaResult:
    """Flat metrics plus the per-query scores behind them (keys ``<benchmark>/<view>/<metric>``)."""

    benchmark: str
    mode: str
    langs: list[str]
    metrics: dict[str, float]
    per_query: dict[str, dict[str, float]]  # metric key -> unit id -> score
    pair_map: np.ndarray  # (nL, nL) mAP of query language X (row) against pool language Y; NaN: no shared ids
    info: dict[str, object] = field(default_factory=dict)

    def rank_distances(self) -> dict[str, np.ndarray]:
        """Per query language, the rank distances of its queries (NaN-free)."""
        values = self.per_query.get(f"{self.benchmark}/rank_distance", {})
        return {
            lang: np.array([v for u, v in values.items() if u.split(":", 1)[0] == lang])
            for lang in self.langs
        }


@dataclass
class RetrievalResult:
    benchmark: str
    metrics: dict[str, float]  # "<name>/ndcg@10", ...
    per_query: dict[str, dict[str, float]]  # metric key -> qid -> score
    info: dict[str, object] = field(default_factory=dict)


Result = LareqaResult | RetrievalResult


def result_record(result: Result, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON-ready summary of a run (every aggregate number; per-query scores go to per_query.json)."""
    record: dict[str, Any] = {
        "benchmark": result.benchmark,
        **(extra or {}),
        "metrics": _clean(result.metrics),
        "info": result.info,
    }
    if isinstance(result, LareqaResult):
        record["candidate_mode"] = result.mode
        record["languages"] = result.langs
        record["pair_map"] = {
            x: {y: _num(result.pair_map[i, j]) for j, y in enumerate(result.langs)}
            for i, x in enumerate(result.langs)
        }
        rd = np.concatenate(list(result.rank_distances().values()) or [np.zeros(0)])
        counts, edges = np.histogram(rd, bins=20) if rd.size else (np.zeros(0), np.zeros(0))
        record["rank_distance_histogram"] = {"counts": counts.tolist(), "edges": edges.tolist()}
    return record


def headline_metrics(result: Result) -> dict[str, float]:
    """The aggregate metrics, without per-language and per-pair breakdowns."""
    langs = set(getattr(result, "langs", []))

    def breakdown(key: str) -> bool:
        last = key.rsplit("/", 1)[-1]
        return last in langs or last.split("-")[0] in langs

    return {k: v for k, v in result.metrics.items() if not breakdown(k)}


def _num(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _clean(metrics: dict[str, float]) -> dict[str, float | None]:
    return {k: _num(v) for k, v in metrics.items()}  # NaN is not JSON
