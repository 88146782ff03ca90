"""Evaluation: LAReQA (mono / cross / multi mAP, rank distance, bias views), BEIR/MIRACL, reports, comparison.

Encode once, score many: embeddings are cached (:mod:`.cache`), every LAReQA pool is derived from one
blocked similarity pass (:mod:`.lareqa`), metrics are per-query functions of rank counts (:mod:`.metrics`);
results and their JSON record (:mod:`.results`) are written by :mod:`.report` and compared by :mod:`.compare`.
"""

from langmix.evaluation.beir import evaluate_retrieval, score_retrieval
from langmix.evaluation.cache import EmbeddingCache
from langmix.evaluation.compare import compare_runs
from langmix.evaluation.lareqa import LareqaEvaluator, evaluate_lareqa, score_lareqa, subset_benchmark
from langmix.evaluation.results import LareqaResult, RetrievalResult
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
