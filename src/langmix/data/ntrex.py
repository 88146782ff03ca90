"""NTREX-128 news sentences as parallel pseudo-queries by the inverse cloze task (Lee et al., 2019).

NTREX-128 holds 1,997 English news sentences translated into 128 languages, one sentence per line,
line ``i`` of every ``newstest2019-ref.<code>.txt[.gz]`` file being a translation of line ``i`` of the
others; ``DOCUMENT_IDS.tsv`` names the document of each line. The record of line ``i`` has

* query   = sentence ``i``;
* passage = the other sentences of its document within ``window`` lines (``i - window .. i + window``,
  in order, joined by spaces): the sentence is cut out of its context, so the model must match a
  sentence to the text around it;

in every language, all sharing the id ``ntrex:<i>``. Only every ``stride``-th sentence of a document
becomes a query: with ``stride > window`` no query sentence occurs inside another record's passage,
which would make that passage a false in-batch negative. Sentences of one-sentence documents are
skipped (no context).
"""

from __future__ import annotations

from itertools import groupby
from pathlib import Path

from langmix.data.parallel import ParallelCorpus, ParallelRecord, check_languages
from langmix.data.paths import dataset_dir, find_file, open_text
from langmix.errors import LangmixError

# NTREX file codes of the vendored languages -> ISO 639-1 codes used across langmix
CODES = {
    "arb": "ar",
    "deu": "de",
    "ell": "el",
    "eng-US": "en",
    "spa": "es",
    "hin": "hi",
    "rus": "ru",
    "tha": "th",
    "tur": "tr",
    "vie": "vi",
    "zho-CN": "zh",
}


def load_ntrex(
    languages: list[str] | None = None,
    window: int = 2,
    stride: int | None = None,
    folder: str | Path | None = None,
) -> ParallelCorpus:
    """Inverse-cloze records from NTREX-128; ``stride`` defaults to ``window + 1``."""
    stride = window + 1 if stride is None else stride
    if window < 1 or stride < 1:
        raise LangmixError(f"window {window} and stride {stride} must be positive", "use e.g. window=2")
    folder = Path(folder) if folder is not None else dataset_dir("ntrex128")
    available = {
        iso: code for code, iso in CODES.items() if find_file(folder, f"newstest2019-ref.{code}.txt")
    }
    if not available:
        raise LangmixError(
            f"{folder} holds no newstest2019-ref.<code>.txt file",
            f"point at an NTREX-128 folder with some of {', '.join(CODES)}",
        )
    check_languages(languages or [], available, str(folder))
    langs = sorted(languages or available)
    documents = [line.split("\t")[0] for line in _read_lines(find_file(folder, "DOCUMENT_IDS.tsv"), folder)]
    texts = {
        lang: _read_lines(find_file(folder, f"newstest2019-ref.{available[lang]}.txt"), folder)
        for lang in langs
    }
    for lang, lines in texts.items():
        if len(lines) != len(documents):
            raise LangmixError(
                f"{folder}: {lang} has {len(lines)} lines but DOCUMENT_IDS.tsv {len(documents)}",
                "give line-aligned NTREX files",
            )
    records = []
    start = 0
    for _, lines in groupby(documents):
        size = len(list(lines))
        for i in range(start, start + size, stride) if size > 1 else ():
            context = [j for j in range(max(start, i - window), min(start + size, i + window + 1)) if j != i]
            records.append(
                ParallelRecord(
                    id=f"ntrex:{i}",
                    queries={lang: texts[lang][i] for lang in langs},
                    passages={lang: " ".join(texts[lang][j] for j in context) for lang in langs},
                    source="ntrex128",
                )
            )
        start += size
    return ParallelCorpus(records, "ntrex128")


def _read_lines(path: Path | None, folder: Path) -> list[str]:
    if path is None:
        raise LangmixError(f"{folder} lacks DOCUMENT_IDS.tsv", "point at an NTREX-128 folder")
    with open_text(path) as fh:
        return [line.rstrip("\n") for line in fh]
