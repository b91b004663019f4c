"""Tiny autoregressive models with random weights, shared by the tests."""

from __future__ import annotations

import itertools

import pytest
import torch

from genzoo.registry import get_model

# the smallest sizes that still exercise every layer type
TINY = {
    "independent": {},
    "fvsbn": {},
    "nade": {"hidden": 6},
    "nade-oa": {"hidden": (6,)},
    "pixelcnn": {"features": 6, "residual_blocks": 2, "output_features": 6, "first_kernel": 5},
    "pixelcnn-gated": {"features": 4, "layers": 3, "output_features": 6, "first_kernel": 5},
    "pixelrnn-row": {"features": 4, "layers": 2, "output_features": 6, "first_kernel": 5},
    "pixelrnn-diag": {"features": 4, "layers": 2, "output_features": 6, "first_kernel": 5},
}
# weight scale that makes the conditionals far from uniform without saturating them
WEIGHT_STD = {"independent": 1.5, "fvsbn": 1.5, "nade": 1.5, "nade-oa": 1.0, "pixelcnn": 0.5, "pixelcnn-gated": 0.7,
              "pixelrnn-row": 0.7, "pixelrnn-diag": 0.7}


def _make_model(name: str, shape: tuple[int, int, int], likelihood: str = "bernoulli", levels: int = 4,
                seed: int = 0, std: float | None = None, randomize: bool = True, **kw):
    """A tiny float64 model; with ``randomize``, every parameter drawn from N(0, std^2) under ``seed``."""
    entry = get_model(name)
    cfg = entry.config_cls(shape=shape, likelihood=likelihood, levels=levels, **{**TINY[name], **kw})
    model = entry.model_cls(cfg).double()
    if not randomize:
        return model
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * (std or WEIGHT_STD[name]))
    return model.eval()


def _all_images(shape: tuple[int, int, int], levels: int) -> torch.Tensor:
    """Every image with values k / (levels - 1): (levels^D, C, H, W), float64."""
    d = shape[0] * shape[1] * shape[2]
    grid = torch.tensor(list(itertools.product(range(levels), repeat=d)), dtype=torch.float64)
    return grid.reshape(-1, *shape) / (levels - 1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def make_model():
    return _make_model


@pytest.fixture
def all_images():
    return _all_images


def _pearson(counts: torch.Tensor, probs: torch.Tensor, n: int) -> tuple[float, int]:
    """Pearson statistic, lumping the categories expected fewer than 5 times into one."""
    expected = probs * n
    small = expected < 5
    obs = torch.cat([counts[~small], counts[small].sum().reshape(1)])
    exp = torch.cat([expected[~small], expected[small].sum().reshape(1)])
    keep = exp > 0
    stat = ((obs[keep] - exp[keep]) ** 2 / exp[keep]).sum().item()
    return stat, int(keep.sum()) - 1


@pytest.fixture
def chi_square():
    """``chi_square(counts, probs, n) -> (statistic, degrees of freedom)`` of n samples."""
    return _pearson
