"""Texts to encode (``langmix encode``): JSONL (one field), TSV (one column) or plain lines, from a file or stdin.

Files are read by :func:`langmix.data.paths.text_lines`, the reader every line-based format of langmix goes
through (training rows, BEIR / MIRACL files, search passages), so a gzipped file works and a file that is not
UTF-8 is the same one-line error everywhere. Blank lines are skipped; errors name ``file:line``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from langmix.data.paths import text_lines
from langmix.errors import LangmixError


def read_texts(source: str, field: str = "text", column: int = 0) -> list[str]:
    """The texts of ``source`` ('-' = stdin): a ``.tsv`` file's column ``column``, a ``.jsonl`` file's (or any
    input whose first line looks like JSON) field ``field``, else each line as it is."""
    if source == "-":
        lines, name = list(enumerate(sys.stdin.read().splitlines(), 1)), "stdin"
    else:
        path = Path(source)
        if not path.is_file():
            raise LangmixError(f"input file {path} not found", "check the path")
        lines, name = [(n, line.rstrip("\r\n")) for n, line in text_lines(path)], str(path)
    numbered = [(number, line) for number, line in lines if line.strip()]
    if not numbered:
        raise LangmixError(f"no texts in {name}", "give at least one non-empty line")
    kind = name.removesuffix(".gz")
    if kind.endswith(".tsv"):
        return [_column(line, column, f"{name}:{number}") for number, line in numbered]
    if kind.endswith(".jsonl") or numbered[0][1].lstrip().startswith("{"):
        return [_field(line, field, f"{name}:{number}") for number, line in numbered]
    return [line for _, line in numbered]


def _column(line: str, column: int, where: str) -> str:
    cells = line.split("\t")
    if column >= len(cells):
        raise LangmixError(f"{where} has {len(cells)} tab-separated column(s), no column {column}",
                           "pass --column N, the 0-based column of the text")
    return cells[column]


def _field(line: str, field: str, where: str) -> str:
    try:
        value = json.loads(line)[field]
    except json.JSONDecodeError as err:
        raise LangmixError(f"{where} is not JSON", "give one JSON object per line") from err
    except (KeyError, TypeError, IndexError) as err:
        raise LangmixError(f"{where} has no field '{field}'", "pass --field NAME") from err
    if not isinstance(value, str):
        raise LangmixError(f"{where}: field '{field}' holds {type(value).__name__}, not text", "give a string")
    return value
