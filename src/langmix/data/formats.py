"""Readers turning files into :class:`~langmix.data.parallel.ParallelCorpus` (layouts: docs/data-formats.md).

* LAReQA (XQuAD-R, MLQA-R) as training data: one record per question id.
* SQuAD-format translate-train files, one per language, aligned by question id.
* mMARCO-style TSV triples ``query<TAB>positive<TAB>negative``, one file per language, aligned by line.
* JSONL, one record per line: ``{"id", "queries", "passages"[, "negatives"][, "cross_only"]}``.

Paths of per-language files hold the placeholder ``{lang}`` where the language code sits in the file
name, e.g. ``train/squad.{lang}.json``; every file matching the pattern is one language.
"""

from __future__ import annotations

import glob
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from langmix.data.lareqa import LareqaLanguage, check_candidate_mode, load_lareqa
from langmix.data.parallel import ParallelCorpus, ParallelRecord, check_languages
from langmix.data.paths import open_text, text_lines
from langmix.data.records import TrainingRow, read_rows
from langmix.errors import LangmixError


# --- LAReQA
def load_lareqa_corpus(
    name_or_path: str,
    languages: list[str] | None = None,
    candidates: str = "context",
    articles: set[str] | None = None,
    max_negatives: int | None = None,
) -> ParallelCorpus:
    """LAReQA as training data: per question id, the question (query) and its answer (passage) per language.

    ``candidates="context"`` makes a passage the answer sentence followed by its paragraph,
    ``sentence + " " + paragraph`` (the LAReQA candidate: a sentence encoded with its context);
    ``"sentence"`` uses the sentence alone. Hard negatives are the other sentences of the same
    paragraph in the same format (at most ``max_negatives``). ``articles`` keeps only the questions
    whose article title (in their own language) is in the set, for article-disjoint splits.
    """
    check_candidate_mode(candidates, "candidates")
    bench = load_lareqa(name_or_path, languages)
    name = Path(name_or_path).name if Path(name_or_path).is_dir() else str(name_or_path)
    groups: dict[str, dict[str, tuple]] = defaultdict(dict)
    for lang, data in bench.languages.items():
        members: dict[int, list[int]] = defaultdict(list)  # paragraph -> its sentences
        for i, number in enumerate(data.paragraph):
            members[number].append(i)
        for question in data.questions:
            if articles is None or question.article in articles:
                positive, negatives = _candidates(data, members, question.answer, candidates, max_negatives)
                groups[question.qid][lang] = (question.text, positive, negatives)
    records = [
        ParallelRecord(
            id=f"{name}:{qid}",
            queries={lang: v[0] for lang, v in langs.items()},
            passages={lang: v[1] for lang, v in langs.items()},
            negatives={lang: v[2] for lang, v in langs.items()},
            source=name,
        )
        for qid, langs in groups.items()
    ]
    return ParallelCorpus(records, name)


def _candidates(
    data: LareqaLanguage,
    members: dict[int, list[int]],
    answer: int,
    candidates: str,
    max_negatives: int | None,
) -> tuple[str, tuple[str, ...]]:
    """The answer candidate and the other candidates of its paragraph."""

    def text(i: int) -> str:
        sentence = data.sentences[i].strip()  # LAReQA sentences keep the paragraph's spacing
        return sentence if candidates == "sentence" else f"{sentence} {data.contexts[i].strip()}"

    same = [i for i in members[data.paragraph[answer]] if i != answer]
    return text(answer), tuple(text(i) for i in same[:max_negatives])


# --- per-language files
def language_files(pattern: str, languages: list[str] | None) -> dict[str, Path]:
    """Files matching ``pattern`` with ``{lang}`` replaced by any code: ``{lang: path}``."""
    if "{lang}" not in pattern:
        raise LangmixError(
            f"path '{pattern}' has no {{lang}} placeholder",
            "write the language position in the file name as {lang}, e.g. squad.{lang}.json",
        )
    head, tail = pattern.split("{lang}", 1)
    regex = re.compile(re.escape(head) + r"([A-Za-z_-]+)" + re.escape(tail) + r"(\.gz)?$")
    found = {}
    for path in sorted(glob.glob(glob.escape(head) + "*" + glob.escape(tail) + "*")):
        match = regex.match(path)
        if match:
            found[match.group(1)] = Path(path)
    if not found:
        raise LangmixError(
            f"no file matches '{pattern}'", "check the path; {lang} stands for the language code"
        )
    if languages is not None:
        check_languages(languages, found, pattern)
        found = {lang: found[lang] for lang in languages}
    return found


def _read_json(path: Path) -> dict:
    try:
        with open_text(path) as fh:
            return json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise LangmixError(
            f"{path} is not valid JSON ({err.__class__.__name__})", "give a UTF-8 JSON file"
        ) from err


# --- SQuAD
def load_squad(pattern: str, languages: list[str] | None = None) -> ParallelCorpus:
    """SQuAD-format translate-train files aligned by question id: query = question, passage = paragraph."""
    groups: dict[str, dict[str, tuple[str, str]]] = defaultdict(dict)
    for lang, path in language_files(pattern, languages).items():
        for qid, question, context in _squad_rows(path):
            groups[qid][lang] = (question, context)
    records = [
        ParallelRecord(
            id=f"squad:{qid}",
            queries={lang: q for lang, (q, _) in langs.items()},
            passages={lang: c for lang, (_, c) in langs.items()},
            source="squad",
        )
        for qid, langs in groups.items()
    ]
    return ParallelCorpus(records, "squad")


def _squad_rows(path: Path) -> Iterator[tuple[str, str, str]]:
    try:
        for article in _read_json(path)["data"]:
            for paragraph in article["paragraphs"]:
                for qa in paragraph["qas"]:
                    yield str(qa["id"]), qa["question"], paragraph["context"]
    except (KeyError, TypeError) as err:
        raise LangmixError(
            f"{path} is not a SQuAD file (missing {err})",
            "give data[].paragraphs[].context and .qas[].id/.question",
        ) from err


# --- mMARCO
def load_mmarco(pattern: str, languages: list[str] | None = None) -> ParallelCorpus:
    """mMARCO-style triples ``query<TAB>positive<TAB>negative``, one file per language, aligned by line.

    Triples repeat a query with different negatives, and two records holding one query would be each
    other's false negatives; lines are therefore grouped by the query text of the first language
    (sorted): one record per query, whose passage is the positive of its first line and whose
    negatives are the distinct negatives of all its lines.
    """
    files = language_files(pattern, languages)
    columns = {lang: _tsv_triples(path) for lang, path in files.items()}
    lengths = {lang: len(rows) for lang, rows in columns.items()}
    if len(set(lengths.values())) > 1:
        raise LangmixError(
            f"mMARCO files are not line-aligned ({lengths} lines)",
            "give one triple per line, the same lines translated in every language",
        )
    first = columns[min(columns)]
    lines_of: dict[str, list[int]] = defaultdict(list)
    for line, (query, _, _) in enumerate(first):
        lines_of[query].append(line)
    records = []
    for lines in lines_of.values():
        records.append(
            ParallelRecord(
                id=f"mmarco:{lines[0]}",
                queries={lang: rows[lines[0]][0] for lang, rows in columns.items()},
                passages={lang: rows[lines[0]][1] for lang, rows in columns.items()},
                negatives={
                    lang: tuple(dict.fromkeys(rows[i][2] for i in lines)) for lang, rows in columns.items()
                },
                source="mmarco",
            )
        )
    return ParallelCorpus(records, "mmarco")


def _tsv_triples(path: Path) -> list[tuple[str, str, str]]:
    rows = []
    for number, line in text_lines(path):
        fields = line.rstrip("\n").split("\t")
        if len(fields) != 3:
            raise LangmixError(
                f"{path}:{number} has {len(fields)} tab-separated fields, not 3",
                "write query<TAB>positive<TAB>negative per line",
            )
        rows.append((fields[0], fields[1], fields[2]))
    if not rows:
        raise LangmixError(f"{path} is empty", "give at least one triple")
    return rows


# --- JSONL
def load_jsonl(path: str, languages: list[str] | None = None) -> ParallelCorpus:
    """One record per line: ``{"id": str, "queries": {lang: text}, "passages": {lang: text},
    "negatives": {lang: [text, ...]} (optional), "cross_only": bool (optional)}``, type-checked strictly."""
    records = [
        ParallelRecord(
            id=row.id,
            queries=row.queries,
            passages=row.passages,
            negatives={lang: tuple(texts) for lang, texts in row.negatives.items()},
            source=row.source,
            cross_only=row.cross_only,
        )
        for row in read_rows(path, TrainingRow, "see docs/data-formats.md for the layout")
    ]
    corpus = ParallelCorpus(records, Path(path).name)
    if not records:
        raise LangmixError(f"{path} holds no records", "write one JSON object per line")
    return corpus if languages is None else corpus.filter_languages(languages)
