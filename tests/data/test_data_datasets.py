"""load_dataset on every kind of source: the embedded sets, tiny IDX/npz/amat/png files written to
tmp_path, and the real binarized MNIST when it is present."""

import contextlib
import gzip
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo.data import DATASETS, DataConfig, DataError, ImageDataset, Split, load_dataset
from genzoo.data.datasets import split_indices

SHARED = Path("/work/shared/data")
IDX = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
       "t10k-labels-idx1-ubyte.gz")


@contextlib.contextmanager
def raises_naming(path, match: str):
    with pytest.raises(DataError, match=match) as info:
        yield info
    message = str(info.value)
    assert "\n" not in message and str(path) in message, message


@pytest.fixture(scope="module")
def mnist5k() -> ImageDataset:
    return load_dataset(DataConfig())


def on_grid(x: torch.Tensor, levels: int) -> bool:
    k = x * (levels - 1)
    return bool(torch.allclose(k, k.round(), atol=1e-4))


# ----------------------------------------------------------------------------- embedded datasets


def test_mnist5k_shapes_ranges(mnist5k):
    d = mnist5k
    assert (len(d.train), len(d.valid), len(d.test)) == (4000, 500, 500)
    assert d.shape == (1, 28, 28) and d.num_classes == 10 and d.levels == 256 and not d.binary
    for s in (d.train, d.valid, d.test):
        assert s.x.dtype == torch.float32 and s.y.dtype == torch.int64
        assert s.x.min() == 0 and s.x.max() == 1 and on_grid(s.x, 256)
    assert 0.1 < float(d.train.x.mean()) < 0.2  # MNIST's mean intensity is about 0.13


def test_mnist5k_stratified_and_deterministic(mnist5k):
    for split, per_class in ((mnist5k.train, 400), (mnist5k.valid, 50), (mnist5k.test, 50)):
        assert torch.bincount(split.y, minlength=10).tolist() == [per_class] * 10
    again = load_dataset(DataConfig())
    assert torch.equal(again.test.x, mnist5k.test.x) and torch.equal(again.train.y, mnist5k.train.y)
    other = load_dataset(DataConfig(seed=1))
    assert not torch.equal(other.test.x, mnist5k.test.x)
    assert torch.bincount(other.test.y).tolist() == [50] * 10
    # the splits are disjoint: no test image appears in train
    train_rows = {bytes(r) for r in (mnist5k.train.x.flatten(1) * 255).round().to(torch.uint8).numpy()}
    test_rows = [bytes(r) for r in (mnist5k.test.x.flatten(1) * 255).round().to(torch.uint8).numpy()]
    assert sum(r in train_rows for r in test_rows) <= 2  # MNIST has a few exact duplicates at most


def test_split_indices_partition_and_stratify():
    labels = np.repeat(np.arange(3), [30, 60, 10])
    train, valid, test = split_indices((80, 10, 10), labels, seed=7)
    assert sorted(np.concatenate([train, valid, test]).tolist()) == list(range(100))
    assert np.bincount(labels[valid], minlength=3).tolist() == [3, 6, 1]
    assert np.bincount(labels[train[:10]], minlength=3).tolist() == [3, 6, 1]  # prefixes stay balanced
    plain = split_indices((8, 1, 1), None, seed=0)
    assert [len(p) for p in plain] == [8, 1, 1]


def test_limit_keeps_first_n_balanced(mnist5k):
    d = load_dataset(DataConfig(limit=100))
    assert len(d.train) == 100 and len(d.valid) == 500
    assert torch.equal(d.train.x, mnist5k.train.x[:100])
    assert torch.bincount(d.train.y).tolist() == [10] * 10


def test_pm1_scale():
    d = load_dataset(DataConfig(scale="pm1", limit=50))
    assert d.train.x.min() == -1 and d.train.x.max() == 1 and d.valid.x.min() == -1
    assert on_grid((d.train.x + 1) / 2, 256)


def test_static_binarization(mnist5k):
    a = load_dataset(DataConfig(binarize="static", limit=200))
    b = load_dataset(DataConfig(binarize="static", limit=200))
    c = load_dataset(DataConfig(binarize="static", limit=200, seed=1))
    assert a.binary and a.levels == 2
    for s in (a.train, a.valid, a.test):
        assert set(s.x.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.x, b.test.x)
    assert not torch.equal(a.test.x, c.test.x)
    # one Bernoulli draw per pixel keeps the mean grey level (about 78k pixels per split)
    assert abs(float(a.test.x.mean() - mnist5k.test.x.mean())) < 0.01


def test_dynamic_binarization_keeps_train_grey():
    d = load_dataset(DataConfig(binarize="dynamic", limit=100))
    assert d.binary and d.levels == 2
    assert d.train.x.unique().numel() > 2  # probabilities; batches are drawn by make_batch_transform
    assert set(d.valid.x.unique().tolist()) == {0.0, 1.0}  # fixed draws for deterministic evaluation
    static = load_dataset(DataConfig(binarize="static", limit=100))
    assert torch.equal(d.test.x, static.test.x)


def test_digits_and_resize():
    d = load_dataset(DataConfig(name="digits"))
    assert (len(d.train), len(d.valid), len(d.test)) == (1297, 250, 250)
    assert d.shape == (1, 8, 8) and d.levels == 17 and d.num_classes == 10
    assert d.train.x.max() == 1 and on_grid(d.train.x, 17)
    counts = torch.bincount(d.test.y)
    assert counts.min() >= 23 and counts.max() <= 27  # about 25 per class
    big = load_dataset(DataConfig(name="digits", size=28, limit=16))
    assert big.shape == (1, 28, 28) and big.train.x.shape == (16, 1, 28, 28)
    assert on_grid(big.train.x, 17) and big.train.x.max() <= 1


def test_dataset_to_and_describe(mnist5k):
    moved = mnist5k.to("cpu")
    assert moved.train.x.device.type == "cpu" and len(moved.test) == 500
    assert mnist5k.describe() == "mnist5k: 1x28x28, train/valid/test 4000/500/500, 256 levels, 10 classes"
    assert set(DATASETS) >= {"mnist5k", "digits", "mnist", "fashion-mnist", "kmnist", "binarized-mnist"}
    with pytest.raises(DataError, match="label count"):
        Split(torch.zeros(3, 1, 2, 2), torch.zeros(2, dtype=torch.int64))


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"scale": "255"}, "scale"),
        ({"binarize": "yes"}, "binarize"),
        ({"limit": 0}, "limit"),
        ({"size": -1}, "size"),
        ({"seed": -1}, "seed"),
        ({"name": ""}, "name"),
        ({"binarize": "dynamic", "dequantize": True}, "dequantize"),
        ({"binarize": "static", "scale": "pm1"}, "scale=pm1"),
        ({"name": "binarized-mnist", "dequantize": True}, "dequantize"),
    ],
)
def test_config_validation(kw, match):
    with pytest.raises(DataError, match=match):
        DataConfig(**kw)


def test_unknown_name_and_missing_paths(tmp_path):
    with pytest.raises(DataError, match="unknown dataset 'cifar' .known: mnist5k, digits, mnist"):
        load_dataset(DataConfig(name="cifar"))
    with raises_naming(tmp_path / "x.npz", "not found"):
        load_dataset(DataConfig(name=str(tmp_path / "x.npz")))
    other = tmp_path / "x.csv"
    other.write_text("1")
    with raises_naming(other, "unsupported file type"):
        load_dataset(DataConfig(name=str(other)))


# ----------------------------------------------------------------------------- IDX datasets


def idx_gz(arr: np.ndarray, magic: int | None = None) -> bytes:
    magic = (0x0800 | arr.ndim) if magic is None else magic
    return gzip.compress(struct.pack(f">I{arr.ndim}I", magic, *arr.shape) + arr.astype(np.uint8).tobytes())


def write_idx_set(folder: Path, n_train=12, n_test=5, side=4, files=IDX) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    arrays = {
        IDX[0]: rng.integers(0, 256, (n_train, side, side)),
        IDX[1]: np.arange(n_train) % 10,
        IDX[2]: rng.integers(0, 256, (n_test, side, side)),
        IDX[3]: np.arange(n_test) % 10,
    }
    folder.mkdir(parents=True, exist_ok=True)
    blobs = {name: idx_gz(a) for name, a in arrays.items()}
    for name in files:
        (folder / name).write_bytes(blobs[name])
    return blobs


@pytest.mark.parametrize("layout", ["flat", "per-name"])
def test_idx_dataset(tmp_path, layout):
    write_idx_set(tmp_path / "kmnist" if layout == "per-name" else tmp_path)
    d = load_dataset(DataConfig(name="kmnist", data_dir=str(tmp_path)))
    assert (len(d.train), len(d.valid), len(d.test)) == (10, 2, 5)  # the last sixth of train is valid
    assert d.shape == (1, 4, 4) and d.num_classes == 10 and d.levels == 256
    assert d.train.y.tolist() == list(range(10)) and d.valid.y.tolist() == [0, 1]


def test_idx_uncompressed_twin(tmp_path):
    blobs = write_idx_set(tmp_path, files=IDX[1:])
    (tmp_path / "train-images-idx3-ubyte").write_bytes(gzip.decompress(blobs[IDX[0]]))
    assert len(load_dataset(DataConfig(name="mnist", data_dir=str(tmp_path))).train) == 10


def test_idx_only_test_files(tmp_path):
    write_idx_set(tmp_path, files=IDX[2:])
    with raises_naming(tmp_path / IDX[0], "file not found; pass --download"):
        load_dataset(DataConfig(name="mnist", data_dir=str(tmp_path)))
    with raises_naming(tmp_path / "nothing", "no fashion-mnist IDX files.*--download"):
        load_dataset(DataConfig(name="fashion-mnist", data_dir=str(tmp_path / "nothing")))


def test_shared_mnist_test_files_only():
    if not (SHARED / "mnist" / IDX[2]).is_file() or (SHARED / "mnist" / IDX[0]).is_file():
        pytest.skip("needs /work/shared/data/mnist holding only the t10k files")
    with raises_naming(SHARED / "mnist" / IDX[0], "file not found"):
        load_dataset(DataConfig(name="mnist", data_dir=str(SHARED)))


def test_idx_bad_files(tmp_path):
    write_idx_set(tmp_path)
    (tmp_path / IDX[1]).write_bytes(idx_gz(np.zeros(12), magic=0x803))
    with raises_naming(tmp_path / IDX[1], "wrong IDX magic"):
        load_dataset(DataConfig(name="mnist", data_dir=str(tmp_path)))
    (tmp_path / IDX[1]).write_bytes(idx_gz(np.zeros(11)))
    with raises_naming(tmp_path / IDX[1], "label count 11 does not match image count 12"):
        load_dataset(DataConfig(name="mnist", data_dir=str(tmp_path)))
    (tmp_path / IDX[1]).write_bytes(idx_gz(np.zeros(12)))
    good = (tmp_path / IDX[2]).read_bytes()
    (tmp_path / IDX[2]).write_bytes(good[:-9])
    with raises_naming(tmp_path / IDX[2], "truncated or corrupt gzip"):
        load_dataset(DataConfig(name="mnist", data_dir=str(tmp_path)))


def test_idx_refuses_another_datasets_official_file(tmp_path):
    real = SHARED / "mnist"
    if not all((real / f).is_file() for f in IDX[2:]):
        pytest.skip("needs the real MNIST t10k files in /work/shared/data/mnist")
    folder = tmp_path / "fashion-mnist"
    write_idx_set(folder, side=28, files=IDX[:2])
    for f in IDX[2:]:
        shutil.copy(real / f, folder / f)
    with raises_naming(folder / IDX[2], "this is mnist's t10k-images-idx3-ubyte.gz, not fashion-mnist's"):
        load_dataset(DataConfig(name="fashion-mnist", data_dir=str(tmp_path)))
    shutil.move(folder, tmp_path / "mnist")  # the right name: loads, real test split of 10,000
    d = load_dataset(DataConfig(name="mnist", data_dir=str(tmp_path)))
    assert len(d.test) == 10000 and torch.bincount(d.test.y).tolist()[:2] == [980, 1135]


# ----------------------------------------------------------------------------- binarized MNIST


def tiny_binary(rng, n):
    return (rng.random((n, 784)) < 0.3).astype(np.uint8)


def test_binarized_mnist_npz(tmp_path):
    rng = np.random.default_rng(0)
    splits = {"train": tiny_binary(rng, 6), "valid": tiny_binary(rng, 2), "test": tiny_binary(rng, 3)}
    np.savez(tmp_path / "binarized_mnist.npz", **splits)
    for cfg in (DataConfig(name="binarized-mnist", data_dir=str(tmp_path)),
                DataConfig(name=str(tmp_path / "binarized_mnist.npz"))):
        d = load_dataset(cfg)
        assert (len(d.train), len(d.valid), len(d.test)) == (6, 2, 3)
        assert d.binary and d.levels == 2 and d.num_classes is None and d.train.y is None
        np.testing.assert_array_equal(d.test.x.reshape(3, 784).numpy(), splits["test"])
    assert load_dataset(DataConfig(name="binarized-mnist", data_dir=str(tmp_path))).name == "binarized-mnist"
    with pytest.raises(DataError, match="scale=pm1"):
        load_dataset(DataConfig(name=str(tmp_path / "binarized_mnist.npz"), scale="pm1"))


def test_binarized_mnist_amat(tmp_path):
    rng = np.random.default_rng(1)
    splits = {"train": tiny_binary(rng, 4), "valid": tiny_binary(rng, 2), "test": tiny_binary(rng, 2)}
    for name, rows in splits.items():
        text = "\n".join(" ".join(map(str, r)) for r in rows) + "\n"
        (tmp_path / f"binarized_mnist_{name}.amat").write_text(text)
    d = load_dataset(DataConfig(name="binarized-mnist", data_dir=str(tmp_path)))
    assert (len(d.train), len(d.valid), len(d.test)) == (4, 2, 2) and d.shape == (1, 28, 28)
    np.testing.assert_array_equal(d.train.x.reshape(4, 784).numpy(), splits["train"])
    (tmp_path / "binarized_mnist_valid.amat").unlink()
    with raises_naming(tmp_path / "binarized_mnist_valid.amat", "file not found"):
        load_dataset(DataConfig(name="binarized-mnist", data_dir=str(tmp_path)))
    with raises_naming(tmp_path / "empty", "no binarized_mnist.npz"):
        load_dataset(DataConfig(name="binarized-mnist", data_dir=str(tmp_path / "empty")))


def test_binarized_mnist_npz_must_be_binary(tmp_path):
    grey = np.full((3, 784), 7, dtype=np.uint8)
    np.savez(tmp_path / "binarized_mnist.npz", train=grey, valid=grey, test=grey)
    with raises_naming(tmp_path / "binarized_mnist.npz", "not all 0 or 1"):
        load_dataset(DataConfig(name="binarized-mnist", data_dir=str(tmp_path)))


def test_real_binarized_mnist():
    if not (SHARED / "binarized_mnist.npz").is_file():
        pytest.skip("/work/shared/data/binarized_mnist.npz is absent")
    d = load_dataset(DataConfig(name="binarized-mnist", data_dir=str(SHARED), limit=1000))
    assert (len(d.train), len(d.valid), len(d.test)) == (1000, 10000, 10000)
    assert d.binary and d.shape == (1, 28, 28)
    assert set(d.test.x.unique().tolist()) == {0.0, 1.0}
    assert 0.1 < float(d.test.x.mean()) < 0.16  # about 13% of binarized MNIST pixels are on


# ----------------------------------------------------------------------------- generic arrays


def test_npz_x_y_split_80_10_10(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (40, 5, 5, 3), dtype=np.uint8)
    y = np.repeat([0, 1], 20)
    np.savez(tmp_path / "rgb.npz", x=x, y=y)
    d = load_dataset(DataConfig(name=str(tmp_path / "rgb.npz")))
    assert d.name == "rgb" and d.shape == (3, 5, 5) and d.num_classes == 2
    assert (len(d.train), len(d.valid), len(d.test)) == (32, 4, 4)
    assert torch.bincount(d.test.y).tolist() == [2, 2]


def test_npz_with_splits_and_labels(tmp_path):
    x = np.random.default_rng(0).random((6, 3, 3))
    np.savez(tmp_path / "s.npz", train=x, valid=x[:2], test=x[:3], y_train=np.arange(6), y_valid=[0, 1],
             y_test=[2, 2, 2])
    d = load_dataset(DataConfig(name=str(tmp_path / "s.npz")))
    assert (len(d.train), len(d.valid), len(d.test)) == (6, 2, 3) and d.num_classes == 6
    assert on_grid(d.train.x, 256)  # floats are rounded to 8-bit levels
    assert (d.train.x.flatten() - torch.from_numpy(x).float().flatten()).abs().max() <= 0.5 / 255 + 1e-6


def test_npy_single_array(tmp_path):
    np.save(tmp_path / "flat.npy", np.ones((10, 16), dtype=bool))
    d = load_dataset(DataConfig(name=str(tmp_path / "flat.npy")))
    assert d.shape == (1, 4, 4) and d.binary and (len(d.train), len(d.valid), len(d.test)) == (8, 1, 1)
    with pytest.raises(DataError, match="flat.npy is binary"):
        load_dataset(DataConfig(name=str(tmp_path / "flat.npy"), dequantize=True))


@pytest.mark.parametrize(
    "arrays, match",
    [
        ({"x": np.zeros((10, 5), np.uint8)}, r"shape \(10, 5\) is not an image array"),
        ({"x": np.full((10, 4, 4), np.nan)}, "NaN or inf"),
        ({"x": np.full((10, 4, 4), -0.5)}, r"outside \[0, 1\]"),
        ({"x": np.zeros((10, 4, 4)), "y": np.zeros(9, int)}, "label count 9 does not match image count 10"),
        ({"train": np.zeros((4, 4, 4)), "test": np.zeros((4, 4, 4))}, r"lacks \['valid'\]"),
        ({"a": np.zeros((4, 4, 4)), "b": np.zeros((4, 4, 4))}, "cannot tell which array"),
        ({"x": np.zeros((2, 4, 4))}, "too few"),
    ],
)
def test_bad_npz(tmp_path, arrays, match):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with raises_naming(path, match):
        load_dataset(DataConfig(name=str(path)))


def test_bad_npy_message(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.zeros((10, 5), np.uint8))
    with raises_naming(path, r"x.npy: shape \(10, 5\) is not an image array \(expected \(N,H,W\), \(N,C,H,W\), "
                       r"\(N,H,W,C\) or \(N,D\) with D square\)"):
        load_dataset(DataConfig(name=str(path)))


# ----------------------------------------------------------------------------- image folders


def test_image_folder_dataset(tmp_path):
    for cls in ("a", "b"):
        for j in range(10):
            (tmp_path / "imgs" / cls).mkdir(parents=True, exist_ok=True)
            Image.new("L", (6, 6) if j % 2 else (5, 7), 20 * j).save(tmp_path / "imgs" / cls / f"{j}.png")
    with pytest.raises(DataError, match="differs"):
        load_dataset(DataConfig(name=str(tmp_path / "imgs")))
    d = load_dataset(DataConfig(name=str(tmp_path / "imgs"), size=6))
    assert d.name == "imgs" and d.shape == (1, 6, 6) and d.num_classes == 2
    assert (len(d.train), len(d.valid), len(d.test)) == (16, 2, 2)
    assert torch.bincount(d.valid.y).tolist() == [1, 1]
    rgb = load_dataset(DataConfig(name=str(tmp_path / "imgs"), size=4, grayscale=False, scale="pm1"))
    assert rgb.shape == (3, 4, 4) and rgb.train.x.min() >= -1
