"""LAReQA benchmarks (XQuAD-R, MLQA-R): SQuAD-format JSON, one file per language.

A *candidate* is one sentence of a paragraph (``sentences`` / ``sentence_breaks``). The answer
sentence of a question is the sentence whose break ``(start, end)`` has ``start <= answer_start < end``,
the rule of the LAReQA reference code (google-research/xtreme, ``third_party/utils_lareqa.py``,
``generate_examples``): an answer that starts exactly at a break belongs to the sentence that begins
there. An answer may run past its sentence's end (137 do in XQuAD-R + MLQA-R); it still counts for
the sentence holding its first character, as in the reference. A question id shared by several
languages marks translations: the relevant answers of a query are its answer sentence in every
language that has its id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from langmix.data.parallel import as_languages
from langmix.data.paths import dataset_dir, find_file, open_text
from langmix.errors import LangmixError

BENCHMARKS = {"xquad-r": "lareqa/xquad-r", "mlqa-r": "lareqa/mlqa-r"}
# how a candidate is encoded: its sentence followed by its paragraph (the protocol), or the sentence alone
CandidateMode = Literal["context", "sentence"]
CANDIDATE_MODES: tuple[str, ...] = get_args(CandidateMode)


def check_candidate_mode(mode: str, what: str = "candidate mode") -> CandidateMode:
    """``mode`` if it is one of :data:`CANDIDATE_MODES`, else a one-line error naming ``what`` was set."""
    if mode not in CANDIDATE_MODES:
        raise LangmixError(f"unknown {what} '{mode}'", f"use one of {', '.join(CANDIDATE_MODES)}")
    return mode  # type: ignore[return-value]


@dataclass(frozen=True)
class Question:
    qid: str  # shared across the translations of one question
    text: str
    answer: int  # index of the answer sentence in its language's candidates
    article: str  # title of the Wikipedia article, for article-disjoint splits


@dataclass
class LareqaLanguage:
    """Everything of one language: questions and the candidate sentences with their paragraphs."""

    lang: str
    questions: list[Question] = field(default_factory=list)
    sentences: list[str] = field(default_factory=list)
    contexts: list[str] = field(default_factory=list)  # the paragraph of each sentence
    paragraph: list[int] = field(default_factory=list)  # paragraph number of each sentence


@dataclass
class LareqaBenchmark:
    name: str
    languages: dict[str, LareqaLanguage]

    @property
    def langs(self) -> list[str]:
        return sorted(self.languages)


def available_languages(folder: Path) -> list[str]:
    names = {p.name.split(".")[0] for p in folder.glob("*.json*")}
    return sorted(names)


def load_lareqa(name_or_path: str | Path, languages: str | list[str] | None = None) -> LareqaBenchmark:
    """Load ``xquad-r``, ``mlqa-r`` or a folder of ``<lang>.json[.gz]`` files (``languages``: all by default)."""
    folder = _resolve(name_or_path)
    langs = as_languages(languages) or available_languages(folder)
    if not langs:
        raise LangmixError(f"no <lang>.json files in {folder}", "point at a LAReQA folder such as data/lareqa/xquad-r")
    name = str(name_or_path) if str(name_or_path) in BENCHMARKS else folder.name
    loaded = {}
    for lang in langs:
        path = find_file(folder, f"{lang}.json")
        if path is None:
            raise LangmixError(f"language '{lang}' has no file {folder / (lang + '.json')}",
                               f"choose among {', '.join(available_languages(folder)) or 'none'}")
        loaded[lang] = parse_language(lang, path)
    return LareqaBenchmark(name=name, languages=loaded)


def _resolve(name_or_path: str | Path) -> Path:
    if str(name_or_path) in BENCHMARKS:
        return dataset_dir(BENCHMARKS[str(name_or_path)])
    folder = Path(name_or_path)
    if not folder.is_dir():
        raise LangmixError(f"unknown benchmark '{name_or_path}'",
                           f"use one of {', '.join(BENCHMARKS)} or a folder of <lang>.json files")
    return folder


def parse_language(lang: str, path: Path) -> LareqaLanguage:
    """Parse one SQuAD-format LAReQA file into candidates and questions."""
    try:
        with open_text(path) as fh:
            doc = json.load(fh)
        articles = doc["data"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as err:
        raise LangmixError(f"{path} is not a LAReQA/SQuAD JSON file ({err.__class__.__name__})",
                           "give files with data[].paragraphs[].sentences/sentence_breaks/qas") from err
    out = LareqaLanguage(lang=lang)
    for article in articles:
        for paragraph in article["paragraphs"]:
            _add_paragraph(out, paragraph, article.get("title", ""), path)
    if not out.questions:
        raise LangmixError(f"{path} holds no questions", "check that the file is a LAReQA benchmark file")
    return out


def _add_paragraph(out: LareqaLanguage, paragraph: dict, title: str, path: Path) -> None:
    try:
        sentences, breaks, context = paragraph["sentences"], paragraph["sentence_breaks"], paragraph["context"]
    except KeyError as err:
        raise LangmixError(f"{path}: paragraph without {err}", "LAReQA files need sentences and sentence_breaks") \
            from err
    offset, number = len(out.sentences), len(set(out.paragraph))
    out.sentences += sentences
    out.contexts += [context] * len(sentences)
    out.paragraph += [number] * len(sentences)
    for qa in paragraph["qas"]:
        start = qa["answers"][0]["answer_start"]
        index = next((i for i, (b, e) in enumerate(breaks) if b <= start < e), None)
        if index is None:
            raise LangmixError(f"{path}: question {qa['id']} has no sentence holding its answer (offset {start})",
                               "fix sentence_breaks or drop the question")
        out.questions.append(Question(qid=qa["id"], text=qa["question"], answer=offset + index, article=title))
