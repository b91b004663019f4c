"""Readers for the file formats genzoo accepts, and the checks that turn arrays into images.

Every reader returns whole numpy arrays (no per-sample Python except one Pillow call per image file)
and raises :class:`DataError` with a one-line message naming the file on any problem.

Images travel between the readers and :func:`genzoo.data.load_dataset` as :class:`RawImages`:
integer codes ``0 .. levels-1`` in a ``(N, C, H, W)`` uint8 array, so pixel value = code / (levels-1).
"""

from __future__ import annotations

import gzip
import io
import math
import struct
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genzoo.data.errors import DataError

IDX_IMAGES_MAGIC = 0x00000803  # unsigned byte data, 3 dimensions (N, rows, cols)
IDX_LABELS_MAGIC = 0x00000801  # unsigned byte data, 1 dimension (N,)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
SHAPE_HELP = "expected (N,H,W), (N,C,H,W), (N,H,W,C) or (N,D) with D square"


@dataclass(eq=False)
class RawImages:
    """Quantized images: ``x`` holds codes ``0 .. levels-1``, (N, C, H, W) uint8."""

    x: np.ndarray
    levels: int


# ----------------------------------------------------------------------------- bytes and gzip


def read_bytes(path: Path) -> bytes:
    """The raw bytes of ``path``; a missing or unreadable file is a :class:`DataError`."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from exc


def gunzip(raw: bytes, path: Path) -> bytes:
    """Decompress gzip ``raw`` (read from ``path``); a truncated or corrupt stream is a DataError."""
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        raise DataError(f"{path}: truncated or corrupt gzip file ({exc})") from exc


def read_maybe_gzip(path: Path) -> bytes:
    """The contents of ``path``, decompressed when its name ends in ``.gz``."""
    raw = read_bytes(path)
    return gunzip(raw, path) if str(path).endswith(".gz") else raw


# ----------------------------------------------------------------------------- IDX


def parse_idx(data: bytes, path: Path, magic: int) -> np.ndarray:
    """Parse an (uncompressed) IDX file of unsigned bytes, checking magic number, dims and length.

    The format (LeCun et al., http://yann.lecun.com/exdb/mnist/): a big-endian 32-bit magic number
    ``0x0000 08 ndim`` (0x08 = unsigned byte), ``ndim`` big-endian 32-bit sizes, then the data.
    """
    if len(data) < 4:
        raise DataError(f"{path}: {len(data)} bytes is too short for an IDX file")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        kind = "images" if magic == IDX_IMAGES_MAGIC else "labels"
        raise DataError(f"{path}: wrong IDX magic number 0x{found:08x} (expected 0x{magic:08x} for {kind})")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: IDX header is truncated ({len(data)} bytes, needs {header})")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = header + math.prod(dims)
    if len(data) != expected:
        raise DataError(
            f"{path}: IDX length {len(data)} bytes does not match its header (dims {dims} need {expected})"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


# ----------------------------------------------------------------------------- .amat text


def read_text_matrix(path: Path, *, delimiter: str | None = None) -> np.ndarray:
    """Parse a (gzipped when named ``.gz``) text matrix of integers 0..255 with numpy's C reader.

    Rows are lines, values separated by ``delimiter`` (None: any whitespace); blank lines are
    skipped. Returns (N, D) uint8; ragged rows, non-integers and values over 255 are DataErrors.
    """
    text = read_maybe_gzip(path).decode("latin-1")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data": checked below
            table = np.loadtxt(io.StringIO(text), delimiter=delimiter, dtype=np.uint8, ndmin=2)
    except ValueError as exc:
        reason = str(exc).splitlines()[0].split("; use `usecols`")[0]
        raise DataError(f"{path}: not a table of integers 0..255 ({reason})") from exc
    if table.size == 0:
        raise DataError(f"{path}: file holds no values")
    return table


def read_amat(path: Path) -> np.ndarray:
    """Read a text matrix of whitespace-separated 0/1 values, one example per line -> (N, D) uint8.

    This is the format of Larochelle's ``binarized_mnist_{train,valid,test}.amat``.
    """
    table = read_text_matrix(path)
    if table.max() > 1:
        raise DataError(f"{path}: values must be 0 or 1, found {int(table.max())}")
    return table


# ----------------------------------------------------------------------------- .npz / .npy


def read_array_file(path: Path) -> dict[str, np.ndarray]:
    """All arrays of a ``.npz`` (by key) or of a ``.npy`` (as key ``"x"``); pickles are refused."""
    path = Path(path)
    try:
        if path.suffix == ".npy":
            return {"x": np.load(path, allow_pickle=False)}
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataError(f"{path}: cannot read as {path.suffix} ({exc})") from exc


def _to_nchw(arr: np.ndarray, source: str) -> np.ndarray:
    if arr.ndim == 2:
        side = math.isqrt(arr.shape[1])
        if arr.shape[1] > 0 and side * side == arr.shape[1]:
            return arr.reshape(arr.shape[0], 1, side, side)
    elif arr.ndim == 3:
        return arr[:, None]
    elif arr.ndim == 4:
        if arr.shape[1] in (1, 3):
            return arr
        if arr.shape[3] in (1, 3):
            return arr.transpose(0, 3, 1, 2)
    raise DataError(f"{source}: shape {tuple(arr.shape)} is not an image array ({SHAPE_HELP})")


def _check_values(x: np.ndarray, source: str) -> bool:
    """Check the value range of one array; return whether all values are 0 or 1."""
    kind = x.dtype.kind
    if kind == "b":
        return True
    if kind in "ui":
        lo, hi = int(x.min()), int(x.max())
        if lo < 0 or hi > 255:
            raise DataError(f"{source}: integer values span [{lo}, {hi}], outside the 8-bit range 0..255")
        return hi <= 1
    if kind == "f":
        finite = np.isfinite(x)
        if not finite.all():
            bad = int(x.size - np.count_nonzero(finite))
            raise DataError(f"{source}: {bad} NaN or inf values")
        lo, hi = float(x.min()), float(x.max())
        if lo < 0.0 or hi > 1.0:
            raise DataError(f"{source}: float values span [{lo:.4g}, {hi:.4g}], outside [0, 1]")
        return bool(((x == 0) | (x == 1)).all())
    raise DataError(
        f"{source}: dtype {x.dtype} is not an image type (expected uint8 0..255, bool, or float in [0, 1])"
    )


def as_images(arrays: dict[str, np.ndarray]) -> dict[str, RawImages]:
    """Validate image arrays (keyed by a source label used in messages) and quantize them jointly.

    Accepted: shapes (N,H,W), (N,C,H,W), (N,H,W,C) with C in {1,3}, and (N,D) with D square; uint8
    (or any integer type) 0..255, bool, or float in [0,1]. When every value of every array is 0 or 1
    the data are binary (levels 2); otherwise 8-bit (levels 256), floats rounded to the nearest of
    256 levels. All arrays must share (C, H, W).
    """
    shaped = {}
    for source, arr in arrays.items():
        arr = np.asarray(arr)
        x = _to_nchw(arr, source)
        if x.shape[0] == 0 or x.size == 0:
            raise DataError(f"{source}: holds no images (shape {tuple(arr.shape)})")
        shaped[source] = x
    first_source, first = next(iter(shaped.items()))
    for source, x in shaped.items():
        if x.shape[1:] != first.shape[1:]:
            raise DataError(
                f"{source}: image shape {x.shape[1:]} differs from {first_source}'s {first.shape[1:]}"
            )
    binary = all([_check_values(x, source) for source, x in shaped.items()])
    out = {}
    for source, x in shaped.items():
        if binary:
            codes = x.astype(np.uint8)
        elif x.dtype.kind == "b":
            codes = x.astype(np.uint8) * np.uint8(255)
        elif x.dtype.kind == "f":
            codes = np.rint(x * 255.0).astype(np.uint8)
        else:
            codes = x.astype(np.uint8)
        out[source] = RawImages(np.ascontiguousarray(codes), 2 if binary else 256)
    return out


def as_labels(y: np.ndarray, count: int, source: str) -> np.ndarray:
    """Validate class labels for ``count`` images: integers >= 0, shape (N,) or (N, 1) -> int64 (N,)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"{source}: labels must be one-dimensional, got shape {tuple(y.shape)}")
    if y.shape[0] != count:
        raise DataError(f"{source}: label count {y.shape[0]} does not match image count {count}")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all() or (y != np.round(y)).any():
            raise DataError(f"{source}: labels must be whole numbers")
    elif y.dtype.kind not in "uib":
        raise DataError(f"{source}: labels have dtype {y.dtype}, expected integers")
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        raise DataError(f"{source}: labels must be >= 0, found {int(y.min())}")
    return y


# ----------------------------------------------------------------------------- image folders


def _image_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
    )


def _read_image(path: Path, mode: str) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert(mode))  # GIF: first frame
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"{path}: unreadable image ({exc})") from exc


def centre_crop(image: np.ndarray) -> np.ndarray:
    """The largest centred square of an (H, W) or (H, W, C) image (CelebA-style preprocessing)."""
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return image[top : top + side, left : left + side]


def read_image_folder(folder: Path, *, grayscale: bool = True, size: int | None = None, crop: bool = False):
    """Load every image under ``folder`` with Pillow.

    Layout: image files directly in ``folder`` (unlabelled), or one subfolder per class (labels are the
    index of the sorted subfolder names). Without ``size`` all images must have the same size; with
    it each is resized to ``size x size`` (bilinear); with ``crop`` each image is first cut to its
    centred square, so that resizing keeps the aspect ratio. Returns ``(RawImages, labels or None, classes)``.
    """
    from genzoo.data.transforms import resize_codes

    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: folder not found")
    subfolders = (d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    classes = sorted(d for d in subfolders if _image_files(d))
    top = _image_files(folder)
    if classes and top:
        raise DataError(f"{folder}: holds both image files and class subfolders; use one layout")
    if classes:
        groups = [_image_files(d) for d in classes]
        files = [p for group in groups for p in group]
        labels = np.repeat(np.arange(len(classes), dtype=np.int64), [len(g) for g in groups])
    else:
        files, labels = top, None
    if not files:
        raise DataError(f"{folder}: no image files ({', '.join(IMAGE_SUFFIXES)}) in it or its subfolders")

    mode = "L" if grayscale else "RGB"
    images = [_read_image(p, mode) for p in files]  # (H, W) or (H, W, 3) uint8
    if crop:
        images = [centre_crop(image) for image in images]
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for i, image in enumerate(images):
        by_shape.setdefault(image.shape, []).append(i)
    if size is None and len(by_shape) > 1:
        odd = next(i for i, image in enumerate(images) if image.shape != images[0].shape)
        (h0, w0), (h, w) = images[0].shape[:2], images[odd].shape[:2]
        raise DataError(
            f"{files[odd]}: size {w}x{h} differs from {files[0].name}'s {w0}x{h0} (pass a size to resize)"
        )
    channels = 1 if grayscale else 3
    side_h, side_w = (size, size) if size is not None else images[0].shape[:2]
    out = np.empty((len(images), channels, side_h, side_w), dtype=np.uint8)
    for indices in by_shape.values():
        h, w = images[indices[0]].shape[:2]
        stack = np.stack([images[i] for i in indices]).reshape(len(indices), h, w, channels)
        codes = np.ascontiguousarray(stack.transpose(0, 3, 1, 2))  # (n, C, h, w)
        out[indices] = resize_codes(codes, 256, size) if size is not None else codes
    return RawImages(out, 256), labels, [d.name for d in classes]
