"""Training corpora by spec: which reader (:mod:`.formats`, :mod:`.ntrex`, :mod:`.mkqa`) serves which name."""

from __future__ import annotations

from langmix.data import formats, mkqa, ntrex
from langmix.data.parallel import ParallelCorpus, as_languages
from langmix.errors import LangmixError

LOADERS = (
    "xquad-r",
    "mlqa-r",
    "lareqa:FOLDER",
    "ntrex128",
    "mkqa",
    "squad:PATH_WITH_{lang}",
    "mmarco:PATH_WITH_{lang}",
    "jsonl:PATH",
)


def load_corpus(spec: str, languages: str | list[str] | None = None, **kw) -> ParallelCorpus:
    """Load a training corpus from a spec such as ``xquad-r``, ``ntrex128`` or ``jsonl:my.jsonl``.

    Keywords go to the loader: LAReQA takes ``candidates``, ``articles``, ``max_negatives``; NTREX-128
    takes ``window`` and ``stride``. ``squad:`` and ``mmarco:`` paths hold ``{lang}`` where the
    language code sits in the file names (one file per language). See docs/data-formats.md.
    """
    languages = as_languages(languages)
    kind, _, arg = spec.partition(":")
    if spec in ("xquad-r", "mlqa-r") or kind == "lareqa":
        corpus = formats.load_lareqa_corpus(arg or spec, languages, **kw)
    elif spec == "ntrex128":
        corpus = ntrex.load_ntrex(languages, **kw)
    elif spec == "mkqa":
        corpus = mkqa.load_mkqa(languages, **kw)
    elif kind in ("squad", "mmarco", "jsonl") and arg:
        reader = {"squad": formats.load_squad, "mmarco": formats.load_mmarco, "jsonl": formats.load_jsonl}[
            kind
        ]
        corpus = reader(arg, languages, **kw)
    else:
        raise LangmixError(f"unknown corpus spec '{spec}'", f"use one of {', '.join(LOADERS)}")
    if not corpus.records:
        raise LangmixError(f"corpus '{spec}' holds no records", "check the files and the languages asked for")
    return corpus
