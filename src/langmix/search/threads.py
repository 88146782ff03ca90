"""One query runs on one CPU thread: a single question is too little work to share out.

Encoding one short query and scanning the index for it take a few milliseconds; split over several
OpenMP threads, each step ends at a barrier that waits for the slowest thread. On a busy machine a
thread that lost its core stalls the barrier for a whole scheduler slice. Measured on the 2-core
machine under load (load average 5, ``nice -n 19``, MLQA-R index of 20,534 passages): one query's
encoding took 38 ms at p50 on 1 thread against 234 ms on 2; the faiss search 1.7 ms against 24 ms.
Building an index (batches of 64 passages) keeps every thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

QUERY_THREADS = 1


@contextlib.contextmanager
def cpu_threads(n: int = QUERY_THREADS) -> Iterator[None]:
    """torch's and faiss's thread counts set to ``n`` for the calling thread, restored on exit.

    OpenMP keeps the count per thread, so a server's worker thread must set it itself: hence a context
    around each call rather than one setting at start-up.
    """
    import torch

    from langmix.vector_index import import_faiss

    faiss = import_faiss()

    before_torch, before_faiss = torch.get_num_threads(), faiss.omp_get_max_threads()
    torch.set_num_threads(n)
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before_torch)
        faiss.omp_set_num_threads(before_faiss)
