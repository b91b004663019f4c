"""The feature network: training, the verified cache, and the pluggable extractor protocol."""

import json

import pytest
import torch
from torch import nn

from genzoo.evaluation import features as feat

TINY = feat.FeatureNetConfig(data="toy", input_size=8, channels=(4,), feature_dim=16, num_classes=3,
                             epochs=8, batch_size=32, lr=1e-2)


def _toy(n, seed):
    """8x8 images whose class (0..2) is which third of the image is bright, plus noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    x = 0.3 * torch.rand(n, 1, 8, 8, generator=g)
    for c in range(3):
        x[y == c, :, :, 3 * c:3 * c + 2] += 0.7
    return x.clamp(0, 1), y


def test_feature_net_learns_and_gives_features_and_probs():
    (xtr, ytr), (xte, yte) = _toy(150, 0), _toy(60, 1)
    net, acc = feat.train_feature_net(xtr, ytr, xte, yte, TINY)
    assert acc > 0.9
    ext = feat.ClassifierFeatures(net, accuracy=acc)
    assert isinstance(ext, feat.FeatureExtractor)
    assert ext(xte).shape == (60, 16)
    p = ext.probs(xte)
    assert p.shape == (60, 3) and torch.allclose(p.sum(1), torch.ones(60))
    # other sizes and RGB are adapted (resized, averaged to grey)
    assert ext(torch.rand(5, 3, 12, 12)).shape == (5, 16)


def test_training_is_seeded():
    (xtr, ytr), (xte, yte) = _toy(60, 0), _toy(30, 1)
    cfg = feat.FeatureNetConfig(**{**TINY.__dict__, "epochs": 1})
    a, _ = feat.train_feature_net(xtr, ytr, xte, yte, cfg)
    b, _ = feat.train_feature_net(xtr, ytr, xte, yte, cfg)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_cache_round_trip_and_hash_check(tmp_path, monkeypatch):
    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path))
    calls = []

    def fake_split(data, split, seed=0):
        calls.append((data, split))
        return _toy(90, 0) if split == "train" else _toy(30, 1)

    monkeypatch.setattr(feat, "labelled_split", fake_split)
    cfg = feat.FeatureNetConfig(**{**TINY.__dict__, "epochs": 2})
    first = feat.get_feature_extractor(cfg)
    path = tmp_path / "features" / f"{cfg.name}.safetensors"
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["format_version"] == feat.FORMAT_VERSION and meta["data"] == "toy" and meta["seed"] == 0
    assert meta["test_accuracy"] == first.accuracy and len(meta["sha256"]) == 64
    second = feat.get_feature_extractor(cfg)  # from the cache: no training
    assert len(calls) == 2
    x = _toy(10, 5)[0]
    assert torch.equal(first(x), second(x))
    # a changed weights file is refused, naming the file
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=str(path.name)):
        feat.get_feature_extractor(cfg)


def test_load_rejects_missing_files_and_other_versions(tmp_path):
    with pytest.raises(ValueError, match="missing"):
        feat.load_feature_net(tmp_path / "none.safetensors")
    net = feat.FeatureNet(TINY)
    path = feat.save_feature_net(net, tmp_path / "n.safetensors", accuracy=0.5)
    side = path.with_suffix(".json")
    side.write_text(side.read_text().replace('"format_version": 1', '"format_version": 99'))
    with pytest.raises(ValueError, match="format_version"):
        feat.load_feature_net(path)


def test_module_features_wraps_any_network():
    body = nn.Sequential(nn.Conv2d(3, 2, 3), nn.AdaptiveAvgPool2d(1))
    ext = feat.ModuleFeatures(body, name="mine", input_size=(16, 16), channels=3, mean=(0.5, 0.5, 0.5),
                              std=(0.25, 0.25, 0.25), probs_module=nn.Sequential(nn.Flatten(), nn.Linear(768, 4)))
    assert isinstance(ext, feat.FeatureExtractor) and ext.name == "mine"
    x = torch.rand(7, 1, 8, 8)
    assert ext(x).shape == (7, 2)
    assert torch.allclose(ext.probs(x).sum(1), torch.ones(7))


def test_old_cache_names_are_kept_and_colour_data_get_a_colour_network():
    # names of networks cached before in_channels/vendor/data_size existed (e.g. ~/.cache's mnist5k one)
    assert feat.FeatureNetConfig().name == "cnn128-mnist5k-seed0-73dc96d1"
    assert feat.FeatureNetConfig(data="digits", data_seed=3).name == "cnn128-digits-split3-seed0-93089a86"
    grey = feat.FeatureNetConfig()
    assert (grey.in_channels, grey.input_size, grey.vendor, grey.data_options()) == (1, 28, None, {})
    emoji = feat.FeatureNetConfig(data="emoji")
    assert (emoji.in_channels, emoji.input_size, emoji.vendor) == (3, 32, "google")
    assert emoji.data_options() == {"vendor": "google", "size": 32}
    assert emoji.name.startswith("cnn128-emoji-google-rgb-seed0-")
    assert feat.FeatureNetConfig(data="emoji", vendor="twitter").name != emoji.name
    with pytest.raises(ValueError, match="vendor"):
        feat.FeatureNetConfig(data="mnist5k", vendor="google")
    from genzoo.data import DataConfig
    assert feat.feature_config_for(DataConfig(name="emoji", vendor="twitter", seed=2, size=64)) == \
        feat.FeatureNetConfig(data="emoji", vendor="twitter", data_seed=2)
    assert feat.feature_config_for(DataConfig(name="digits", seed=3)) == feat.FeatureNetConfig(data="digits",
                                                                                             data_seed=3)


def _colour_toy(n, seed):
    """16x16 RGB images whose class (0..2) is which channel is bright; the grey mean is the same for
    every class, so a 1-channel network cannot tell them apart."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    x = 0.1 * torch.rand(n, 3, 16, 16, generator=g)
    x[torch.arange(n), y] += 0.8
    return x, y


def test_colour_network_sees_colour():
    (xtr, ytr), (xte, yte) = _colour_toy(150, 0), _colour_toy(60, 1)
    fields = {**TINY.__dict__, "data": "emoji", "vendor": None, "data_size": None, "in_channels": None}
    rgb = feat.FeatureNetConfig(**fields)
    assert rgb.in_channels == 3
    net, acc = feat.train_feature_net(xtr, ytr, xte, yte, rgb)
    assert acc > 0.9 and net.body[0].in_channels == 3
    ext = feat.ClassifierFeatures(net)
    assert ext(torch.rand(4, 3, 32, 32)).shape == (4, 16)  # shrunk to input_size 8
    assert torch.equal(ext.predict(xte), ext.probs(xte).argmax(-1))
    grey = feat.FeatureNetConfig(**{**fields, "in_channels": 1})
    _, grey_acc = feat.train_feature_net(xtr, ytr, xte, yte, grey)
    assert grey_acc < 0.7  # chance is 1/3: the grey mean carries no class (60 test images)
