"""langmix.model.merge: weighted parameter averages (WiSE-FT, model soups), their refusals and the saved folder."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch

from langmix.errors import LangmixError
from langmix.model.load import load_model
from langmix.model.merge import (
    Fingerprint,
    add_weighted,
    check_compatible,
    check_weights,
    choose_lambda,
    merge_models,
    save_merged,
)


@pytest.fixture(scope="module")
def models(tiny_model_path: Path, build_tiny):
    """Two tiny models of one architecture and tokenizer, with different random weights (loaded on the CPU)."""
    return load_model(tiny_model_path, device="cpu"), load_model(build_tiny(seed=1), device="cpu")


def _floats(model) -> dict[str, torch.Tensor]:
    return {k: v for k, v in model.state_dict().items() if v.is_floating_point()}


def _same_bits(model, reference) -> bool:
    """Every tensor equal bit for bit (so -0.0 differs from 0.0); float32 models compared as int32 words."""
    mine, theirs = model.state_dict(), reference.state_dict()
    return mine.keys() == theirs.keys() and all(
        mine[k].dtype == theirs[k].dtype and torch.equal(mine[k].view(torch.int32), theirs[k].view(torch.int32))
        for k in mine)


def test_weights_one_and_zero_give_each_input_back_bit_for_bit(models) -> None:
    a, b = (copy.deepcopy(m) for m in models)
    with torch.no_grad():  # a -0.0 where b is positive: -0.0 + 0 x b would be +0.0
        a[0].auto_model.embeddings.LayerNorm.bias[0] = -0.0
        b[0].auto_model.embeddings.LayerNorm.bias[0] = 1.0
    assert _same_bits(merge_models([a, b], [1.0, 0.0]), a)
    assert _same_bits(merge_models([a, b], [0.0, 1.0]), b)
    assert not _same_bits(a, b)


def test_half_and_half_is_the_mean_and_leaves_the_inputs_alone(models) -> None:
    a, b = models
    before = {k: v.clone() for k, v in _floats(a).items()}
    merged = _floats(merge_models([a, b]))  # default weights: uniform
    fa, fb = _floats(a), _floats(b)
    assert all(torch.equal(merged[k], (fa[k] + fb[k]) / 2) for k in fa)
    assert all(torch.equal(before[k], fa[k]) for k in fa)


def test_a_soup_of_three_weights_each_model(models) -> None:
    a, b = models
    merged = _floats(merge_models([a, b, a], [0.25, 0.25, 0.5]))
    fa, fb = _floats(a), _floats(b)
    for k in fa:
        torch.testing.assert_close(merged[k], 0.75 * fa[k] + 0.25 * fb[k], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("weights,n,message", [
    (None, 1, "merging needs two or more models, got 1"),
    ([0.5, 0.3], 2, "weights 0.5,0.3 sum to 0.8, not 1"),
    ([1.5, -0.5], 2, "weights 1.5,-0.5 hold a negative"),
    ([1.0], 2, "1 weights (1) for 2 models"),
])
def test_bad_weights_are_refused(weights, n: int, message: str) -> None:
    with pytest.raises(LangmixError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_weights(weights, n)


def test_other_shapes_are_refused_naming_the_setting(models, build_tiny) -> None:
    wider = build_tiny(intermediate_size=48)
    with pytest.raises(LangmixError, match=r"differs from .* in intermediate_size \(48 vs 64\); merge only models"):
        merge_models([models[0], wider])


def test_fingerprints_name_a_missing_tensor_and_a_shape() -> None:
    def made(tensors: dict[str, str], label: str) -> Fingerprint:
        return Fingerprint(label, "tok", 10, {"modules": "Transformer"}, tensors)

    a = made({"w": "4x2 float", "b": "2 float"}, "A")
    with pytest.raises(LangmixError, match="B lacks the tensor w"):
        check_compatible(a, made({"b": "2 float"}, "B"))
    with pytest.raises(LangmixError, match="tensor w is 4x3 float in B but 4x2 float in A"):
        check_compatible(a, made({"w": "4x3 float", "b": "2 float"}, "B"))


def test_another_tokenizer_of_the_same_size_is_refused(models, tiny_model_path: Path, build_tiny, tmp_path) -> None:
    from transformers import AutoTokenizer

    folder = tmp_path / "tokenizer"
    AutoTokenizer.from_pretrained(str(tiny_model_path)).save_pretrained(folder)
    spec = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    spec["model"]["vocab"][1000][0] = "\u2581langmixpiece"  # one piece renamed: same size, other tokens
    (folder / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    other = build_tiny(tokenizer_from=folder)
    with pytest.raises(LangmixError, match=r"has another tokenizer than .* \(both 250002 tokens, but other tokens"):
        merge_models([models[0], other])


def test_tensors_that_are_not_floats_are_copied_if_equal_else_refused() -> None:
    total: dict[str, torch.Tensor] = {}
    ids = torch.arange(4)
    add_weighted(total, {"w": torch.ones(2), "position_ids": ids}, 0.5, "A")
    add_weighted(total, {"w": torch.full((2,), 3.0), "position_ids": ids.clone()}, 0.5, "B")
    assert torch.equal(total["w"], torch.full((2,), 2.0)) and torch.equal(total["position_ids"], ids)
    with pytest.raises(LangmixError, match=r"C holds other values in position_ids \(not a float"):
        add_weighted(total, {"w": torch.ones(2), "position_ids": ids + 1}, 0.0, "C")


def test_saved_folder_loads_in_sentence_transformers_and_langmix(models, tmp_path) -> None:
    from sentence_transformers import SentenceTransformer

    merged = merge_models(list(models), [0.25, 0.75])
    folder = save_merged(merged, tmp_path / "merged", ["start", "tuned"], [0.25, 0.75])
    record = json.loads((folder / "merge.json").read_text(encoding="utf-8"))
    assert record["inputs"] == [{"model": "start", "weight": 0.25}, {"model": "tuned", "weight": 0.75}]
    assert record["versions"]["langmix"]
    texts = ["ein Satz", "一句话"]
    expected = merged.encode(texts, prompt_name="passage")
    for loaded in (SentenceTransformer(str(folder), device="cpu"), load_model(folder)):
        assert loaded.prompts["query"] == "query: "
        assert torch.allclose(torch.from_numpy(loaded.encode(texts, prompt_name="passage")),
                              torch.from_numpy(expected), atol=1e-6)
    with pytest.raises(LangmixError, match="already holds files; pick a new folder"):
        save_merged(merged, folder, ["start", "tuned"], [0.25, 0.75])


def test_choose_lambda_picks_the_best_dev_score_of_the_path(models) -> None:
    a, b = models
    name = "0.model.embeddings.position_embeddings.weight"
    target = 0.25 * a.state_dict()[name] + 0.75 * b.state_dict()[name]

    def dev(model) -> dict[str, float]:  # highest where the model is 0.25 a + 0.75 b
        return {"dev/score": -float((model.state_dict()[name] - target).abs().max())}

    best, rows = choose_lambda(a, b, [0.0, 0.5, 0.75, 1.0], dev, "dev/score")
    assert best == 0.75 and [row["lambda"] for row in rows] == [0.0, 0.5, 0.75, 1.0]
    with pytest.raises(LangmixError, match="lambda 1.5 is outside"):
        choose_lambda(a, b, [0.5, 1.5], dev, "dev/score")
    with pytest.raises(LangmixError, match="dev metric 'dev_loss' is not among the dev metrics; pick one of dev/score"):
        choose_lambda(a, b, [0.5], dev, "dev_loss")


def test_the_goal_rule_keeps_the_starting_mono_and_the_tuned_cross_and_multi(models) -> None:
    a, b = models
    name = "0.model.embeddings.position_embeddings.weight"
    start, tuned = a.state_dict()[name], b.state_dict()[name]
    where = (tuned - start).abs().argmax()

    def dev(model) -> dict[str, float]:  # mono falls and cross / multi rise as lambda goes from 0 to 1
        lam = float((model.state_dict()[name].flatten()[where] - start.flatten()[where])
                    / (tuned.flatten()[where] - start.flatten()[where]))
        return {"x/mono/map": 0.8 - 0.1 * lam**2, "x/cross/map": 0.5 + 0.1 * lam, "x/multi/map": 0.4 + 0.2 * lam}

    lambdas = [0.25, 0.5, 0.75, 1.0]
    assert choose_lambda(a, b, lambdas, dev, "x/multi/map")[0] == 1.0  # the best dev multi mAP
    # worst margins: 0.25 -> multi -0.15, 0.5 -> multi -0.1, 0.75 -> mono -0.05625, 1 -> mono -0.1
    best, rows = choose_lambda(a, b, lambdas, dev, "x/multi/map", rule="goal")
    assert best == 0.75
    assert [row["lambda"] for row in rows] == [0.0, 0.25, 0.5, 0.75, 1.0]  # 0 scored as the mono reference
    assert rows[0]["x/mono/map"] == pytest.approx(0.8) and rows[-1]["x/multi/map"] == pytest.approx(0.6)
    assert choose_lambda(a, b, [0.25, 0.5], dev, "x/multi/map", rule="goal")[0] == 0.5  # 0 and 1 only refer
    with pytest.raises(LangmixError, match="the goal rule needs dev y/mono/map, y/cross/map, which the dev"):
        choose_lambda(a, b, [0.5], lambda m: {"y/multi/map": 0.0}, "y/multi/map", rule="goal")
    with pytest.raises(LangmixError, match="unknown lambda rule 'median'; use one of best, goal"):
        choose_lambda(a, b, [0.5], dev, "x/multi/map", rule="median")
