"""Index build time and search latency of ``langmix index`` / ``search`` / ``serve`` on a LAReQA pool.

Three phases, one process (the server in a child process, as ``langmix serve`` runs it):

1. **build**: ``build_search_index`` over the benchmark's candidates (MLQA-R sentences: 20,534), wall
   time from reading the passages to the complete folder (model load, encoding, faiss, writes);
2. **API**: single queries through ``Searcher.search`` (what ``langmix search`` calls): query encoding +
   faiss search + passage look-up, one at a time, p50 / p95 over ``--queries`` questions of the
   benchmark drawn across its languages (seeded), after ``--warmup`` queries; the encoding and the
   faiss search are also timed apart;
3. **server**: the same questions as HTTP GETs of ``/api/search`` on loopback, one at a time (p50 / p95),
   then ``--clients`` threads each sending requests back to back for ``--duration`` seconds: requests,
   errors (any non-200 answer or failed connection), throughput and latency under load.

Writes ``results/bench-search-latency-<benchmark>-<candidates>.json``. Targets (issue 15): p50 <= 50 ms,
p95 <= 150 ms for single queries; 16 clients for 60 s with no error.

    python benchmarks/search_latency.py                      # build + all phases (mlqa-r, sentence)
    python benchmarks/search_latency.py --reuse              # keep a complete index from an earlier run
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import environment, setup_threads, write_result  # noqa: E402
from langmix.data.lareqa import load_lareqa  # noqa: E402
from langmix.errors import LangmixError  # noqa: E402
from langmix.search import build_search_index, open_searchers, read_passages  # noqa: E402
from langmix.search.index import read_meta  # noqa: E402
from langmix.search.threads import cpu_threads  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "src"


def percentiles(ms: list[float]) -> dict[str, float]:
    values = np.asarray(ms)
    return {"n": len(ms), "p50_ms": round(float(np.percentile(values, 50)), 2),
            "p95_ms": round(float(np.percentile(values, 95)), 2), "mean_ms": round(float(values.mean()), 2),
            "max_ms": round(float(values.max()), 2)}


def sample_queries(benchmark: str, n: int, seed: int) -> list[str]:
    """``n`` questions of the benchmark, drawn without replacement over all its languages."""
    bench = load_lareqa(benchmark.removeprefix("lareqa:"))
    questions = [q.text for lang in bench.langs for q in bench.languages[lang].questions]
    pick = np.random.default_rng(seed).choice(len(questions), size=min(n, len(questions)), replace=False)
    return [questions[i] for i in pick]


def build_phase(args, folder: Path) -> dict:
    if args.reuse:
        try:
            meta = read_meta(folder)
            return {"reused": True, "count": meta["count"], "seconds": meta["build_seconds"]}
        except LangmixError:
            pass
    start = time.perf_counter()
    passages = read_passages(args.benchmark, args.candidates)
    build_search_index(passages, args.model, folder, batch_size=args.batch_size, source=args.benchmark)
    seconds = time.perf_counter() - start
    return {"reused": False, "count": len(passages), "seconds": round(seconds, 1),
            "passages_per_s": round(len(passages) / seconds, 1), "batch_size": args.batch_size}


def api_phase(folder: Path, queries: list[str], warmup: int, k: int) -> dict:
    searcher = open_searchers([folder])[0]
    for query in queries[:warmup]:
        searcher.search(query, k)
    total, cpu, encode, faiss_ms = [], [], [], []
    for query in queries[warmup:]:
        t0, c0 = time.perf_counter(), time.process_time()
        searcher.search(query, k)
        t1, c1 = time.perf_counter(), time.process_time()
        with cpu_threads():  # as search() runs them: see langmix.search.threads
            vector = searcher.encoder.encode(query)
            t2 = time.perf_counter()
            searcher.index.faiss_index.search(vector, k)
            t3 = time.perf_counter()
        total.append((t1 - t0) * 1e3)
        cpu.append((c1 - c0) * 1e3)
        encode.append((t2 - t1) * 1e3)
        faiss_ms.append((t3 - t2) * 1e3)
    # CPU time (all threads) shows how much of the wall time was waiting for a core on a shared machine
    return {"search": percentiles(total), "search_cpu_time": percentiles(cpu),
            "query_encoding_only": percentiles(encode), "faiss_search_only": percentiles(faiss_ms)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(folder: Path, port: int, timeout: float = 600.0) -> subprocess.Popen:
    """``langmix serve`` in a child process, returned once it answers."""
    cmd = [sys.executable, "-c", "from langmix.cli import main; main()", "serve", str(folder), "--port", str(port)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen(cmd, env=env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/indexes", timeout=5).read()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"langmix serve exited with {proc.returncode}") from None
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("langmix serve did not answer in time")


def get(port: int, query: str, k: int) -> tuple[int, float]:
    """(HTTP status, milliseconds) of one search request; status 0 when the connection failed."""
    url = f"http://127.0.0.1:{port}/api/search?" + urllib.parse.urlencode({"q": query, "k": k})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            json.loads(response.read())
            status = response.status
    except urllib.error.HTTPError as err:
        status = err.code
    except OSError:
        status = 0
    return status, (time.perf_counter() - start) * 1e3


def server_phase(port: int, queries: list[str], warmup: int, k: int) -> dict:
    for query in queries[:warmup]:
        get(port, query, k)
    answers = [get(port, query, k) for query in queries[warmup:]]
    errors = sum(status != 200 for status, _ in answers)
    return {**percentiles([ms for _, ms in answers]), "errors": errors}


def load_phase(port: int, queries: list[str], clients: int, duration: float, k: int) -> dict:
    """``clients`` threads sending requests back to back for ``duration`` seconds."""
    results: list[list[tuple[int, float]]] = [[] for _ in range(clients)]
    stop = time.monotonic() + duration

    def client(number: int) -> None:
        i = number
        while time.monotonic() < stop:
            results[number].append(get(port, queries[i % len(queries)], k))
            i += clients

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    answers = [a for per_client in results for a in per_client]
    statuses = sorted({status for status, _ in answers})
    return {"clients": clients, "duration_s": round(seconds, 1), "requests": len(answers),
            "errors": sum(status != 200 for status, _ in answers), "statuses": statuses,
            "requests_per_s": round(len(answers) / seconds, 2), "min_requests_per_client":
            min(len(r) for r in results), **percentiles([ms for _, ms in answers])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmark", default="mlqa-r", help="LAReQA benchmark whose candidates are indexed")
    parser.add_argument("--candidates", default="sentence", choices=("sentence", "context"))
    parser.add_argument("--model", default="multilingual-e5-small")
    parser.add_argument("--index-dir", type=Path, default=None, help="default: a folder under the temp dir")
    parser.add_argument("--reuse", action="store_true", help="keep a complete index found in --index-dir")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--queries", type=int, default=210, help="questions timed (warm-up included)")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    setup_threads(args.threads)
    env = environment("cpu")
    name = Path(args.benchmark.removeprefix("lareqa:")).name
    folder = args.index_dir or Path(tempfile.gettempdir()) / f"langmix-bench-index-{name}-{args.candidates}"
    queries = sample_queries(args.benchmark, args.queries, args.seed)
    out = {**env, "settings": vars(args) | {"index_dir": str(folder)}}
    out["build"] = build_phase(args, folder)
    print("build", out["build"], flush=True)
    out["api"] = api_phase(folder, queries, args.warmup, args.k)
    print("api", out["api"]["search"], flush=True)
    port = free_port()
    server = start_server(folder, port)
    try:
        out["server"] = server_phase(port, queries, args.warmup, args.k)
        print("server", out["server"], flush=True)
        out["server_load"] = load_phase(port, queries, args.clients, args.duration, args.k)
        print("server_load", out["server_load"], flush=True)
        out["server_alive_after_load"] = get(port, queries[0], args.k)[0] == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
    out["load_average_at_end"] = list(os.getloadavg())
    write_result(f"search-latency-{name}-{args.candidates}", out)


if __name__ == "__main__":
    main()
