"""The web server's API, driven over loopback as the page drives it."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest

from langmix.search.search import MAX_K, MAX_QUERY_CHARS


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def search(server: str, q: str, k: int | str = 10) -> tuple[int, dict]:
    status, _, body = get(f"{server}/api/search?" + urllib.parse.urlencode({"q": q, "k": k}))
    return status, json.loads(body)


def test_indexes(server: str) -> None:
    status, _, body = get(f"{server}/api/indexes")
    infos = json.loads(body)
    assert status == 200
    assert [i["name"] for i in infos] == ["multilingual-e5-small", "random-init"]
    assert infos[0]["count"] == 31 and infos[0]["languages"]["en"] == 6


def test_search_both_columns(server: str) -> None:
    status, data = search(server, "Who first walked on the Moon?", 6)
    assert status == 200 and data["k"] == 6
    e5, random = data["results"]
    assert (e5["index"], random["index"]) == ("multilingual-e5-small", "random-init")
    assert {h["id"] for h in e5["hits"]} == {f"moon-{lang}" for lang in ("en", "de", "es", "zh", "ar", "hi")}
    for result in data["results"]:
        assert len(result["hits"]) == 6
        assert sum(s["count"] for s in result["shares"]) == 6


@pytest.mark.parametrize("params,status,message", [
    ({"q": ""}, 400, "the query is empty; type a question"),
    ({"q": "   "}, 400, "the query is empty"),
    ({"q": "x" * (MAX_QUERY_CHARS + 1)}, 400, f"the query has {MAX_QUERY_CHARS + 1} characters"),
    ({"q": "Berlin", "k": 0}, 400, "k = 0 is out of range; ask for 1 to 100 results"),
    ({"q": "Berlin", "k": "ten"}, 422, "bad parameter (k: "),
    ({}, 400, "the query is empty"),
])
def test_bad_input_is_a_4xx_message_and_the_server_goes_on(server: str, params: dict, status: int,
                                                            message: str) -> None:
    got, headers, body = get(f"{server}/api/search?" + urllib.parse.urlencode(params))
    assert got == status
    assert headers["content-type"] == "application/json"
    assert message in json.loads(body)["error"]
    assert search(server, "Berlin", 1)[0] == 200


def test_unknown_path_is_a_json_404(server: str) -> None:
    status, _, body = get(f"{server}/api/nothing")
    assert status == 404 and json.loads(body) == {"error": "Not Found"}


def test_passage_markup_comes_back_as_plain_json_text(server: str) -> None:
    status, data = search(server, "Bananas are yellow", 1)
    hit = data["results"][0]["hits"][0]
    assert (status, hit["id"]) == (200, "markup-en")
    assert "<script>window.__xss = 1</script>" in hit["text"] and hit["title"] == "<b>Markup</b> test"


def test_page_and_security_headers(server: str) -> None:
    status, headers, body = get(f"{server}/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b'<script src="/static/app.js" defer></script>' in body
    assert f'<select id="k" name="k" data-max="{MAX_K}">'.encode() in body  # the page brings a link's k into range
    assert "script-src" not in headers["content-security-policy"]  # default-src 'self': no inline scripts
    assert headers["content-security-policy"].startswith("default-src 'self'")
    assert headers["x-content-type-options"] == "nosniff"
    assert get(f"{server}/static/app.js")[0] == 200


def test_concurrent_clients(server: str) -> None:
    """8 clients at once, good and bad queries mixed: every answer is the right one, none is an error page."""
    queries = ["Berlin", "Kaffee", "月球", "Everest", "", "الشمس", "photosynthesis", "x" * 2000]
    answers: list[tuple[str, int]] = []

    def client(offset: int) -> None:
        for i in range(4):
            query = queries[(offset + i) % len(queries)]
            answers.append((query, search(server, query, 5)[0]))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 32
    assert all(status == (200 if query.strip() and len(query) <= MAX_QUERY_CHARS else 400)
               for query, status in answers)


def asgi_get(app, path: str, query: str) -> tuple[int, dict]:
    """GET through the app itself, without a server: an exception no handler answers escapes this call
    (where a server would log its traceback)."""
    import asyncio

    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": query.encode(), "headers": [],
             "server": ("testserver", 80), "client": ("127.0.0.1", 1), "root_path": ""}
    asyncio.run(app(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body)


def test_a_passage_file_damaged_while_serving_is_a_json_500(tiny_index, tmp_path, damage) -> None:
    import shutil

    from langmix.search import open_searchers
    from langmix.search.serve import create_app

    app = create_app(open_searchers([shutil.copytree(tiny_index, tmp_path / "idx")]))
    assert asgi_get(app, "/api/search", "q=Berlin&k=3")[0] == 200
    damage(tmp_path / "idx" / "passages.jsonl")
    status, body = asgi_get(app, "/api/search", "q=Berlin&k=3")
    assert status == 500
    assert "passages.jsonl of index" in body["error"] and "changed since it was opened" in body["error"]
