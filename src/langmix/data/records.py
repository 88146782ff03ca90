"""Typed readers of JSONL rows: every line is checked against its layout, without coercion.

A field of the wrong type is an error naming the file, the line and the field, never a silent
conversion (``"cross_only": "false"`` is not ``True``; ``"negatives": {"en": "text"}`` is not a list of
one-character negatives); a file that is not UTF-8 is an error too. Layouts: docs/data-formats.md
(training records) and :mod:`langmix.data.beir` (retrieval collections).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from langmix.data.paths import text_lines
from langmix.errors import LangmixError, validation_problem


def _int_as_str(value: Any) -> Any:
    return str(value) if type(value) is int else value


Id = Annotated[str, BeforeValidator(_int_as_str)]  # ids may be JSON integers; a bool is no id


class Row(BaseModel):
    """A JSONL row: known fields type-checked strictly, unknown fields ignored."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)
    LAYOUT: ClassVar[str] = ""  # what a line looks like, for error messages


class TrainingRow(Row):
    LAYOUT = 'a langmix JSONL record {"id", "queries", "passages"[, "negatives"][, "source"][, "cross_only"]}'
    id: Id
    queries: dict[str, str]
    passages: dict[str, str]
    negatives: dict[str, list[str]] = {}
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
