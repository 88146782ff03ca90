"""The passages of a collection to index, read from any of the sources ``langmix index`` accepts.

* JSONL: one object per line with ``text`` and optionally ``id`` (or BEIR's ``_id``), ``lang``, ``title``;
  a BEIR ``corpus.jsonl`` is such a file, and a BEIR folder is read through its ``corpus.jsonl``.
* TSV: ``id <TAB> text [<TAB> lang [<TAB> title]]``, or any column order under a header row naming
  ``id`` and ``text`` (and optionally ``lang``, ``title``).
* A LAReQA benchmark (``xquad-r``, ``mlqa-r`` or ``lareqa:FOLDER``): its candidates in every language,
  exactly the texts ``langmix evaluate`` scores, so search results line up with evaluation runs.

A passage without a language gets ``default_lang`` (``und``, "undetermined", unless given), so the
language shares of a result list always add up to k.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from langmix.data.paths import find_file, open_text
from langmix.errors import LangmixError

UNDETERMINED = "und"  # ISO 639-2 code for "language not known"
TSV_COLUMNS = ("id", "text", "lang", "title")


@dataclass(frozen=True)
class Passage:
    id: str
    text: str
    lang: str = UNDETERMINED
    title: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def language_counts(langs: Iterable[str]) -> list[tuple[str, int]]:
    """(language, count) pairs, largest count first, ties by language code: one order everywhere."""
    return sorted(Counter(langs).items(), key=lambda item: (-item[1], item[0]))


def read_passages(source: str, candidates: str = "sentence", default_lang: str = UNDETERMINED) -> list[Passage]:
    """Every passage of ``source`` (file, folder or benchmark name), ids checked to be unique."""
    from langmix.data.lareqa import BENCHMARKS

    if source in BENCHMARKS or source.startswith("lareqa:"):
        passages = lareqa_passages(source.removeprefix("lareqa:"), candidates)
    else:
        passages = list(_file_passages(_source_file(source), default_lang))
    if not passages:
        raise LangmixError(f"{source} holds no passages", "give at least one line with a text")
    _check_unique([p.id for p in passages], source)
    return passages


def _source_file(source: str) -> Path:
    path = Path(source).expanduser()
    if path.is_dir():  # a BEIR folder
        corpus = find_file(path, "corpus.jsonl")
        if corpus is None:
            raise LangmixError(f"folder {path} has no corpus.jsonl",
                               "give a JSONL or TSV file, a BEIR folder, or a benchmark name (xquad-r, mlqa-r)")
        return corpus
    if not path.is_file():
        raise LangmixError(f"source {source} not found",
                           "give a JSONL or TSV file, a BEIR folder, or a benchmark name (xquad-r, mlqa-r)")
    return path


def _file_passages(path: Path, default_lang: str) -> Iterator[Passage]:
    tsv = path.name.removesuffix(".gz").endswith(".tsv")
    with open_text(path) as fh:
        try:
            lines = [(number, line) for number, line in enumerate(fh, 1) if line.strip()]
        except UnicodeDecodeError as err:
            raise LangmixError(f"{path} is not UTF-8 text", "convert it to UTF-8") from err
    rows = _tsv_rows(lines, path) if tsv else ((n, _json_row(line, path, n)) for n, line in lines)
    for number, row in rows:
        yield _passage(row, f"{path}:{number}", str(number), default_lang)


def _json_row(line: str, path: Path, number: int) -> dict:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as err:
        raise LangmixError(f"{path}:{number} is not JSON ({err.msg})", "give one JSON object per line") from err
    if not isinstance(row, dict):
        raise LangmixError(f"{path}:{number} is not a JSON object", 'write lines like {"id": "1", "text": "..."}')
    return row


def _tsv_rows(lines: list[tuple[int, str]], path: Path) -> Iterator[tuple[int, dict]]:
    cells = [(number, line.rstrip("\r\n").split("\t")) for number, line in lines]
    header = TSV_COLUMNS
    if cells and {"id", "text"} <= set(cells[0][1]):
        header, cells = tuple(cells[0][1]), cells[1:]
    for number, row in cells:
        if len(row) < 2:
            raise LangmixError(f"{path}:{number} has {len(row)} tab-separated column(s)",
                               "write id<TAB>text[<TAB>lang[<TAB>title]] per line")
        yield number, dict(zip(header, row, strict=False))


def _passage(row: dict, where: str, fallback_id: str, default_lang: str) -> Passage:
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        raise LangmixError(f"{where} has no text", 'give every line a non-empty "text"')
    pid = row.get("id", row.get("_id", fallback_id))
    return Passage(id=str(pid), text=text, lang=str(row.get("lang") or default_lang),
                   title=str(row.get("title") or ""))


def lareqa_passages(name_or_path: str, candidates: str = "sentence") -> list[Passage]:
    """A LAReQA benchmark's candidate pool, all languages; ids are ``<lang>:<candidate number>``."""
    from langmix.data.lareqa import check_candidate_mode, load_lareqa
    from langmix.evaluation.lareqa import candidate_texts

    bench = load_lareqa(name_or_path)
    mode = check_candidate_mode(candidates)
    return [
        Passage(id=f"{lang}:{i}", text=text, lang=lang)
        for lang in bench.langs
        for i, text in enumerate(candidate_texts(bench.languages[lang], mode))
    ]


def _check_unique(ids: list[str], source: str) -> None:
    seen: set[str] = set()
    for pid in ids:
        if pid in seen:
            raise LangmixError(f"{source} holds the id '{pid}' twice", "give every passage its own id")
        seen.add(pid)
