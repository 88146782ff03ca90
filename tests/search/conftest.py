"""Fixtures of the search tests: the small multilingual collection, its indexes, and a live server."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

COLLECTION = Path(__file__).resolve().parents[1] / "fixtures" / "search" / "multilingual.jsonl"
LANGUAGES = {"en", "de", "es", "zh", "ar", "hi"}


@pytest.fixture(scope="session")
def collection() -> Path:
    """31 passages: five facts in six languages, plus one holding HTML (see tests/fixtures/search/README.md)."""
    return COLLECTION


@pytest.fixture(scope="session")
def tiny_index(tmp_path_factory: pytest.TempPathFactory, tiny_model_path: Path) -> Path:
    """The collection indexed with the tiny random model (fast; rankings are arbitrary)."""
    from langmix.search import build_search_index, read_passages

    out = tmp_path_factory.mktemp("indexes") / "random-init"
    return build_search_index(read_passages(str(COLLECTION)), str(tiny_model_path), out, show_progress=False)


@pytest.fixture(scope="session")
def e5_index(tmp_path_factory: pytest.TempPathFactory, embedded_model_path: Path) -> Path:
    """The collection indexed with the real multilingual-e5-small."""
    from langmix.search import build_search_index, read_passages

    out = tmp_path_factory.mktemp("indexes") / "multilingual-e5-small"
    return build_search_index(read_passages(str(COLLECTION)), "multilingual-e5-small", out, show_progress=False)


def _damage(path: Path, where: str = "middle") -> None:
    """Change ``path`` in place without changing its size: one byte flipped in the middle or in the header
    (JSONL: every double quote made a single one, so that no line parses)."""
    data = bytearray(path.read_bytes())
    if path.suffix == ".jsonl":
        data = data.replace(b'"', b"'")
    else:
        data[12 if where == "header" else len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.fixture
def damage() -> Callable[[Path, str], None]:
    """Change a file in place without changing its size (see :func:`_damage`)."""
    return _damage


@pytest.fixture
def damaged_copy(tmp_path: Path) -> Callable[..., Path]:
    """``make(index, file, where)``: a copy of ``index`` as ``tmp_path/idx``, ``file`` damaged (:func:`_damage`)."""

    def make(index: Path, name: str, where: str = "middle") -> Path:
        copy = shutil.copytree(index, tmp_path / "idx")
        _damage(copy / name, where)
        return copy

    return make


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def server(e5_index: Path, tiny_index: Path) -> Iterator[str]:
    """``langmix serve`` over both indexes (e5 left, random right) in a thread; yields its base URL."""
    import uvicorn

    from langmix.search import open_searchers
    from langmix.search.serve import create_app

    port = free_port()
    app = create_app(open_searchers([e5_index, tiny_index]))
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)
