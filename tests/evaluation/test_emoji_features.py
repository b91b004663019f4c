"""The emoji feature network: a colour category classifier trained through ``genzoo features --data
emoji`` on a tiny emoji package the test builds, only on the training split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from genzoo.cli.main import main
from genzoo.data import DataConfig, load_dataset
from genzoo.evaluation import features as feat

CATEGORIES = ("Animals", "Food", "Smileys")
GREEN = (40, 130, 220)  # the category is the green level; red encodes the emoji, blue the vendor


@pytest.fixture(scope="module")
def emoji_dir(tmp_path_factory) -> Path:
    """24 base emoji in three categories (by index mod 3), every image one flat colour, unique per image."""
    root = tmp_path_factory.mktemp("emoji")
    records = [{"name": f"FACE {i}", "unified": f"1F6{i:02d}", "image": f"1f6{i:02d}.png",
                "short_names": [f"f{i}"], "category": CATEGORIES[i % 3]} for i in range(24)]
    (root / "emoji.json").write_text(json.dumps(records))
    for vendor, blue in (("google", 30), ("twitter", 90)):
        for i, rec in enumerate(records):
            path = root / "img" / vendor / "64" / rec["image"]
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGBA", (64, 64), (10 * i, GREEN[i % 3], blue, 255)).save(path)
    return root


def _tiny(**kw) -> list[str]:
    opts = {"--input-size": "16", "--channels": "4", "--feature-dim": "8", "--num-classes": "3",
            "--epochs": "30", "--batch-size": "8", "--lr": "0.02", **kw}
    return [a for kv in opts.items() for a in kv]


@pytest.mark.slow
def test_features_cli_trains_a_colour_emoji_classifier_on_the_training_split(emoji_dir, tmp_path, monkeypatch,
                                                                             capsys):
    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path / "cache"))
    seen = {}
    train = feat.train_feature_net

    def spy(x_tr, y_tr, x_te, y_te, config, log=None):
        seen["train"], seen["test"] = x_tr, x_te
        return train(x_tr, y_tr, x_te, y_te, config, log=log)

    monkeypatch.setattr(feat, "train_feature_net", spy)
    assert main(["features", "--data", "emoji", "--data-dir", str(emoji_dir), *_tiny()]) == 0
    meta = json.loads(capsys.readouterr().out)
    assert meta["config"]["in_channels"] == 3 and meta["config"]["vendor"] == "google"
    assert meta["data_options"] == {"vendor": "google", "size": 16}
    assert meta["name"].startswith("cnn8-emoji-google-rgb-") and Path(meta["path"]).is_file()
    # trained on the colour training images only; the test split is never among them
    data = load_dataset(DataConfig(name="emoji", data_dir=str(emoji_dir), size=16))
    assert torch.equal(seen["train"], data.train.x) and seen["train"].shape[1] == 3
    assert torch.equal(seen["test"], data.test.x)
    train_colours = {tuple(x[:, 8, 8].tolist()) for x in seen["train"]}
    assert not train_colours & {tuple(x[:, 8, 8].tolist()) for x in data.test.x}
    # the category is in the green channel only: a colour classifier gets every test emoji right
    assert meta["test_accuracy"] == 1.0
    # from the cache through the one-call API, as a category classifier and a feature space
    cfg = feat.FeatureNetConfig(data="emoji", input_size=16, channels=(4,), feature_dim=8, num_classes=3,
                                epochs=30, batch_size=8, lr=0.02)
    ext = feat.get_feature_extractor(cfg)
    assert ext.name == meta["name"] and ext.accuracy == 1.0
    big = load_dataset(DataConfig(name="emoji", data_dir=str(emoji_dir))).test  # 64x64: resized to 16
    assert torch.equal(ext.predict(big.x), big.y) and ext(big.x).shape == (len(big.x), 8)


def test_features_cli_refuses_a_vendor_for_other_data(capsys):
    assert main(["features", "--data", "digits", "--vendor", "google"]) == 2
    assert "vendor: only applies to data=emoji" in capsys.readouterr().err


@pytest.mark.slow
def test_compare_measures_emoji_runs_in_the_colour_network_of_their_vendor(emoji_dir, tmp_path, monkeypatch,
                                                                          capsys):
    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "dcgan"
    assert main(["train", "dcgan", "--data", "emoji", "--data-dir", str(emoji_dir), "--size", "16",
                 "--vendor", "twitter", "--width", "4", "--noise-dim", "4", "--max-steps", "1", "--epochs", "1",
                 "--batch-size", "8", "--device", "cpu", "--progress", "false", "--sample-every", "0",
                 "--validate", "false", "--out", str(run)]) == 0
    capsys.readouterr()
    # the network compare must ask for: emoji, the run's vendor and split, in colour (a tiny one cached there)
    wanted = feat.feature_config_for(DataConfig(name="emoji", vendor="twitter", size=16))
    assert (wanted.vendor, wanted.in_channels, wanted.input_size) == ("twitter", 3, 32)
    tiny = feat.FeatureNet(feat.FeatureNetConfig(data="emoji", vendor="twitter", input_size=16, channels=(4,),
                                                 feature_dim=8, num_classes=3))
    feat.save_feature_net(tiny, feat.feature_net_path(wanted), accuracy=0.5)
    assert main(["compare", str(run), "--samples", "12", "--kid-subsets", "2", "--reference", "train", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert row["features"] == tiny.config.name and row["features"].startswith("cnn8-emoji-twitter-rgb-")
    assert row["n_samples"] == 12 and row["fid"] >= 0 and 0 <= row["precision"] <= 1
