"""langmix samplers inside sentence-transformers' SentenceTransformerTrainer (tiny model, 2 steps)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from langmix.data.loaders import load_corpus
from langmix.errors import LangmixError
from langmix.training.st_adapter import LangmixBatchSampler, st_batch_sampler, st_rows, to_st_dataset

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"


@pytest.fixture(scope="module")
def corpus():
    """9 XQuAD-R questions in en/de/zh (one without zh), passages = answer sentences."""
    return load_corpus(f"lareqa:{FIXTURES / 'xquad-r'}", candidates="sentence")


def test_dataset_rows_match_pairs(corpus):
    dataset = to_st_dataset(corpus, negatives=True)
    rows = st_rows(corpus)
    # 8 records with 3 mono + 6 cross combinations, 1 record with 2 + 2
    assert len(dataset) == len(rows) == 8 * 9 + 4
    assert dataset.column_names == ["anchor", "positive", "negative"]
    for number in (0, 5, len(rows) - 1):
        pair, record = rows[number], corpus.records[rows[number].record]
        assert dataset[number]["anchor"] == "query: " + record.queries[pair.query_lang]
        assert dataset[number]["positive"] == "passage: " + record.passages[pair.passage_lang]
    assert to_st_dataset(corpus, prompts=None)[0]["anchor"] == corpus.records[0].queries["de"]


def test_wrong_dataset_is_refused(corpus):
    with pytest.raises(LangmixError, match="to_st_dataset"):
        LangmixBatchSampler(to_st_dataset(corpus).select(range(5)), 4, True, corpus=corpus, strategy="x-y")


class RecordingSampler(LangmixBatchSampler):
    """Keeps the row batches it hands to the trainer."""

    batches: list[list[int]] = []

    def __iter__(self):
        for rows in super().__iter__():
            RecordingSampler.batches.append(rows)
            yield rows


def test_two_trainer_steps_with_hybrid_batches(corpus, tiny_model_path, tmp_path):
    pytest.importorskip("accelerate", reason="SentenceTransformerTrainer needs accelerate")
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from langmix.model.load import load_model

    model = load_model(tiny_model_path)
    before = [p.detach().clone() for p in model.parameters()]
    sampler = st_batch_sampler(corpus, "hybrid", alpha=0.5)
    RecordingSampler.batches = []
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path),
        max_steps=2,
        per_device_train_batch_size=4,
        learning_rate=1e-3,
        batch_sampler=lambda dataset, **kw: RecordingSampler(dataset, **kw, **sampler.keywords),
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        use_cpu=True,
        seed=5,
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=to_st_dataset(corpus), loss=MultipleNegativesRankingLoss(model)
    )
    trainer.train()
    assert trainer.state.global_step == 2
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    rows = st_rows(corpus)
    assert len(RecordingSampler.batches) >= 2
    for batch in RecordingSampler.batches[:2]:
        pairs = [rows[n] for n in batch]
        assert len(batch) == 4 and len({p.record for p in pairs}) == 4
        langs = {p.query_lang for p in pairs} | {p.passage_lang for p in pairs}
        mono_batch = len(langs) == 1
        assert mono_batch or all(p.query_lang != p.passage_lang for p in pairs)
