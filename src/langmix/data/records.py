"""Typed readers of JSONL rows: every line is checked against its layout, without coercion.

A field of the wrong type is an error naming the file, the line and the field, never a silent
conversion (``"cross_only": "false"`` is not ``True``; ``"negatives": {"en": "text"}`` is not a list of
one-character negatives); a file that is not UTF-8 is an error too. Layouts: docs/data-formats.md
(training records) and :mod:`langmix.data.beir` (retrieval collections).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from langmix.data.paths import text_lines
from langmix.errors import LangmixError, validation_problem

LANG_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")  # en, zh-CN, zh_cn, eng-US; never empty


def _int_as_str(value: Any) -> Any:
    return str(value) if type(value) is int else value


def _not_empty(value: str) -> str:
    if not value:
        raise ValueError("empty")
    return value


def _language_code(value: str) -> str:
    if not LANG_CODE.fullmatch(value):
        raise ValueError("not a language code such as en or zh-CN")
    return value


def _not_blank(value: str) -> str:  # a blank query or passage would be its prompt alone
    if not value.strip():
        raise ValueError("blank text")
    return value


Id = Annotated[str, BeforeValidator(_int_as_str)]  # ids may be JSON integers; a bool is no id
Lang = Annotated[str, AfterValidator(_language_code)]
Text = Annotated[str, AfterValidator(_not_blank)]


class Row(BaseModel):
    """A JSONL row: known fields type-checked strictly, unknown fields ignored."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)
    LAYOUT: ClassVar[str] = ""  # what a line looks like, for error messages


class TrainingRow(Row):
    LAYOUT = 'a langmix JSONL record {"id", "queries", "passages"[, "negatives"][, "source"][, "cross_only"]}'
    id: Annotated[Id, AfterValidator(_not_empty)]
    queries: dict[Lang, Text]
    passages: dict[Lang, Text]
    negatives: dict[Lang, list[Text]] = {}
    source: str = "jsonl"
    cross_only: bool = False


class Document(Row):
    title: str | None = ""
    text: str

    @property
    def full_text(self) -> str:
        """``title + " " + text``, the BEIR convention."""
        return f"{self.title or ''} {self.text}".strip()


class BeirDocument(Document):
    LAYOUT = 'a BEIR corpus row {"_id", "title", "text"}'
    id: Id = Field(alias="_id")


class BeirQuery(Row):
    LAYOUT = 'a BEIR query row {"_id", "text"}'
    id: Id = Field(alias="_id")
    text: str


class MiraclDocument(Document):
    LAYOUT = 'a MIRACL corpus row {"docid", "title", "text"}'
    docid: Id


R = TypeVar("R", bound=Row)


def read_rows(path: str | Path, row_type: type[R], fix: str = "fix or drop the line") -> Iterator[R]:
    """The non-blank lines of the JSONL file ``path`` (optionally gzipped), each validated as ``row_type``."""
    for number, line in text_lines(path):
        if line.strip():
            try:
                yield row_type.model_validate_json(line)
            except ValidationError as err:
                raise LangmixError(
                    f"{path}:{number} is not {row_type.LAYOUT} ({validation_problem(err)})", fix
                ) from err
