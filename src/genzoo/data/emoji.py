"""The emoji dataset: the emoji-datasource npm package layout, read without the network.

Layout (``npm pack emoji-datasource-google``, ``-twitter``; version 16.0.0 tested)::

    FOLDER/emoji.json                 one record per emoji: image, name, short_names, category,
                                      skin_variations {tone: {image, has_img_<vendor>, ...}}
    FOLDER/img/<vendor>/64/<image>    64x64 RGBA PNG, for vendor google (Noto, Apache-2.0) or
                                      twitter (Twemoji, CC-BY 4.0)

Every example is one image file of one vendor: a base emoji or one of its skin-tone variants. The
alpha channel is composited on white (``rgb * a + 255 * (1 - a)``, rounded), giving 8-bit RGB codes
(256 levels), optionally shrunk to 16 or 32 pixels with the antialiased resize of
:func:`~genzoo.data.transforms.resize_codes`.

* label: the index of the record's ``category`` in the sorted list of categories (10 in 16.0.0);
* caption: the lower-cased Unicode ``name`` plus the ``short_names`` (and the skin tone of a
  variant), e.g. ``"grinning face (grinning)"``;
* split: by base emoji, so that the skin-tone variants of one emoji are never spread over
  train/valid/test. The base emoji are permuted with a seeded generator and cut at 80/10/10 % of
  the images; :func:`emoji_split` returns the split (with the ``unified`` ids of each part, the
  record of which emoji went where).

:func:`emoji_pairs` gives the same emoji drawn by both vendors, aligned by id (for paired or
unpaired image translation), and :class:`EmojiData` keeps each example's id and caption.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genzoo.data.errors import DataError

VENDORS = ("google", "twitter")
SIZES = (16, 32, 64)
SKIN_TONES = {
    "1F3FB": "light skin tone",
    "1F3FC": "medium-light skin tone",
    "1F3FD": "medium skin tone",
    "1F3FE": "medium-dark skin tone",
    "1F3FF": "dark skin tone",
}
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)


@dataclass(eq=False)
class EmojiData:
    """All images of one vendor at one size, in emoji.json order (each base emoji, then its variants).

    ``images`` uint8 (N, 3, S, S) RGB codes composited on white; ``labels`` int64 (N,) category
    index; ``groups`` int64 (N,) index of the base emoji (variants share it); ``ids`` the
    ``unified`` code of each image (e.g. ``"1F44D-1F3FB"``); ``captions`` one string per image;
    ``categories`` the label names.
    """

    images: np.ndarray
    labels: np.ndarray
    groups: np.ndarray
    ids: list[str]
    captions: list[str]
    categories: list[str]
    vendor: str
    size: int

    def __len__(self) -> int:
        return len(self.ids)


def _check_options(vendor: str, size: int) -> None:
    if vendor not in VENDORS:
        raise DataError(f"vendor: {vendor!r} is not one of {', '.join(VENDORS)}")
    if size not in SIZES:
        raise DataError(f"size: emoji come at {', '.join(map(str, SIZES))} pixels, got {size}")


def read_records(folder: Path) -> list[dict]:
    """The records of ``folder/emoji.json`` (a JSON array of objects), checked for the fields used."""
    path = Path(folder) / "emoji.json"
    if not path.is_file():
        raise DataError(f"{path}: file not found (expected the emoji-datasource package layout; "
                        "get it with `npm pack emoji-datasource-google` and pass --data-dir)")
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not readable JSON ({exc})") from exc
    if not isinstance(records, list):
        raise DataError(f"{path}: expected a JSON array of emoji records")
    for i, rec in enumerate(records):
        if not isinstance(rec, dict) or not all(isinstance(rec.get(k), str) for k in ("image", "unified",
                                                                                    "category")):
            raise DataError(f"{path}: record {i} lacks a string image/unified/category")
    return records


def _caption(rec: dict, tone: str | None = None) -> str:
    name = str(rec.get("name") or rec.get("short_name") or rec["unified"]).lower()
    shorts = [str(s) for s in rec.get("short_names") or [] if s]
    caption = f"{name} ({', '.join(shorts)})" if shorts else name
    if tone is not None:
        words = ", ".join(SKIN_TONES.get(t.upper(), t) for t in tone.split("-"))
        caption = f"{caption}, {words}"
    return caption


def _entries(records: list[dict], vendor: str) -> list[tuple[int, str, str, str, dict]]:
    """(group, unified id, image file, caption, base record) for every image the vendor has."""
    flag = f"has_img_{vendor}"
    out = []
    for group, rec in enumerate(records):
        if rec.get(flag, True):
            out.append((group, rec["unified"], rec["image"], _caption(rec), rec))
        variations = rec.get("skin_variations") or {}
        if not isinstance(variations, dict):
            continue
        for tone, var in variations.items():
            if isinstance(var, dict) and isinstance(var.get("image"), str) and var.get(flag, True):
                uid = str(var.get("unified") or f"{rec['unified']}-{tone}")
                out.append((group, uid, var["image"], _caption(rec, tone), rec))
    return out


def composite_on_white(rgba: np.ndarray) -> np.ndarray:
    """(..., H, W, 4) uint8 RGBA -> (..., H, W, 3) uint8 RGB over a white background."""
    x = rgba.astype(np.float32)
    a = x[..., 3:] / 255.0
    return np.clip(np.round(x[..., :3] * a + 255.0 * (1.0 - a)), 0, 255).astype(np.uint8)


def _load_png(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise DataError(f"{path}: image file not found (listed in emoji.json)")
    try:
        with Image.open(path) as im:
            if im.format != "PNG":
                raise DataError(f"{path}: not a PNG file ({im.format})")
            arr = np.asarray(im.convert("RGBA"))
    except (OSError, UnidentifiedImageError) as exc:
        raise DataError(f"{path}: unreadable image ({exc})") from exc
    if arr.shape != (64, 64, 4):
        raise DataError(f"{path}: expected a 64x64 image, got {arr.shape[1]}x{arr.shape[0]}")
    return arr


def read_emoji(folder: str | Path, vendor: str = "google", size: int = 64) -> EmojiData:
    """Read every image of ``vendor`` under ``folder`` (see the module docstring) at ``size``."""
    from genzoo.data.transforms import resize_codes

    _check_options(vendor, size)
    folder = Path(folder)
    records = read_records(folder)
    entries = _entries(records, vendor)
    if not entries:
        raise DataError(f"{folder / 'emoji.json'}: no images marked as available for vendor {vendor}")
    image_dir = folder / "img" / vendor / "64"
    if not image_dir.is_dir():
        raise DataError(f"{image_dir}: folder not found (the {vendor} images of the emoji-datasource-{vendor} "
                        "package)")
    rgba = np.stack([_load_png(image_dir / file) for _, _, file, _, _ in entries])  # (N, 64, 64, 4)
    codes = np.ascontiguousarray(composite_on_white(rgba).transpose(0, 3, 1, 2))  # (N, 3, 64, 64)
    if size != 64:
        codes = resize_codes(codes, 256, size)
    categories = sorted({rec["category"] for _, _, _, _, rec in entries})
    index = {c: i for i, c in enumerate(categories)}
    return EmojiData(
        images=codes,
        labels=np.array([index[rec["category"]] for *_, rec in entries], dtype=np.int64),
        groups=np.array([g for g, *_ in entries], dtype=np.int64),
        ids=[uid for _, uid, *_ in entries],
        captions=[cap for *_, cap, _ in entries],
        categories=categories,
        vendor=vendor,
        size=size,
    )


def emoji_split(groups: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Train/valid/test example indices that keep every base emoji (``groups``) in one split.

    The distinct groups are permuted with ``numpy.random.default_rng([seed, 12])``; walking that
    order, each group goes to train until 80 % of the images are taken, then to valid until 90 %,
    then to test. Every split gets at least one group; indices are sorted.
    """
    uniq = np.unique(groups)
    if len(uniq) < 3:
        raise DataError(f"emoji: {len(uniq)} base emoji are too few to split into train/valid/test (need 3)")
    order = np.random.default_rng([seed, 12]).permutation(uniq)
    sizes = np.bincount(groups)[order]
    ends = np.cumsum(sizes) / len(groups)
    cut1 = int(np.searchsorted(ends, SPLIT_FRACTIONS[0], side="left")) + 1
    cut2 = int(np.searchsorted(ends, SPLIT_FRACTIONS[0] + SPLIT_FRACTIONS[1], side="left")) + 1
    cut1 = min(max(cut1, 1), len(order) - 2)
    cut2 = min(max(cut2, cut1 + 1), len(order) - 1)
    parts = {"train": order[:cut1], "valid": order[cut1:cut2], "test": order[cut2:]}
    return {s: np.flatnonzero(np.isin(groups, g)) for s, g in parts.items()}


def emoji_split_ids(data: EmojiData, seed: int) -> dict[str, list[str]]:
    """The record of a split: the ``unified`` ids of the images in each of train/valid/test."""
    return {s: [data.ids[i] for i in idx] for s, idx in emoji_split(data.groups, seed).items()}


def emoji_pairs(folder: str | Path, size: int = 64) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The emoji that both vendors draw, aligned: ``(ids, google (N, 3, S, S), twitter (N, 3, S, S))``
    uint8 RGB codes, row i of both arrays being the emoji ``ids[i]``."""
    google, twitter = read_emoji(folder, "google", size), read_emoji(folder, "twitter", size)
    where = {uid: i for i, uid in enumerate(twitter.ids)}
    ids = [uid for uid in google.ids if uid in where]
    gi = np.array([i for i, uid in enumerate(google.ids) if uid in where], dtype=np.int64)
    ti = np.array([where[uid] for uid in ids], dtype=np.int64)
    return ids, google.images[gi], twitter.images[ti]
