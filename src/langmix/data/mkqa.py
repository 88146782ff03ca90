"""MKQA questions as cross-lingual translation pairs: a question -> the same question in another language.

``mkqa-<lang>.jsonl[.gz]`` holds one ``{"id": "<qid>_<lang>", "lang", "question", ...}`` per line; the
``<qid>`` (the id without its ``_<lang>`` suffix) aligns translations. Each record has
``queries[lang] = passages[lang] = question`` and ``cross_only=True``: a mono pair would match a
question with itself, so samplers draw only pairs whose query and passage languages differ.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from langmix.data.parallel import ParallelCorpus, ParallelRecord, check_languages
from langmix.data.paths import dataset_dir, open_text
from langmix.errors import LangmixError

# MKQA file codes -> langmix (ISO 639-1) codes
CODES = {"zh_cn": "zh"}


def available_languages(folder: Path) -> dict[str, Path]:
    """``{iso code: file}`` of the ``mkqa-<lang>.jsonl[.gz]`` files in ``folder``."""
    found = {}
    for path in sorted(folder.glob("mkqa-*.jsonl*")):
        code = path.name.removeprefix("mkqa-").split(".")[0]
        found[CODES.get(code, code)] = path
    return found


def load_mkqa(languages: list[str] | None = None, folder: str | Path | None = None) -> ParallelCorpus:
    """One cross-only record per question id with its question in every language asked for."""
    folder = Path(folder) if folder is not None else dataset_dir("mkqa")
    files = available_languages(folder)
    if not files:
        raise LangmixError(
            f"{folder} holds no mkqa-<lang>.jsonl file", "point at the MKQA folder (data/mkqa)"
        )
    check_languages(languages or [], files, str(folder))
    questions: dict[str, dict[str, str]] = defaultdict(dict)
    for lang in sorted(languages or files):
        for qid, text in _questions(files[lang]):
            questions[qid][lang] = text
    records = [
        ParallelRecord(id=f"mkqa:{qid}", queries=texts, passages=dict(texts), source="mkqa", cross_only=True)
        for qid, texts in questions.items()
        if len(texts) > 1
    ]
    return ParallelCorpus(records, "mkqa")


def _questions(path: Path):
    with open_text(path) as fh:
        for number, line in enumerate(fh, 1):
            try:
                row = json.loads(line)
                qid, text = row["id"].rsplit("_" + row["lang"], 1)[0], row["question"].strip()
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as err:
                raise LangmixError(
                    f"{path}:{number} is not an MKQA line ({err.__class__.__name__})",
                    'give {"id": "<qid>_<lang>", "lang": ..., "question": ...} per line',
                ) from err
            if text:
                yield qid, text
