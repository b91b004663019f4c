"""The named colour datasets (8-bit RGB), as :func:`genzoo.data.load_dataset` reads them.

* ``emoji`` -- :mod:`genzoo.data.emoji` (``--vendor google|twitter``, ``--size 16|32|64``, labels =
  category, split by base emoji with ``--seed``);
* ``cifar10`` -- :mod:`genzoo.data.cifar` (binary version, ``--download`` with a SHA-256 check).

:func:`read_colour` returns per-split uint8 codes (N, 3, H, W), int64 labels and (emoji) captions; resizing to
``--size`` is left to the shared loading steps.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from genzoo.data.cifar import CIFAR10_ARCHIVE, CIFAR10_FOLDER, read_cifar10
from genzoo.data.emoji import SIZES, emoji_split, read_emoji
from genzoo.data.errors import DataError

if TYPE_CHECKING:
    from genzoo.data.datasets import DataConfig

COLOUR_DATASETS: dict[str, str] = {
    "emoji": "emoji-datasource google/twitter drawings (3,786 each), 64x64 RGB on white, 10 categories, "
             "split by base emoji ~80/10/10 (emoji.json + img/<vendor>/64/ in data_dir)",
    "cifar10": "CIFAR-10, 32x32 RGB, 10 classes, 45k/5k/10k, cifar-10-binary.tar.gz in data_dir (downloadable)",
}

Splits = dict[str, np.ndarray]


def read_colour(cfg: DataConfig, find_folder: Callable[..., tuple[Path, bool]]
                ) -> tuple[Splits, dict[str, np.ndarray | None], int, dict[str, list[str]] | None]:
    """(images per split uint8 (N, 3, H, W), labels per split, number of classes, captions per split
    or None) for ``cfg.name``.

    ``find_folder(cfg, markers)`` locates the files (DATA_DIR/NAME/, then DATA_DIR/).
    """
    if cfg.name == "emoji":
        if cfg.size is not None and cfg.size not in SIZES:
            raise DataError(f"size: emoji come at {', '.join(map(str, SIZES))} pixels, got {cfg.size}")
        folder, found = find_folder(cfg, ("emoji.json",))
        if not found:
            raise DataError(f"{folder.parent}: no emoji.json here or in {folder}/ (the emoji-datasource "
                            "package layout; pass --data-dir to its folder)")
        data = read_emoji(folder, cfg.vendor, 64)  # --size is applied by the shared loading steps
        parts = emoji_split(data.groups, cfg.seed)
        return ({s: data.images[i] for s, i in parts.items()}, {s: data.labels[i] for s, i in parts.items()},
                len(data.categories), {s: [data.captions[j] for j in i] for s, i in parts.items()})
    if cfg.name == "cifar10":
        folder, found = find_folder(cfg, (CIFAR10_ARCHIVE,))
        if not found and (folder.parent / CIFAR10_FOLDER).is_dir():
            folder = folder.parent
        splits = read_cifar10(folder, download=cfg.download)
        return {s: x for s, (x, _) in splits.items()}, {s: y for s, (_, y) in splits.items()}, 10, None
    raise DataError(f"name: {cfg.name!r} is not a colour dataset ({', '.join(COLOUR_DATASETS)})")
