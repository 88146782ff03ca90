"""The fast encoding path gives sentence-transformers' embeddings, in input order, with less padding."""

from __future__ import annotations

import re
from itertools import pairwise

import numpy as np
import pytest
import torch

import langmix
from langmix.errors import LangmixError
from langmix.model import encoding
from langmix.model.encoding import st_encode as encode
from langmix.model.load import load_model

# Lengths vary a lot (1 to ~60 words) so that batches are sorted and padded differently from ST's batches.
TEXTS = [
    "Hi.",
    "Die Hauptstadt von Frankreich ist Paris, eine Stadt an der Seine mit vielen Museen und Brücken.",
    "¿Cuántos habitantes tiene Madrid?",
    " ".join(["The quick brown fox jumps over the lazy dog."] * 6),
    "北京是中国的首都。",
    "Μια σύντομη πρόταση στα ελληνικά για δοκιμή.",
    "x",
]


@pytest.fixture(scope="module")
def tiny_model(tiny_model_path):
    return load_model(tiny_model_path)


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_same_embeddings_as_sentence_transformers(tiny_model, kind):
    expected = encode(tiny_model, TEXTS, kind, batch_size=3)
    got = encoding.encode_fast(tiny_model, TEXTS, kind, batch_size=3, precision="fp32")
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_same_token_ids_as_sentence_transformers(tiny_model):
    parts = encoding.encoder_parts(tiny_model)
    ids = encoding.tokenize(parts, TEXTS, "query: ")
    features = tiny_model.preprocess(TEXTS, prompt="query: ")
    for row, input_ids, mask in zip(ids, features["input_ids"], features["attention_mask"], strict=True):
        assert row == input_ids[mask.bool()].tolist()


def test_truncation_matches_max_seq_length(tiny_model):
    long_text = " ".join(["word"] * 2000)
    ids = encoding.tokenize(encoding.encoder_parts(tiny_model), [long_text], "passage: ")
    assert len(ids[0]) == tiny_model.max_seq_length
    np.testing.assert_allclose(
        encoding.encode_fast(tiny_model, [long_text, "short"], "passage", precision="fp32"),
        encode(tiny_model, [long_text, "short"], "passage"),
        atol=1e-5,
    )


def test_batch_size_does_not_change_embeddings(tiny_model):
    one = encoding.encode_fast(tiny_model, TEXTS, "passage", batch_size=1)
    many = encoding.encode_fast(tiny_model, TEXTS, "passage", batch_size=64)
    np.testing.assert_allclose(one, many, atol=1e-5)


def test_on_batch_reports_every_batch(tiny_model):
    """The hook that lets `langmix index` drive one progress bar over its resumable shards."""
    done: list[int] = []
    encoding.encode_fast(tiny_model, TEXTS, "passage", batch_size=3, on_batch=done.append)
    assert done == [3, 3, 1]


def test_length_batches_sort_longest_first_and_cover_every_index():
    lengths = [3, 9, 1, 9, 5, 2, 7]
    batches = encoding.length_batches(lengths, 3)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    assert [lengths[i] for i in flat] == sorted(lengths, reverse=True)
    assert flat[:2].tolist() == [1, 3]  # stable: equal lengths keep input order
    assert [len(b) for b in batches] == [3, 3, 1]


def test_sorted_batches_pad_less_than_input_order():
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 300, size=256)

    in_order = [np.arange(i, i + 32) for i in range(0, 256, 32)]
    assert padded_tokens(lengths, encoding.length_batches(lengths, 32)) < 0.8 * padded_tokens(lengths, in_order)


def padded_tokens(lengths: np.ndarray, batches: list[np.ndarray]) -> int:
    return int(sum(len(b) * lengths[b].max() for b in batches))


def test_padding_cap_closes_batches_early_only_where_allowed():
    rng = np.random.default_rng(0)
    lengths = np.concatenate([rng.integers(5, 60, size=500), rng.integers(200, 512, size=20)])
    batches = encoding.length_batches(lengths, 64, max_padding=0.02, min_tokens=512)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    assert [lengths[i] for i in flat] == sorted(lengths.tolist(), reverse=True)
    assert max(len(b) for b in batches) <= 64
    for b, following in pairwise(batches):
        longest = lengths[b].max()
        padding = 1 - lengths[b].sum() / (len(b) * longest)
        allowed_to_close = len(b) * longest >= 512
        if len(b) < 64:  # closed early: only because the next text would break the cap, once allowed
            with_next = np.append(lengths[b], lengths[following[0]])
            assert allowed_to_close and 1 - with_next.sum() / (len(with_next) * longest) > 0.02
        if len(b) > 1 and (len(b) - 1) * longest >= 512:  # the cap held when the last text joined
            assert padding <= 0.02
    fixed = encoding.length_batches(lengths, 64)
    assert padded_tokens(lengths, batches) < 0.8 * padded_tokens(lengths, fixed)


def test_padding_cap_keeps_equal_lengths_in_full_batches():
    lengths = [7] * 130
    capped = encoding.length_batches(lengths, 64, max_padding=0.0, min_tokens=0)
    assert [b.tolist() for b in capped] == [b.tolist() for b in encoding.length_batches(lengths, 64)]


def test_encode_fast_runs_the_capped_batches(tiny_model, monkeypatch):
    # no token floor and no padding allowed: every change of length closes a batch
    monkeypatch.setattr(encoding, "ENCODE_MIN_TOKENS", 0)
    monkeypatch.setattr(encoding, "ENCODE_MAX_PADDING", 0.0)
    parts = encoding.encoder_parts(tiny_model)
    lengths = [len(r) for r in encoding.tokenize(parts, TEXTS, tiny_model.prompts["passage"])]
    done: list[int] = []
    emb = encoding.encode_fast(tiny_model, TEXTS, "passage", batch_size=64, on_batch=done.append, precision="fp32")
    assert done == [len(b) for b in encoding.encode_batches(lengths, 64)]
    assert len(done) == len(set(lengths)) > 1  # one batch per distinct length
    np.testing.assert_allclose(emb, encoding.st_encode(tiny_model, TEXTS, "passage"), atol=1e-5)


def test_pad_and_mean_pool_ignore_padding():
    input_ids, mask = encoding.pad([[5, 6, 7], [8]], pad_id=1)
    assert input_ids.tolist() == [[5, 6, 7], [8, 1, 1]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    hidden = torch.tensor([[[1.0], [2.0], [6.0]], [[4.0], [100.0], [100.0]]])  # (2, 3, 1)
    assert encoding.mean_pool(hidden, mask).flatten().tolist() == [3.0, 4.0]


def test_embed_sorted_matches_model_forward_and_backpropagates(tiny_model):
    tiny_model.eval()  # no dropout, so chunking must not change anything
    features = tiny_model.preprocess(TEXTS, prompt="passage: ", max_length=40)
    expected = torch.nn.functional.normalize(tiny_model(features)["sentence_embedding"], dim=-1)
    got = encoding.embed_sorted(tiny_model, TEXTS, "passage: ", 40, "cpu", chunk_size=2)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    got.sum().backward()
    assert any(p.grad is not None for p in tiny_model.parameters())
    tiny_model.zero_grad(set_to_none=True)


def test_unknown_precision_and_empty_input_fail_with_a_fix(tiny_model):
    with pytest.raises(LangmixError, match="precision"):
        encoding.encode_fast(tiny_model, TEXTS, "query", precision="fp8")
    with pytest.raises(LangmixError, match="no texts"):
        encoding.encode_fast(tiny_model, [], "query")


def test_bf16_stays_close_to_fp32(tiny_model, pretend_cpu_bf16):
    pretend_cpu_bf16("avx512_bf16")
    fp32 = encoding.encode_fast(tiny_model, TEXTS, "passage", precision="fp32")
    bf16 = encoding.encode_fast(tiny_model, TEXTS, "passage", precision="bf16")
    assert (fp32 * bf16).sum(1).min() > 0.99


def test_other_module_stacks_fall_back_to_sentence_transformers(tiny_model_path):
    from sentence_transformers import SentenceTransformer

    model = load_model(tiny_model_path)
    cls_model = SentenceTransformer(modules=[model[0], type(model[1])(model[1].get_embedding_dimension(), "cls")])
    cls_model.prompts.update(model.prompts)
    assert encoding.encoder_parts(cls_model) is None
    np.testing.assert_allclose(
        encoding.encode_fast(cls_model, TEXTS, "query"), encode(cls_model, TEXTS, "query"), atol=1e-6
    )


def test_objects_that_only_encode_fall_back_to_their_encode() -> None:
    """Anything with a sentence-transformers-like ``encode`` (mocks, wrappers) goes through the fallback."""
    import numpy as np

    from langmix.model.load import encode

    class Echo:
        def encode(self, texts, prompt_name=None, **kwargs):
            return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    out = encode(Echo(), ["ab", "abcd"], "query")
    assert out.shape == (2, 2) and out[1, 0] > out[0, 0]


@pytest.mark.parametrize("texts, words", [
    ("hello", "texts is one string, not a list of texts"),
    (["a", None], "texts[1] is NoneType, not a string"),
    ([3], "texts[0] is int, not a string"),
    (5, "texts is int, not a list of strings"),
])
def test_encode_refuses_what_is_not_a_list_of_strings(tiny_model, texts, words) -> None:
    with pytest.raises(LangmixError, match=re.escape(words)):
        langmix.encode(tiny_model, texts, "query")


@pytest.mark.parametrize("model", ["multilingual-e5-small", None, 3])
def test_encode_refuses_what_is_not_a_loaded_model(model) -> None:
    with pytest.raises(LangmixError, match="not a loaded model.*langmix.load_model"):
        langmix.encode(model, ["hello"], "query")
