"""File readers and array checks of genzoo.data.formats: every bad input is a one-line DataError
that names the file."""

import contextlib
import gzip
import struct

import numpy as np
import pytest
from PIL import Image

from genzoo.data import DataError
from genzoo.data.formats import (
    IDX_IMAGES_MAGIC,
    IDX_LABELS_MAGIC,
    as_images,
    as_labels,
    parse_idx,
    read_amat,
    read_array_file,
    read_image_folder,
    read_maybe_gzip,
    read_text_matrix,
)


def idx_bytes(arr: np.ndarray, magic: int | None = None) -> bytes:
    magic = (0x0800 | arr.ndim) if magic is None else magic
    return struct.pack(f">I{arr.ndim}I", magic, *arr.shape) + arr.astype(np.uint8).tobytes()


@contextlib.contextmanager
def raises_naming(path, match: str):
    """pytest.raises(DataError) whose message is one line, names ``path`` and matches ``match``."""
    with pytest.raises(DataError, match=match) as info:
        yield info
    message = str(info.value)
    assert "\n" not in message and str(path) in message, message


# ----------------------------------------------------------------------------- IDX and gzip


def test_idx_round_trip():
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    labels = np.array([7, 1], dtype=np.uint8)
    np.testing.assert_array_equal(parse_idx(idx_bytes(images), "i", IDX_IMAGES_MAGIC), images)
    np.testing.assert_array_equal(parse_idx(idx_bytes(labels), "l", IDX_LABELS_MAGIC), labels)


def test_idx_wrong_magic_names_file():
    labels = np.zeros(3, dtype=np.uint8)
    with raises_naming("train-labels", "wrong IDX magic number 0x00000801 .expected 0x00000803"):
        parse_idx(idx_bytes(labels), "train-labels", IDX_IMAGES_MAGIC)


@pytest.mark.parametrize("cut", [1, 5])
def test_idx_length_must_match_header(cut):
    data = idx_bytes(np.zeros((2, 3, 3), dtype=np.uint8))
    with raises_naming("imgs.idx", "does not match its header"):
        parse_idx(data[:-cut], "imgs.idx", IDX_IMAGES_MAGIC)
    with raises_naming("imgs.idx", "does not match its header"):
        parse_idx(data + b"\0", "imgs.idx", IDX_IMAGES_MAGIC)


def test_idx_too_short():
    with raises_naming("f", "too short|truncated"):
        parse_idx(b"\0\0", "f", IDX_IMAGES_MAGIC)
    with raises_naming("f", "header is truncated"):
        parse_idx(struct.pack(">I", IDX_IMAGES_MAGIC) + b"\0\0\0", "f", IDX_IMAGES_MAGIC)


def test_truncated_and_corrupt_gzip(tmp_path):
    good = gzip.compress(idx_bytes(np.zeros((4, 28, 28), dtype=np.uint8)))
    truncated = tmp_path / "t.gz"
    truncated.write_bytes(good[: len(good) // 2])
    with raises_naming(truncated, "truncated or corrupt gzip"):
        read_maybe_gzip(truncated)
    corrupt = tmp_path / "c.gz"
    corrupt.write_bytes(b"this is not gzip at all")
    with raises_naming(corrupt, "truncated or corrupt gzip"):
        read_maybe_gzip(corrupt)
    flipped = bytearray(good)
    flipped[20] ^= 0xFF
    bad = tmp_path / "f.gz"
    bad.write_bytes(bytes(flipped))
    with raises_naming(bad, "truncated or corrupt gzip"):
        read_maybe_gzip(bad)


def test_missing_file(tmp_path):
    with raises_naming(tmp_path / "nope.gz", "file not found"):
        read_maybe_gzip(tmp_path / "nope.gz")


# ----------------------------------------------------------------------------- text matrices


def test_amat_reads_rows_and_skips_blank_lines(tmp_path):
    path = tmp_path / "b.amat"
    path.write_text("0 1 1 0\n\n1 1 1 1 \n")
    np.testing.assert_array_equal(read_amat(path), [[0, 1, 1, 0], [1, 1, 1, 1]])
    assert read_amat(path).dtype == np.uint8


@pytest.mark.parametrize(
    "text, match",
    [
        ("0 1 1 0\n1 1 1\n", "not a table"),
        ("0 1\n1 x\n", "not a table"),
        ("0 1\n1 0.5\n", "not a table"),
        ("0 1\n2 0\n", "must be 0 or 1"),
        ("", "no values"),
    ],
)
def test_amat_errors(tmp_path, text, match):
    path = tmp_path / "bad.amat"
    path.write_text(text)
    with raises_naming(path, match):
        read_amat(path)


def test_csv_gz_matrix(tmp_path):
    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(b"1,2,255\n0,0,7\n"))
    np.testing.assert_array_equal(read_text_matrix(path, delimiter=","), [[1, 2, 255], [0, 0, 7]])


# ----------------------------------------------------------------------------- arrays


@pytest.mark.parametrize(
    "shape, nchw",
    [
        ((5, 6, 7), (5, 1, 6, 7)),
        ((5, 1, 6, 7), (5, 1, 6, 7)),
        ((5, 3, 6, 7), (5, 3, 6, 7)),
        ((5, 6, 7, 3), (5, 3, 6, 7)),
        ((5, 6, 7, 1), (5, 1, 6, 7)),
        ((5, 49), (5, 1, 7, 7)),
    ],
)
def test_image_shapes(shape, nchw):
    x = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    raw = as_images({"a": x})["a"]
    assert raw.x.shape == nchw and raw.levels == 256 and raw.x.flags.c_contiguous
    if len(shape) == 4 and shape[-1] == 3:
        np.testing.assert_array_equal(raw.x, x.transpose(0, 3, 1, 2))


@pytest.mark.parametrize("shape", [(10, 5), (10,), (4, 5, 6, 7), (2, 2, 2, 2, 2)])
def test_not_an_image_array(shape):
    with raises_naming("x.npy", r"x.npy: shape .* is not an image array \(expected \(N,H,W\)"):
        as_images({"x.npy": np.zeros(shape, dtype=np.uint8)})


def test_empty_array():
    with raises_naming("e.npy", "no images"):
        as_images({"e.npy": np.zeros((0, 4, 4), dtype=np.uint8)})


def test_nan_inf_and_ranges():
    x = np.full((2, 4, 4), 0.5, dtype=np.float32)
    x[0, 0, 0] = np.nan
    x[1, 0, 0] = np.inf
    with raises_naming("n.npy", "2 NaN or inf"):
        as_images({"n.npy": x})
    with raises_naming("f.npy", r"outside \[0, 1\]"):
        as_images({"f.npy": np.full((2, 4, 4), 1.5)})
    with raises_naming("i.npy", "outside the 8-bit range"):
        as_images({"i.npy": np.full((2, 4, 4), 256, dtype=np.int64)})
    with raises_naming("s.npy", "dtype .* is not an image type"):
        as_images({"s.npy": np.zeros((2, 4, 4), dtype=np.complex64)})


def test_value_types_and_quantization():
    assert as_images({"b": np.ones((2, 3, 3), dtype=bool)})["b"].levels == 2
    assert as_images({"u": np.eye(3, dtype=np.uint8)[None]})["u"].levels == 2  # only 0/1: binary
    raw = as_images({"f": np.array([[[0.0, 0.5], [0.999, 1.0]]])})["f"]
    assert raw.levels == 256
    np.testing.assert_array_equal(raw.x[0, 0], [[0, 128], [255, 255]])
    ints = as_images({"i": np.array([[[0, 200]]], dtype=np.int64)})["i"]
    assert ints.x.dtype == np.uint8 and ints.x.max() == 200


def test_binary_decided_jointly():
    out = as_images({"a": np.ones((1, 2, 2), dtype=np.uint8), "b": np.full((1, 2, 2), 200, dtype=np.uint8)})
    assert out["a"].levels == out["b"].levels == 256 and out["a"].x.max() == 1


def test_split_shapes_must_agree():
    with raises_naming("b", "image shape .* differs from a's"):
        as_images({"a": np.zeros((1, 4, 4), np.uint8), "b": np.zeros((1, 5, 5), np.uint8)})


def test_labels():
    np.testing.assert_array_equal(as_labels(np.array([[1], [2]], dtype=np.uint8), 2, "y"), [1, 2])
    with raises_naming("y.npy", "label count 3 does not match image count 4"):
        as_labels(np.arange(3), 4, "y.npy")
    with raises_naming("y.npy", ">= 0"):
        as_labels(np.array([0, -1]), 2, "y.npy")
    with raises_naming("y.npy", "whole numbers"):
        as_labels(np.array([0.5, 1.0]), 2, "y.npy")
    with raises_naming("y.npy", "one-dimensional"):
        as_labels(np.zeros((2, 2)), 2, "y.npy")


def test_array_files_refuse_pickles_and_junk(tmp_path):
    pickled = tmp_path / "obj.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with raises_naming(pickled, "cannot read"):
        read_array_file(pickled)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with raises_naming(junk, "cannot read"):
        read_array_file(junk)


# ----------------------------------------------------------------------------- image folders


def save_png(path, size, value=128, mode="L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value if mode == "L" else (value, 0, 255 - value)).save(path)


def test_image_folder_sizes_must_match(tmp_path):
    save_png(tmp_path / "a.png", (4, 4))
    save_png(tmp_path / "b.png", (6, 5))
    with raises_naming(tmp_path / "b.png", "size 6x5 differs from a.png's 4x4"):
        read_image_folder(tmp_path)
    raw, labels, classes = read_image_folder(tmp_path, size=8)
    assert raw.x.shape == (2, 1, 8, 8) and labels is None and classes == []
    assert (raw.x == 128).all()  # constant images stay constant through bilinear resizing


def test_image_folder_classes_and_rgb(tmp_path):
    for i, cls in enumerate(["cat", "dog"]):
        for j in range(2 + i):
            save_png(tmp_path / cls / f"{j}.bmp", (3, 3), value=10 * j, mode="RGB")
    (tmp_path / "notes.txt").write_text("ignored")
    raw, labels, classes = read_image_folder(tmp_path, grayscale=False)
    assert classes == ["cat", "dog"] and labels.tolist() == [0, 0, 1, 1, 1]
    assert raw.x.shape == (5, 3, 3, 3)
    np.testing.assert_array_equal(raw.x[1, :, 0, 0], [10, 0, 245])


def test_image_folder_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with raises_naming(empty, "no image files"):
        read_image_folder(empty)
    broken = tmp_path / "broken"
    save_png(broken / "ok.png", (2, 2))
    (broken / "bad.png").write_bytes(b"\x89PNG not really")
    with raises_naming(broken / "bad.png", "unreadable image"):
        read_image_folder(broken)
    mixed = tmp_path / "mixed"
    save_png(mixed / "top.png", (2, 2))
    save_png(mixed / "cls" / "x.png", (2, 2))
    with raises_naming(mixed, "both image files and class subfolders"):
        read_image_folder(mixed)
    with raises_naming(tmp_path / "absent", "folder not found"):
        read_image_folder(tmp_path / "absent")
