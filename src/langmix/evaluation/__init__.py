"""Evaluation: LAReQA (mono / cross / multi mAP, rank distance, bias views), BEIR/MIRACL, reports, comparison.

Encode once, score many: embeddings are cached (:mod:`.cache`), every LAReQA pool is derived from one
blocked similarity pass (:mod:`.lareqa`), metrics are per-query functions of rank counts (:mod:`.metrics`).
"""

from langmix.evaluation.beir import RetrievalResult, evaluate_retrieval, score_retrieval
from langmix.evaluation.cache import EmbeddingCache
from langmix.evaluation.compare import compare_runs
from langmix.evaluation.lareqa import (
    LareqaEvaluator,
    LareqaResult,
    evaluate_lareqa,
    score_lareqa,
    subset_benchmark,
)
from langmix.evaluation.runner import run_evaluation

__all__ = [
    "EmbeddingCache",
    "LareqaEvaluator",
    "LareqaResult",
    "RetrievalResult",
    "compare_runs",
    "evaluate_lareqa",
    "evaluate_retrieval",
    "run_evaluation",
    "score_lareqa",
    "score_retrieval",
    "subset_benchmark",
]
