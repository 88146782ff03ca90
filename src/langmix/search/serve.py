"""``langmix serve``: a small web page to search one index, or two side by side.

FastAPI (with uvicorn) serves three static files (``static/``: HTML, JavaScript, CSS; no front-end
build step) and a JSON API:

* ``GET /api/indexes``: name, model, size and languages of each index;
* ``GET /api/search?q=...&k=10``: per index, the top k hits and their language shares.

Bad input (empty or over-long query, k out of range, a non-number k) gets a 4xx answer
``{"error": "<problem>; <fix>"}`` and the server goes on serving; a passage file changed under the running
server gets a 500 answer of the same shape. Passage text only ever reaches the
page as JSON strings that the script puts in ``textContent``, and the Content-Security-Policy allows
scripts from the server's own files only, so a passage holding ``<script>`` is shown, never run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from langmix.errors import DamagedData, LangmixError
from langmix.search.search import Searcher, search_all

STATIC = Path(__file__).with_name("static")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def create_app(searchers: Sequence[Searcher]) -> FastAPI:
    """The web app over already opened searchers (one column per index, in the given order)."""
    app = FastAPI(title="langmix search", docs_url=None, redoc_url=None, openapi_url=None)
    _add_error_handlers(app)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/api/indexes")
    def indexes() -> list[dict]:
        return [_describe(s) for s in searchers]

    @app.get("/api/search")
    def search(q: str = Query("", description="the question"), k: int = Query(10, description="results")) -> dict:
        # a plain def: FastAPI runs it in a worker thread, so a forward pass never blocks the event loop
        results = search_all(searchers, q, k)
        return {"query": results[0].query, "k": k, "results": [r.to_dict() for r in results]}

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _describe(searcher: Searcher) -> dict:
    meta = searcher.index.meta
    return {"name": searcher.name, "model": Path(meta["model"]).name, "count": meta["count"],
            "languages": meta["languages"], "index": meta["index"]}


def _add_error_handlers(app: FastAPI) -> None:
    """Every failure becomes ``{"error": message}``, never an HTML page or a trace: 4xx for bad input, 500 for
    an index damaged under the running server."""

    @app.exception_handler(LangmixError)
    async def bad_input(request: Request, err: LangmixError) -> JSONResponse:
        return JSONResponse({"error": str(err)}, status_code=500 if isinstance(err, DamagedData) else 400)

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, err: RequestValidationError) -> JSONResponse:
        where = ", ".join(".".join(str(p) for p in e["loc"][1:]) + ": " + e["msg"] for e in err.errors())
        return JSONResponse({"error": f"bad parameter ({where}); give q=<question> and k=<1..100>"}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(err.detail)}, status_code=err.status_code)


def serve(folders: Sequence[str | Path], host: str = "127.0.0.1", port: int = 8000, model: str | None = None) -> None:
    """Open the indexes, then serve the page until Ctrl-C."""
    import uvicorn

    from langmix.search.search import open_searchers

    names = [Path(folder).expanduser().name for folder in folders]
    if len(set(names)) < len(names):  # the page tells its columns apart by folder name
        raise LangmixError(f"the indexes share the folder name '{names[0]}'", "give them folders with distinct names")
    _check_port(host, port)
    searchers = open_searchers(folders, model)
    print(f"langmix: serving {', '.join(names)} on http://{host}:{port}/ (Ctrl-C stops)", flush=True)
    uvicorn.run(create_app(searchers), host=host, port=port, log_level="warning", access_log=False)


def _check_port(host: str, port: int) -> None:
    """Fail with one line before the models load, not with uvicorn's log after."""
    import socket

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as err:
        raise LangmixError(f"cannot listen on {host}:{port} ({err.strerror or err})",
                           "pass another --port, or stop what uses it") from err
