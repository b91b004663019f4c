"""Fixtures of the adversarial tests: a tiny emoji package (the layout of ``genzoo.data.emoji``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image


def make_emoji_package(root: Path) -> Path:
    """20 base emoji (every third with two skin tones); twitter lacks emoji 7. Each image is one flat
    colour: red = 10 * record index + tone, green = 200 (google) or 100 (twitter); written into
    ``root`` (emoji.json, img/<vendor>/64/), which is returned."""
    root.mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(20):
        uid = f"1F6{i:02d}"
        rec = {"name": f"FACE {i}", "unified": uid, "image": f"{uid.lower()}.png", "short_names": [f"f{i}"],
               "category": ["Smileys", "Animals"][i % 2], "has_img_google": True, "has_img_twitter": i != 7}
        if i % 3 == 0:
            rec["skin_variations"] = {t: {"unified": f"{uid}-{t}", "image": f"{uid.lower()}-{t.lower()}.png",
                                          "has_img_google": True, "has_img_twitter": True}
                                      for t in ("1F3FB", "1F3FF")}
        records.append(rec)
    (root / "emoji.json").write_text(json.dumps(records))
    for vendor, green in (("google", 200), ("twitter", 100)):
        for i, rec in enumerate(records):
            images = [(rec["image"], 10 * i)] if rec[f"has_img_{vendor}"] else []
            images += [(v["image"], 10 * i + 1 + k) for k, v in enumerate((rec.get("skin_variations") or {}).values())]
            for name, red in images:
                path = root / "img" / vendor / "64" / name
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.new("RGBA", (64, 64), (red, green, 0, 255)).save(path)
    return root


@pytest.fixture(scope="module")
def emoji_dir(tmp_path_factory) -> Path:
    """The package's folder (emoji.json at its top): what the benchmarks' readers take."""
    return make_emoji_package(tmp_path_factory.mktemp("emoji"))


@pytest.fixture(scope="module")
def emoji_data_dir(tmp_path_factory) -> Path:
    """A data directory holding the package as emoji/: what ``--data emoji --data-dir`` takes."""
    root = tmp_path_factory.mktemp("data")
    make_emoji_package(root / "emoji")
    return root
