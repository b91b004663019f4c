"""Per-batch transforms (tested statistically with fixed seeds) and load-time resizing/binarization
(tested exactly)."""

import math
import pickle

import numpy as np
import pytest
import torch

from genzoo.data import BatchTransform, DataConfig, make_batch_transform
from genzoo.data.transforms import binarize_static, resize_codes


def grey_batch(seed=0, shape=(64, 1, 28, 28), levels=256):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, levels, shape, generator=g).float() / (levels - 1)


def test_nothing_to_do_is_none():
    assert make_batch_transform(DataConfig()) is None
    assert make_batch_transform(DataConfig(binarize="static")) is None
    assert make_batch_transform(DataConfig(scale="pm1")) is None


def test_dynamic_binarization_fresh_binary_and_unbiased():
    transform = make_batch_transform(DataConfig(binarize="dynamic"))
    x = grey_batch()
    before = x.clone()
    g = torch.Generator().manual_seed(1)
    a, b = transform(x, g), transform(x, g)
    torch.testing.assert_close(x, before, rtol=0, atol=0)  # input untouched
    assert set(a.unique().tolist()) <= {0.0, 1.0} and a.dtype == x.dtype and a.shape == x.shape
    assert not torch.equal(a, b)  # a fresh draw per call
    # mean preserved: |mean(a) - mean(x)| within 5 standard errors sqrt(sum p(1-p)) / n
    n = x.numel()
    se = math.sqrt(float((x * (1 - x)).sum())) / n
    assert abs(float(a.mean() - x.mean())) < 5 * se
    # pixels at 0 and 1 are deterministic
    assert torch.equal(a[x == 0], x[x == 0]) and torch.equal(a[x == 1], x[x == 1])


def test_dynamic_binarization_reproducible_with_generator():
    transform = make_batch_transform(DataConfig(binarize="dynamic"))
    x = grey_batch(shape=(4, 1, 8, 8))
    out1 = transform(x, torch.Generator().manual_seed(5))
    out2 = transform(x, torch.Generator().manual_seed(5))
    assert torch.equal(out1, out2)
    assert transform(x).shape == x.shape  # global generator when None


@pytest.mark.parametrize("name, levels", [("mnist5k", 256), ("digits", 17)])
def test_dequantization_stays_within_one_level(name, levels):
    transform = make_batch_transform(DataConfig(name=name, dequantize=True))
    assert transform.dequantize_levels == levels
    x = grey_batch(levels=levels)
    before = x.clone()
    y = transform(x, torch.Generator().manual_seed(2))
    assert torch.equal(x, before)
    k = torch.round(x * (levels - 1))
    # (k + u) / L with u in [0, 1): inside the pixel's own level interval
    assert (y >= k / levels).all() and (y <= (k + 1) / levels).all()
    assert y.min() >= 0 and y.max() <= 1
    assert (y - x).abs().max() <= 1 / levels
    # the noise is uniform: mean of y * L - k close to 1/2 (standard error sqrt(1/12 / n))
    noise = y * levels - k
    assert abs(float(noise.mean()) - 0.5) < 5 * math.sqrt(1 / 12 / noise.numel())


def test_dequantization_with_pm1():
    transform = make_batch_transform(DataConfig(dequantize=True, scale="pm1"))
    x01 = grey_batch(shape=(8, 1, 6, 6))
    x = x01 * 2 - 1
    y = transform(x, torch.Generator().manual_seed(3))
    assert y.min() >= -1 and y.max() <= 1
    assert (y - x).abs().max() <= 2 / 256  # one level in [-1, 1] units
    k = torch.round(x01 * 255)
    assert ((y + 1) / 2 >= k / 256 - 1e-6).all() and ((y + 1) / 2 <= (k + 1) / 256 + 1e-6).all()


def test_batch_transform_pickles():
    transform = BatchTransform(binarize=True)
    assert pickle.loads(pickle.dumps(transform)) == transform


def test_resize_codes_stays_on_grid():
    codes = np.random.default_rng(0).integers(0, 17, size=(3, 1, 8, 8), dtype=np.uint8)
    up = resize_codes(codes, 17, 28)
    assert up.shape == (3, 1, 28, 28) and up.dtype == np.uint8 and up.max() <= 16
    down = resize_codes(up, 17, 14)
    assert down.shape == (3, 1, 14, 14)
    assert resize_codes(codes, 17, 8) is codes
    flat = np.full((2, 3, 5, 5), 200, dtype=np.uint8)
    assert (resize_codes(flat, 256, 11) == 200).all()


def test_static_binarization_deterministic_and_prefix_stable():
    p = np.random.default_rng(0).random((50, 1, 4, 4), dtype=np.float32)
    a = binarize_static(p, seed=3, stream=0)
    assert set(np.unique(a).tolist()) <= {0.0, 1.0}
    np.testing.assert_array_equal(a, binarize_static(p, seed=3, stream=0))
    np.testing.assert_array_equal(a[:20], binarize_static(p[:20], seed=3, stream=0))
    assert not np.array_equal(a, binarize_static(p, seed=4, stream=0))
    assert not np.array_equal(a, binarize_static(p, seed=3, stream=1))
