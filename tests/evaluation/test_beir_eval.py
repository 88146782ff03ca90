"""BEIR / MIRACL readers and dense retrieval metrics (checked against pytrec_eval)."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
import pytrec_eval

from langmix.data.beir import RetrievalData, load_beir, load_miracl
from langmix.errors import LangmixError
from langmix.evaluation.beir import dense_search, evaluate_retrieval, score_retrieval


def test_both_layouts_read_the_same_collection(beir_tiny, miracl_tiny):
    beir, miracl = load_beir(beir_tiny), load_miracl(miracl_tiny)
    assert beir.corpus == miracl.corpus and beir.queries == miracl.queries and beir.qrels == miracl.qrels
    assert beir.qrels["q1"] == {"d1": 1, "d5": 2} and beir.corpus["d1"] == "Apple apples grow on trees"


def synthetic(seed: int = 0, n_docs: int = 300, n_queries: int = 25, dim: int = 16):
    rng = np.random.default_rng(seed)
    docs = {f"d{i:04d}": f"doc {i}" for i in range(n_docs)}
    queries = {f"q{i:03d}": f"query {i}" for i in range(n_queries)}
    qrels = {q: {f"d{j:04d}": int(rng.integers(1, 3)) for j in rng.choice(n_docs, 6, replace=False)} for q in queries}
    q_emb = rng.standard_normal((n_queries, dim)).astype(np.float32)
    d_emb = rng.standard_normal((n_docs, dim)).astype(np.float32)
    return RetrievalData("synthetic", docs, queries, qrels), q_emb, d_emb


def test_metrics_match_pytrec_eval():
    data, q_emb, d_emb = synthetic()
    result = score_retrieval(data, q_emb, d_emb, k=100)
    scores, rows = dense_search(q_emb, d_emb, 100)
    docids = list(data.corpus)
    run = {
        q: {docids[r]: float(s) for s, r in zip(sc, rw, strict=True)}
        for q, sc, rw in zip(data.queries, scores, rows, strict=True)
    }
    top10 = {q: dict(sorted(d.items(), key=lambda x: -x[1])[:10]) for q, d in run.items()}
    ref = pytrec_eval.RelevanceEvaluator(data.qrels, {"ndcg_cut.10", "recall.100"}).evaluate(run)
    ref_rr = pytrec_eval.RelevanceEvaluator(data.qrels, {"recip_rank"}).evaluate(top10)
    for q in data.queries:
        assert result.per_query["synthetic/ndcg@10"][q] == pytest.approx(ref[q]["ndcg_cut_10"], abs=1e-9)
        assert result.per_query["synthetic/recall@100"][q] == pytest.approx(ref[q]["recall_100"], abs=1e-9)
        assert result.per_query["synthetic/mrr@10"][q] == pytest.approx(ref_rr[q]["recip_rank"], abs=1e-9)
    assert 0 < result.metrics["synthetic/recall@100"] < 1  # the cut matters on this case


@pytest.mark.parametrize("index", ["ivf", "hnsw"])
def test_approximate_indexes_find_near_duplicates(index):
    """Each query is a slightly perturbed copy of its one relevant document: any sane index finds it first."""
    data, _, d_emb = synthetic(1, n_docs=400)
    d_emb /= np.linalg.norm(d_emb, axis=1, keepdims=True)  # inner product = cosine, as for real embeddings
    rng = np.random.default_rng(2)
    data.qrels = {q: {f"d{i * 7:04d}": 1} for i, q in enumerate(data.queries)}
    q_emb = d_emb[[i * 7 for i in range(len(data.queries))]] + 0.01 * rng.standard_normal((25, 16)).astype(np.float32)
    assert score_retrieval(data, q_emb, d_emb, index=index).metrics["synthetic/mrr@10"] == pytest.approx(1.0)


def test_mock_model_retrieves_keyword_documents(beir_tiny, keyword_model):
    result = evaluate_retrieval(keyword_model, load_beir(beir_tiny))
    assert result.per_query["beir-tiny/mrr@10"]["q3"] == 1.0  # "date palm" -> the date/palm document
    assert set(result.metrics) == {"beir-tiny/ndcg@10", "beir-tiny/recall@100", "beir-tiny/mrr@10"}


def test_empty_qrels_and_missing_files_are_errors(tmp_path, beir_tiny):
    folder = tmp_path / "beir"
    (folder / "qrels").mkdir(parents=True)
    for name in ("corpus.jsonl", "queries.jsonl"):
        (folder / name).write_text((beir_tiny / name).read_text())
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n")
    with pytest.raises(LangmixError, match="no positive judgement"):
        load_beir(folder)
    with pytest.raises(LangmixError, match="qrels/dev.tsv"):
        load_beir(folder, split="dev")
    with pytest.raises(LangmixError, match="not found"):
        load_miracl(tmp_path / "nowhere")


@pytest.mark.parametrize("layout, file, line, words", [
    ("beir", "queries.jsonl", '{"_id": "q9", "question": "x"}', "queries.jsonl:4 is not a BEIR query row"),
    ("beir", "queries.jsonl", '{"_id": "q9", "text": null}', "text=None: Input should be a valid string"),
    ("beir", "corpus.jsonl", '{"id": "d9", "text": "x"}', "corpus.jsonl:7 is not a BEIR corpus row"),
    ("beir", "corpus.jsonl", "not json", "Invalid JSON"),
    ("miracl", "corpus/docs-0.jsonl", '{"_id": "d9", "text": "x"}', "docid: Field required"),
    ("miracl", "topics/topics.miracl-v1.0-xx-dev.tsv", "q9 without a tab", "has no tab"),
], ids=["query_without_text", "null_text", "doc_without_id", "not_json", "miracl_doc_without_docid", "topic_no_tab"])
def test_bad_collection_rows_are_one_line(tmp_path, beir_tiny, miracl_tiny, layout, file, line, words):
    folder = tmp_path / layout
    shutil.copytree(beir_tiny if layout == "beir" else miracl_tiny, folder)
    with open(folder / file, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
    with pytest.raises(LangmixError, match=re.escape(words)) as err:
        (load_beir if layout == "beir" else load_miracl)(folder)
    assert "\n" not in str(err.value)


def test_a_collection_that_is_not_utf8_is_one_line(tmp_path, beir_tiny):
    folder = tmp_path / "beir"
    shutil.copytree(beir_tiny, folder)
    (folder / "queries.jsonl").write_bytes('{"_id": "q1", "text": "caf\u00e9"}\n'.encode("latin-1"))
    with pytest.raises(LangmixError, match="queries.jsonl is not UTF-8 text.*convert the file to UTF-8"):
        load_beir(folder)
