"""PCG64 dropout: the mask's law, seeding and replay, the attention path, and the swap into a real encoder."""

from __future__ import annotations

import copy

import pytest
import torch

from langmix.training.dropout import ATTENTION, PCG64Dropout, attention, keep_mask, pcg64_dropout, use_pcg64_dropout
from langmix.training.loop import embed

DROP = 6554 / 2**16  # p = 0.1 rounded to a multiple of 2**-16


def test_keep_share_is_one_minus_the_rounded_p():
    torch.manual_seed(0)
    share = keep_mask((1000, 1000), 0.1).float().mean().item()
    assert abs(share - (1 - DROP)) < 5 * (DROP * (1 - DROP) / 1e6) ** 0.5  # 5 binomial standard deviations
    assert keep_mask((7, 3), 0.0).all() and keep_mask((5,), 0.5).shape == (5,)


def test_masks_follow_torchs_seed_and_fork_rng_replays_them():
    torch.manual_seed(1)
    a = keep_mask((64, 64), 0.3)
    torch.manual_seed(1)
    assert torch.equal(a, keep_mask((64, 64), 0.3))
    with torch.random.fork_rng(devices=[]):
        inside = keep_mask((64, 64), 0.3)
    assert torch.equal(inside, keep_mask((64, 64), 0.3))  # the fork left torch's state where it was
    assert not torch.equal(inside, keep_mask((64, 64), 0.3))


def test_dropout_zeroes_or_scales_and_is_the_identity_in_eval():
    x = torch.randn(200, 50)
    torch.manual_seed(2)
    y = pcg64_dropout(x, 0.1)
    kept = y != 0
    assert torch.allclose(y[kept], x[kept] / (1 - DROP))
    assert 0.85 < kept.float().mean() < 0.95
    layer = PCG64Dropout(0.1).eval()
    assert layer(x) is x and pcg64_dropout(x, 0.0) is x


def _qkv(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(2, 3, 5, 4, generator=g, requires_grad=True) for _ in range(3))
    mask = torch.ones(2, 1, 5, 5, dtype=torch.bool)
    mask[1, ..., 3:] = False  # the second text has 3 real tokens
    return q, k, v, mask


def test_attention_without_dropout_is_transformers_sdpa():
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    q, k, v, mask = _qkv()
    module = torch.nn.Module()
    module.is_causal = False
    ours, _ = attention(module, q, k, v, mask, scaling=0.5, dropout=0.0)
    theirs, _ = sdpa_attention_forward(module, q, k, v, mask, scaling=0.5, dropout=0.0)
    assert torch.equal(ours, theirs)


def test_attention_with_dropout_is_softmax_attention_with_the_seeded_mask():
    q, k, v, mask = _qkv()
    torch.manual_seed(3)
    ours, _ = attention(torch.nn.Module(), q, k, v, mask, scaling=0.5, dropout=0.25)
    torch.manual_seed(3)
    keep = keep_mask((2, 3, 5, 5), 0.25)
    weights = (q @ k.transpose(2, 3) * 0.5).masked_fill(~mask, float("-inf")).softmax(-1)
    expected = (weights * keep / (1 - 0.25)) @ v  # 0.25 is a multiple of 2**-16
    assert torch.allclose(ours, expected.transpose(1, 2), atol=1e-6)
    v2 = v.detach().clone()
    v2[1, :, 3:] = 100.0  # padding keys carry no weight
    torch.manual_seed(3)
    assert torch.allclose(attention(torch.nn.Module(), q, k, v2, mask, scaling=0.5, dropout=0.25)[0], ours)


def test_an_encoder_with_pcg64_dropout_evaluates_as_before_and_saves_plain(tiny_model, tmp_path):
    from langmix.model.load import load_model

    model = copy.deepcopy(tiny_model)
    assert use_pcg64_dropout(model) > 0
    assert not any(type(m) is torch.nn.Dropout for m in model.modules())
    assert model[0].auto_model.config._attn_implementation == ATTENTION
    texts = ["ein kurzer Satz", "a somewhat longer sentence with more tokens in it"]
    with torch.no_grad():
        before = embed(tiny_model.eval(), texts, "passage", 32, "cpu")
        after = embed(model.eval(), texts, "passage", 32, "cpu")
    assert torch.equal(before, after)
    model.train()
    torch.manual_seed(4)
    a = embed(model, texts, "passage", 32, "cpu")
    torch.manual_seed(4)
    assert torch.equal(a, embed(model, texts, "passage", 32, "cpu"))
    assert not torch.allclose(a, after)  # dropout is on in training
    model.save(str(tmp_path / "saved"))
    assert ATTENTION not in (tmp_path / "saved" / "config.json").read_text()
    assert load_model(tmp_path / "saved")[0].auto_model.config._attn_implementation != ATTENTION


@pytest.mark.parametrize("chunk", [1, 3])
def test_gradcache_replays_pcg64_masks(tiny_model, chunk):
    """GradCache's loss and gradients equal those of the same chunks embedded with autograd, dropout on."""
    from langmix.training.batches import TextBatch
    from langmix.training.losses import CachedInfoNCE, InfoNCELoss

    queries = [f"frage {i}" for i in range(5)]
    positives = [f"antwort {i} mit etwas mehr text" for i in range(5)]
    loss = InfoNCELoss()
    batch = TextBatch(queries, positives, [], torch.zeros(0, dtype=torch.long), 0)
    runs = []
    for cached in (False, True):
        model = copy.deepcopy(tiny_model)
        use_pcg64_dropout(model)
        model.train()

        def embed_fn(texts, kind, model=model):
            return embed(model, texts, kind, 32, "cpu")

        torch.manual_seed(5)
        if cached:
            value = CachedInfoNCE(chunk_size=chunk)(embed_fn, batch)
        else:  # the same chunks with autograd: the masks GradCache must replay in its second pass
            q, p = ([embed_fn(texts[i:i + chunk], kind) for i in range(0, len(texts), chunk)]
                    for texts, kind in ((queries, "query"), (positives, "passage")))
            value = loss.from_embeddings(torch.cat(q), torch.cat(p))
        value.backward()
        runs.append((value.item(), [p.grad for p in model.parameters() if p.grad is not None]))
    (plain, plain_grads), (cached_value, cached_grads) = runs
    assert cached_value == pytest.approx(plain, abs=1e-6)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(plain_grads, cached_grads, strict=True))
