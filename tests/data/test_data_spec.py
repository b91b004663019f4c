"""The data contract (DataSpec): derivation from the config and data, refusals, the likelihood
table, the range helper and the dequantization transform it drives (all exact)."""

import math

import numpy as np
import pytest
import torch

from genzoo.data import DataConfig, DataError, DataSpec, load_dataset, make_batch_transform
from genzoo.data.transforms import from_unit, to_unit, value_range


@pytest.mark.parametrize("options, expected", [
    ({}, dict(kind="quantized", levels=17, scale="01", binarization="none", dequantization="none")),
    ({"dequantize": True}, dict(kind="quantized", levels=17, dequantization="uniform")),
    ({"scale": "pm1", "dequantize": True}, dict(kind="quantized", levels=17, scale="pm1")),
    ({"binarize": "static"}, dict(kind="binary", levels=2, binarization="static")),
    ({"binarize": "dynamic"}, dict(kind="binary", levels=2, binarization="dynamic")),
])
def test_spec_derived_from_config_and_data(options, expected):
    data = load_dataset(DataConfig(name="digits", **options))
    spec = data.spec
    assert spec.shape == (1, 8, 8) and spec.dim == 64
    for key, value in expected.items():
        assert getattr(spec, key) == value
    assert DataSpec.from_dict(spec.to_dict()) == spec


def test_binary_source_needs_no_binarization(tmp_path):
    x = (np.random.default_rng(0).random((30, 16)) < 0.3).astype(np.uint8)  # 4x4 binary images
    np.save(tmp_path / "b.npy", x)
    spec = load_dataset(DataConfig(name=str(tmp_path / "b.npy"))).spec
    assert (spec.kind, spec.levels, spec.binarization) == ("binary", 2, "none")


def test_spec_represents_vectors_and_8bit_rgb():
    vec = DataSpec(shape=(784,), kind="binary", levels=2)
    assert vec.dim == 784 and vec.check_likelihood("bernoulli") == "nll"
    rgb = DataSpec(shape=(3, 32, 32), kind="quantized", levels=256)
    assert rgb.check_likelihood("categorical", 256) == "nll"
    assert rgb.check_likelihood("discretized", 256) == "nll"
    deq = DataSpec(shape=(3, 32, 32), kind="quantized", levels=256, dequantization="uniform")
    assert deq.discrete_offset == pytest.approx(3 * 32 * 32 * math.log(256))
    pm1 = DataSpec(shape=(3, 32, 32), kind="quantized", levels=256, scale="pm1", dequantization="uniform")
    assert pm1.bin_width == pytest.approx(2 / 256)
    assert pm1.discrete_offset == pytest.approx(3 * 32 * 32 * math.log(128))


@pytest.mark.parametrize("fields, words", [
    (dict(shape=(1, 2), kind="binary", levels=2), "shape"),
    (dict(shape=(4,), kind="binary", levels=3), "levels"),
    (dict(shape=(4,), kind="binary", levels=2, scale="pm1"), "pm1"),
    (dict(shape=(4,), kind="binary", levels=2, dequantization="uniform"), "dequantize"),
    (dict(shape=(4,), kind="quantized", levels=256, binarization="static"), "binarization"),
    (dict(shape=(4,), kind="continuous", levels=None, dequantization="uniform"), "dequantize"),
    (dict(shape=(4,), kind="grey", levels=None), "kind"),
])
def test_nonsense_specs_are_one_line_errors(fields, words):
    with pytest.raises(DataError, match=words) as e:
        DataSpec(**fields)
    assert "\n" not in str(e.value)


GREY = DataSpec(shape=(1, 8, 8), kind="quantized", levels=17)
GREY_PM1 = DataSpec(shape=(1, 8, 8), kind="quantized", levels=17, scale="pm1")
DEQ = DataSpec(shape=(1, 8, 8), kind="quantized", levels=17, dequantization="uniform")
BINARY = DataSpec(shape=(1, 8, 8), kind="binary", levels=2, binarization="static")


@pytest.mark.parametrize("spec, likelihood, levels, figure", [
    (BINARY, "bernoulli", None, "nll"),
    (GREY, "bernoulli", None, "bce_grey"),
    (GREY, "categorical", 17, "nll"),
    (BINARY, "categorical", 2, "nll"),
    (DEQ, "continuous", None, "dequantized_bound"),
    (GREY, "continuous", None, "grid_density"),
    (GREY_PM1, "continuous", None, "grid_density"),
    (GREY, None, None, None),
])
def test_likelihood_table(spec, likelihood, levels, figure):
    assert spec.check_likelihood(likelihood, levels) == figure


@pytest.mark.parametrize("spec, likelihood, levels, words", [
    (GREY_PM1, "bernoulli", None, "scale=pm1"),
    (DEQ, "categorical", 17, "dequantize"),
    (DEQ, "discretized", 17, "dequantize"),
    (GREY, "categorical", 256, "levels"),
    (GREY, "poisson", None, "likelihood_type"),
])
def test_likelihood_refusals(spec, likelihood, levels, words):
    with pytest.raises(DataError, match=words):
        spec.check_likelihood(likelihood, levels, who="model x")


def test_range_helper_exact():
    x = torch.tensor([-1.0, -0.5, 0.0, 1.0])
    assert torch.equal(to_unit(x, "pm1"), torch.tensor([0.0, 0.25, 0.5, 1.0]))
    assert torch.equal(from_unit(to_unit(x, "pm1"), "pm1"), x)
    assert to_unit(x, "01") is x and from_unit(x, "01") is x
    assert value_range("pm1") == (-1.0, 1.0) and value_range("01") == (0.0, 1.0)
    with pytest.raises(ValueError, match="scale"):
        to_unit(x, "0255")


def test_integer_levels_and_dequantize_follow_the_spec_levels():
    k = torch.arange(17, dtype=torch.float32).view(1, 1, 1, 17)
    x = k / 16
    assert torch.equal(DEQ.integer_levels(x), k.long())
    y = DEQ.dequantize(x, torch.Generator().manual_seed(0))
    # (k + u) / L with L = 17: inside the level's own cell, and floor(y * L) gives k back
    assert torch.equal(torch.floor(y * 17), k)
    transform = make_batch_transform(DEQ)
    assert transform.dequantize_levels == 17
    torch.testing.assert_close(transform(x, torch.Generator().manual_seed(0)), y, rtol=0, atol=0)
    assert DEQ.eval_transform(x, torch.Generator().manual_seed(0)).equal(y)
    assert GREY.eval_transform(x) is x  # nothing to do for data that were not dequantized
    with pytest.raises(DataError, match="not dequantized"):
        GREY.dequantize(x)


def test_batch_transform_from_spec():
    assert make_batch_transform(BINARY) is None
    assert make_batch_transform(GREY) is None
    dyn = DataSpec(shape=(4,), kind="binary", levels=2, binarization="dynamic")
    assert make_batch_transform(dyn).binarize


def test_dequantized_pm1_spec_maps_back_into_cells():
    spec = DataSpec(shape=(1, 1, 256), kind="quantized", levels=256, scale="pm1", dequantization="uniform")
    k = torch.arange(256, dtype=torch.float32).view(1, 1, 1, 256)
    y = spec.dequantize(k / 255 * 2 - 1, torch.Generator().manual_seed(1))
    assert torch.equal(torch.floor((y + 1) / 2 * 256).clamp(max=255), k)
