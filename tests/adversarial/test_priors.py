"""Priors: shapes, moments against closed forms (tolerances from the sample size), custom functions."""

from __future__ import annotations

import math
import sys
import types

import pytest
import torch

from genzoo import code, priors

N = 20_000


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("name", ["gaussian", "mixture10", "swissroll"])
def test_shapes_and_seed(name):
    s = priors.sample_prior(name, 7, 5, gen())
    assert s.shape == (7, 5)
    assert torch.equal(s, priors.sample_prior(name, 7, 5, gen()))


def test_gaussian_moments():
    z = priors.sample_prior("gaussian", N, 3, gen())
    tol = 5 / math.sqrt(N)  # 5 standard errors
    assert z.mean(0).abs().max() < tol
    assert (z.var(0) - 1).abs().max() < 5 * math.sqrt(2 / N)


def test_mixture_components_and_labels():
    labels = torch.arange(N) % 10
    z = priors.sample_prior("mixture10", N, 2, gen(), labels=labels)
    means = priors.mixture_means(2)
    for k in range(10):
        zk = z[labels == k]
        se = priors.MIXTURE_STD / math.sqrt(len(zk))
        assert (zk.mean(0) - means[k]).abs().max() < 5 * se
        assert (zk.std(0) - priors.MIXTURE_STD).abs().max() < 0.05
    # unlabelled: radius concentrates at MIXTURE_RADIUS, angle is uniform over the 10 components
    r = priors.sample_prior("mixture10", N, 2, gen(1)).norm(dim=1)
    assert abs(float(r.mean()) - priors.MIXTURE_RADIUS) < 0.05


def test_swissroll_statistics():
    z = priors.sample_prior("swissroll", N, 2, gen())
    t = z.norm(dim=1) / priors.SWISSROLL_SCALE  # radius / scale = t (noise is small)
    lo, hi = 1.5 * math.pi, 4.5 * math.pi
    assert float(t.min()) > lo - 1 and float(t.max()) < hi + 1
    # t = 1.5 pi (1 + 2u): mean 3 pi
    assert abs(float(t.mean()) - 3 * math.pi) < 5 * (hi - lo) / math.sqrt(12 * N) + 0.05
    labelled = priors.sample_prior("swissroll", N, 2, gen(), labels=torch.full((N,), 9))
    t9 = labelled.norm(dim=1) / priors.SWISSROLL_SCALE
    assert float(t9.min()) > 1.5 * math.pi * (1 + 2 * 0.9) - 1  # the last tenth of the roll


def test_custom_prior_function():
    ring = lambda n, dim, generator: torch.ones(n, dim) * 3  # noqa: E731
    bad = lambda n, dim, generator: torch.ones(n, dim + 1)  # noqa: E731
    assert torch.equal(priors.sample_prior("custom", 4, 2, prior_fn=ring), torch.full((4, 2), 3.0))
    with pytest.raises(ValueError, match="returned shape"):
        priors.sample_prior("custom", 4, 2, prior_fn=bad)
    # a name is looked up among the functions the user trusted, never imported
    mod = types.ModuleType("genzoo_test_prior_mod")
    mod.ring = ring
    sys.modules[mod.__name__] = mod
    try:
        with pytest.raises(ValueError, match="never imports"):
            priors.get_prior("custom", 2, f"{mod.__name__}:ring")
        code.import_function(f"{mod.__name__}:ring")  # the explicit opt-in
        assert torch.equal(priors.sample_prior("custom", 4, 2, prior_fn=f"{mod.__name__}:ring"),
                           torch.full((4, 2), 3.0))
        with pytest.raises(ValueError, match="has no function"):
            code.import_function(f"{mod.__name__}:nope")
    finally:
        del sys.modules[mod.__name__]
    with pytest.raises(ValueError, match="module:function"):
        code.import_function("no_colon")
    with pytest.raises(ValueError, match="unknown prior"):
        priors.get_prior("laplace", 2)


def test_aae_conditional_prior_follows_label():
    from genzoo.registry import get_model

    entry = get_model("aae")
    model = entry.model_cls(entry.config_cls(shape=(1, 8, 8), latent_dim=2, hidden=(8,), d_hidden=(8,),
                                             prior="mixture10", conditional_prior=True))
    z = model.sample_prior(2000, gen(), torch.full((2000,), 3))
    assert (z.mean(0) - priors.mixture_means(2)[3]).abs().max() < 5 * priors.MIXTURE_STD / math.sqrt(2000)
    with pytest.raises(ValueError, match="conditional_prior"):
        entry.config_cls(prior="gaussian", conditional_prior=True)
