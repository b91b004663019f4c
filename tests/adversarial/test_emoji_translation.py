"""The emoji CycleGAN benchmark's data: vendor pairing by id and disjoint unpaired training sets,
on a tiny emoji package (conftest.py); the paired option of the cycle objective."""

from __future__ import annotations

import numpy as np
import pytest
import torch


def test_vendor_pairing_and_disjoint_unpaired_training_sets(emoji_dir, benchmark_script):
    bench = benchmark_script("emoji_cyclegan")
    ids, google, twitter, groups = bench.paired_emoji(emoji_dir, 16)
    assert len(ids) == 19 + 7 * 2 and not any(uid == "1F607" for uid in ids)
    assert google.shape == twitter.shape == (len(ids), 3, 16, 16)
    for k, uid in enumerate(ids):  # row k of both arrays is emoji ids[k]
        base, _, tone = uid.partition("-")
        red = 10 * int(base[3:]) + {"": 0, "1F3FB": 1, "1F3FF": 2}[tone]
        assert google[k, 0, 8, 8] == twitter[k, 0, 8, 8] == red
        assert google[k, 1, 8, 8] == 200 and twitter[k, 1, 8, 8] == 100
    split = bench.unpaired_split(groups, seed=0)
    ga, gb = set(groups[split["train_a"]]), set(groups[split["train_b"]])
    assert ga and gb and not ga & gb  # no base emoji (so no emoji, no skin tone) in both domains
    assert sorted([*split["train_a"], *split["train_b"]]) == sorted(split["train"])
    held = set(groups[split["valid"]]) | set(groups[split["test"]])
    assert not (ga | gb) & held
    again = bench.unpaired_split(groups, seed=0)
    assert all(np.array_equal(again[k], split[k]) for k in split)
    # the translation figures: L1 and PSNR of a known difference
    truth = torch.zeros(2, 3, 4, 4)
    d = bench.distances(truth + 0.1, truth)
    assert d["l1"] == pytest.approx(0.1) and d["psnr"] == pytest.approx(20.0) and d["l1_se"] == pytest.approx(0.0)
    assert "feat" not in d
    # the feature distance: Euclidean distance of the features of each prediction and its truth
    first_two = lambda x: x.flatten(1)[:, :2]  # noqa: E731 -- a 2-d "feature network"
    d = bench.distances(truth + 0.1, truth, first_two)
    assert d["feat"] == pytest.approx(0.1 * 2 ** 0.5) and d["feat_se"] == pytest.approx(0.0)
    # the paired difference from a baseline, image by image: image 0 is 0.1 closer, image 1 0.1 farther
    # (float32 images: means of differences exact to ~1e-7)
    pred = truth + torch.tensor([0.1, 0.3]).view(2, 1, 1, 1)
    v = bench.versus(pred, truth + 0.2, truth, first_two)
    assert v["l1"] == pytest.approx(0.0, abs=1e-6) and v["l1_se"] == pytest.approx(0.1)
    assert v["feat"] == pytest.approx(0.0, abs=1e-6) and v["feat_se"] == pytest.approx(0.1 * 2 ** 0.5)
    psnr = [10 * np.log10(1 / 0.01) - 10 * np.log10(1 / 0.04), 10 * np.log10(1 / 0.09) - 10 * np.log10(1 / 0.04)]
    assert v["psnr"] == pytest.approx(np.mean(psnr)) and v["psnr_se"] == pytest.approx(np.std(psnr, ddof=1) / 2 ** 0.5)


def test_paired_l1_term_uses_aligned_rows():
    from genzoo.objectives.cycle import CycleConfig, CycleGANObjective
    from genzoo.registry import get_model

    entry = get_model("cyclegan")
    torch.manual_seed(0)
    model = entry.model_cls(entry.config_cls(shape=(3, 8, 8), width=4, res_blocks=1))
    a, b = torch.rand(3, 3, 8, 8), torch.rand(3, 3, 8, 8)
    plain = CycleGANObjective(CycleConfig())(model, {"x": a, "x_b": b})
    paired_obj = CycleGANObjective(CycleConfig(paired_l1=2.0))
    with pytest.raises(ValueError, match="paired data"):
        paired_obj(model, {"x": a, "x_b": b})  # unpaired batches (the CLI's --data-b) are refused
    paired = paired_obj(model, {"x": a, "x_b": b, "paired_b": True})
    with torch.no_grad():
        direct = ((model.translate(a, "a2b") - b).abs().flatten(1).mean(1)
                  + (model.translate(b, "b2a") - a).abs().flatten(1).mean(1))
    torch.testing.assert_close(paired["paired_l1"], direct)
    torch.testing.assert_close(paired["loss"], plain["loss"] + 2.0 * direct)


def test_residual_generators_start_as_the_identity_and_learn():
    from genzoo.registry import get_model

    entry = get_model("cyclegan")
    torch.manual_seed(0)
    model = entry.model_cls(entry.config_cls(shape=(3, 8, 8), width=4, res_blocks=1, residual=True))
    x = torch.rand(2, 3, 8, 8)
    for direction in ("a2b", "b2a"):  # tanh(atanh(0.99 t)) = 0.99 t in the [-1, 1] range of the nets
        torch.testing.assert_close(model.translate(x, direction), (0.99 * (2 * x - 1) + 1) / 2)
    (model.translate(x, "a2b") - 0.5).abs().mean().backward()
    last = model.g_ab.body[-1]
    assert last.weight.grad.abs().sum() > 0 and model.g_ba.body[-1].weight.grad is None
    plain = entry.model_cls(entry.config_cls(shape=(3, 8, 8), width=4, res_blocks=1))
    assert not torch.allclose(plain.translate(x, "a2b"), x, atol=0.05)  # the default is no identity
    with pytest.raises(ValueError, match="same channels"):
        entry.config_cls(shape=(1, 8, 8), shape_b=(3, 8, 8), residual=True)
