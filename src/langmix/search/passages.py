"""The passages of a collection to index, read from any of the sources ``langmix index`` accepts.

* JSONL: one object per line with ``text`` and optionally ``id`` (or BEIR's ``_id``), ``lang``, ``title``;
  a BEIR ``corpus.jsonl`` is such a file, and a BEIR folder is read through its ``corpus.jsonl``. Other
  fields are ignored.
* TSV: ``id <TAB> text [<TAB> lang [<TAB> title]]``, or any column order under a header row naming
  ``id`` and ``text`` (and optionally ``lang``, ``title``).
* A LAReQA benchmark (``xquad-r``, ``mlqa-r`` or ``lareqa:FOLDER``): its candidates in every language,
  exactly the texts ``langmix evaluate`` scores, so search results line up with evaluation runs.

Files are read strictly: a field of the wrong type (a number as ``lang``, a list as ``text``), a TSV column
more than the layout has, a header row naming other columns, or a line without an id in a file whose other
lines have one is a one-line error naming ``file:line``, never a silent guess. Ids are given on every line
or on none (then they are the line numbers). A passage without a language gets ``default_lang`` (``und``,
"undetermined", unless given), so the language shares of a result list always add up to k.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from langmix.data.paths import find_file, text_lines
from langmix.data.records import LANG_CODE
from langmix.errors import LangmixError

UNDETERMINED = "und"  # ISO 639-2 code for "language not known"
TSV_COLUMNS = ("id", "text", "lang", "title")
# a first TSV row holding one of these is a header (of other names than TSV_COLUMNS, it is refused)
HEADER_NAMES = {*TSV_COLUMNS, "_id", "docid", "doc_id", "pid", "passage", "body", "content", "contents", "language"}
TSV_LAYOUT = "write id<TAB>text[<TAB>lang[<TAB>title]] per line, or name the columns in a header row"


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


def read_passages(source: str, candidates: str | None = None, default_lang: str | None = None) -> list[Passage]:
    """Every passage of ``source`` (file, folder or benchmark name), ids checked to be unique.

    ``candidates`` (default ``sentence``) applies to a LAReQA benchmark only, ``default_lang`` (default ``und``)
    to a file only: given for the other kind of source, each is an error rather than silently ignored.
    """
    from langmix.data.lareqa import BENCHMARKS

    if source in BENCHMARKS or source.startswith("lareqa:"):
        if default_lang is not None:
            raise LangmixError(f"--lang does not apply to {source}: its passages name their languages",
                               "drop --lang")
        passages = lareqa_passages(source.removeprefix("lareqa:"), candidates or "sentence")
    else:
        if candidates is not None:
            raise LangmixError(f"--candidates applies to LAReQA benchmarks (xquad-r, mlqa-r, lareqa:FOLDER), "
                               f"not to {source}", "drop --candidates")
        lang = UNDETERMINED if default_lang is None else default_lang
        if not LANG_CODE.fullmatch(lang):
            raise LangmixError(f"--lang {lang!r} is not a language code", f"pass e.g. --lang en (or leave it out: "
                               f"{UNDETERMINED}, undetermined)")
        passages = _file_passages(_source_file(source), lang)
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


def _file_passages(path: Path, default_lang: str) -> list[Passage]:
    tsv = path.name.removesuffix(".gz").endswith(".tsv")
    lines = [(number, line) for number, line in text_lines(path) if line.strip()]
    rows = _tsv_rows(lines, path) if tsv else [(n, _json_row(line, path, n)) for n, line in lines]
    return _with_ids([(f"{path}:{number}", str(number), row) for number, row in rows], default_lang)


def _json_row(line: str, path: Path, number: int) -> dict:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as err:
        raise LangmixError(f"{path}:{number} is not JSON ({err.msg})", "give one JSON object per line") from err
    if not isinstance(row, dict):
        raise LangmixError(f"{path}:{number} is not a JSON object", 'write lines like {"id": "1", "text": "..."}')
    return row


def _tsv_rows(lines: list[tuple[int, str]], path: Path) -> list[tuple[int, dict]]:
    """Rows as {column: cell}; empty cells are left out (an empty lang or title is none)."""
    cells = [(number, line.rstrip("\r\n").split("\t")) for number, line in lines]
    header = TSV_COLUMNS
    if cells and HEADER_NAMES & {cell.strip().lower() for cell in cells[0][1]}:
        header, cells = _tsv_header(cells[0][1], f"{path}:{cells[0][0]}"), cells[1:]
    rows = []
    for number, row in cells:
        if len(row) < 2:
            raise LangmixError(f"{path}:{number} has {len(row)} tab-separated column(s)", TSV_LAYOUT)
        if len(row) > len(header):  # a column more would be dropped, or a tab inside a text cut it short
            fix = TSV_LAYOUT if header == TSV_COLUMNS else "name every column in the header row"
            raise LangmixError(f"{path}:{number} has {len(row)} tab-separated columns, more than the {len(header)} "
                               f"of {', '.join(header)}", f"{fix}; a text holds no tab")
        rows.append((number, {name: cell for name, cell in zip(header, row, strict=False) if cell}))
    return rows


def _tsv_header(names: list[str], where: str) -> tuple[str, ...]:
    unknown = [name for name in names if name not in TSV_COLUMNS]
    if unknown:
        raise LangmixError(f"{where} is a header row with the column '{unknown[0]}'",
                           f"name the columns {', '.join(TSV_COLUMNS)} (id and text required)")
    missing = [name for name in ("id", "text") if name not in names]
    if missing or len(set(names)) < len(names):
        problem = f"without an {missing[0]} column" if missing else "naming a column twice"
        raise LangmixError(f"{where} is a header row {problem}",
                           f"name each column once, among {', '.join(TSV_COLUMNS)} (id and text required)")
    return tuple(names)


def _with_ids(rows: list[tuple[str, str, dict]], default_lang: str) -> list[Passage]:
    """Passages of (where, line number, row); ids as given on every line, or the line numbers where none has one."""
    given = [_field(row, where, "id", row.get("_id")) for where, _, row in rows]
    if any(pid is not None for pid in given):
        missing = next((where for (where, _, _), pid in zip(rows, given, strict=True) if pid is None), None)
        if missing:
            first = next(number for (_, number, _), pid in zip(rows, given, strict=True) if pid is not None)
            raise LangmixError(f"{missing} has no id, while line {first} has one (its line number as an id could "
                               "collide with a given one)", "give every line an id, or none")
    return [_passage(row, where, pid if pid is not None else number, default_lang)
            for (where, number, row), pid in zip(rows, given, strict=True)]


def _passage(row: dict, where: str, pid: str, default_lang: str) -> Passage:
    text = _field(row, where, "text")
    if text is None or not text.strip():
        raise LangmixError(f"{where} has no text", 'give every line a non-empty "text"')
    lang = _field(row, where, "lang")
    if lang is not None and not LANG_CODE.fullmatch(lang):
        raise LangmixError(f"{where}: lang {lang!r} is not a language code",
                           "give a code such as de or zh-CN, or no lang (then the passage gets --lang)")
    return Passage(id=pid, text=text, lang=lang or default_lang, title=_field(row, where, "title") or "")


def _field(row: dict, where: str, name: str, fallback: object = None) -> str | None:
    """``row[name]`` as a string, or None where it is missing or null; ids may be integers (not booleans)."""
    value = row.get(name, fallback)
    if value is None or isinstance(value, str):
        if name == "id" and value == "":
            raise LangmixError(f"{where} has an empty id", "give every passage a non-empty id")
        return value
    if name == "id" and type(value) is int:
        return str(value)
    kind = "a string or an integer" if name == "id" else "a string"
    raise LangmixError(f"{where}: {name} is {type(value).__name__} {json.dumps(value)[:40]}, not {kind}",
                       f'write "{name}" as {kind}')


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
