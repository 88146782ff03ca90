"""Ad hoc retrieval collections as plain dicts, ready for ranx: BEIR layout and MIRACL (TREC) layout.

BEIR folder::

    corpus.jsonl        {"_id", "title", "text"}
    queries.jsonl       {"_id", "text"}
    qrels/<split>.tsv   header, then  query-id <tab> corpus-id <tab> score

MIRACL folder (as MIRACL ships one language; files may be gzipped, found anywhere below the folder)::

    topics/...<split>....tsv    qid <tab> query text
    qrels/...<split>....tsv     qid Q0 docid relevance  (TREC qrels, whitespace separated)
    any other *.jsonl           {"docid", "title", "text"}  (the corpus, possibly in several shards)

A document's text is ``title + " " + text`` (the BEIR convention). Only queries with at least one
judgement are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from langmix.data.paths import find_file, text_lines
from langmix.data.records import BeirDocument, BeirQuery, MiraclDocument, read_rows
from langmix.errors import LangmixError


@dataclass
class RetrievalData:
    name: str
    corpus: dict[str, str]  # docid -> text
    queries: dict[str, str]  # qid -> text (judged queries only)
    qrels: dict[str, dict[str, int]]  # qid -> docid -> relevance


def load_beir(folder: str | Path, split: str = "test") -> RetrievalData:
    folder = _folder(folder)
    qrels_path = find_file(folder / "qrels", f"{split}.tsv")
    if qrels_path is None:
        raise LangmixError(
            f"{folder} has no qrels/{split}.tsv",
            "give a BEIR folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv) or pick --split",
        )
    corpus = {r.id: r.full_text for r in read_rows(_required(folder, "corpus.jsonl"), BeirDocument)}
    queries = {r.id: r.text for r in read_rows(_required(folder, "queries.jsonl"), BeirQuery)}
    qrels = _read_qrels(qrels_path, columns=(0, 1, 2), header=True)
    return _checked(folder.name, corpus, queries, qrels, qrels_path)


def load_miracl(folder: str | Path, split: str = "dev") -> RetrievalData:
    folder = _folder(folder)
    topics, qrels_path = _one(folder, "topics", split), _one(folder, "qrels", split)
    queries = {}
    for number, line in text_lines(topics):
        if line.strip():
            qid, tab, text = line.rstrip("\n").partition("\t")
            if not tab:
                raise LangmixError(f"{topics}:{number} has no tab", "write qid<TAB>query text per line")
            queries[qid] = text
    shards = sorted(
        p
        for p in folder.rglob("*.jsonl*")
        if p.is_file() and "topics" not in p.name and "qrels" not in p.name
    )
    if not shards:
        raise LangmixError(f"{folder} has no corpus *.jsonl", "put the MIRACL corpus shards in the folder")
    corpus = {r.docid: r.full_text for shard in shards for r in read_rows(shard, MiraclDocument)}
    qrels = _read_qrels(qrels_path, columns=(0, 2, 3), header=False)
    return _checked(folder.name, corpus, queries, qrels, qrels_path)


def _folder(folder: str | Path) -> Path:
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise LangmixError(
            f"benchmark folder {folder} not found", "give an existing folder after beir: or miracl:"
        )
    return folder


def _required(folder: Path, name: str) -> Path:
    path = find_file(folder, name)
    if path is None:
        raise LangmixError(
            f"{folder} has no {name}", "give a BEIR folder (corpus.jsonl, queries.jsonl, qrels/)"
        )
    return path


def _one(folder: Path, kind: str, split: str) -> Path:
    found = sorted(p for p in folder.rglob(f"*{kind}*{split}*") if p.is_file())
    if len(found) != 1:
        raise LangmixError(
            f"{folder} has {len(found)} {kind} files for split '{split}'",
            f"keep exactly one file named like {kind}.<...>-{split}.tsv",
        )
    return found[0]


def _read_qrels(path: Path, columns: tuple[int, int, int], header: bool) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    lines = [line.split() for _, line in text_lines(path) if line.strip()]
    for fields in lines[1 if header else 0 :]:
        try:
            qid, docid, rel = (fields[c] for c in columns)
            qrels.setdefault(qid, {})[docid] = int(float(rel))
        except (IndexError, ValueError) as err:
            raise LangmixError(
                f"{path}: bad qrels line '{' '.join(fields)}'", "use qid docid relevance rows"
            ) from err
    return qrels


def _checked(name: str, corpus: dict, queries: dict, qrels: dict, qrels_path: Path) -> RetrievalData:
    judged = {q: docs for q, docs in qrels.items() if any(r > 0 for r in docs.values())}
    if not judged:
        raise LangmixError(
            f"{qrels_path} holds no positive judgement", "give a qrels file with relevance > 0 rows"
        )
    missing = [q for q in judged if q not in queries]
    if missing:
        raise LangmixError(
            f"{len(missing)} judged queries (e.g. {missing[0]}) have no text", "check the queries file"
        )
    unknown = {d for docs in judged.values() for d in docs if d not in corpus}
    if unknown:
        raise LangmixError(
            f"{len(unknown)} judged documents (e.g. {sorted(unknown)[0]}) are not in the corpus",
            "check the corpus files",
        )
    return RetrievalData(name, corpus, {q: queries[q] for q in judged}, judged)
