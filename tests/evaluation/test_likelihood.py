"""Likelihood evaluation under the data contract: the dequantized bound against a closed form,
refusals of figures that are not likelihoods, and the Gaussian decoder's normalisation."""

import math

import pytest
import torch

from genzoo.data import DataError, DataSpec
from genzoo.evaluation.likelihood import evaluate_likelihood
from genzoo.models.autoencoders.vae import VAE, VAEConfig
from genzoo.models.base import GenerativeModel, ModelConfig
from genzoo.objectives.variational import log_weights

L = 4
SPEC = DataSpec(shape=(1, 1, 2), kind="quantized", levels=L, dequantization="uniform")


class Triangle(GenerativeModel):
    """p(x) = prod_i 2 u_i on [0, 1]^D (u = x in [0, 1], or (x + 1) / 2 for [-1, 1] data, where the
    density is prod_i u_i); a normalised continuous density with closed-form cell integrals."""

    likelihood_type = "gaussian"

    def __init__(self, scale="01"):
        super().__init__(ModelConfig(shape=(1, 1, 2)))
        self.scale = scale
        self.dummy = torch.nn.Parameter(torch.zeros(()))

    def log_prob(self, x, **kw):
        if self.scale == "pm1":
            return torch.log((x + 1) / 2).flatten(1).sum(1)
        return torch.log(2 * x).flatten(1).sum(1)


def _bound_per_dim(k: int) -> float:
    """E_u[-log p((k + u) / L)] + log L for p(u) = 2u: 2 log L - log 2 - int_k^{k+1} log t dt."""
    def f(t):
        return t * math.log(t) - t if t > 0 else 0.0
    return 2 * math.log(L) - math.log(2) - (f(k + 1) - f(k))


def test_dequantized_bound_matches_closed_form():
    codes = torch.tensor([[0, 3], [1, 2], [2, 2], [3, 0]], dtype=torch.float32)  # (4, 2) levels
    x = (codes / (L - 1)).view(4, 1, 1, 2).repeat(500, 1, 1, 1)  # clean grid data k / (L - 1)
    out = evaluate_likelihood(Triangle(), x, SPEC, batch_size=400, dequant_draws=4, seed=0)
    expected = sum(_bound_per_dim(int(k)) for k in codes.flatten()) / 4  # per example
    exact = sum(2 * math.log(L) - math.log(2 * int(k) + 1) for k in codes.flatten()) / 4  # -log P(k)
    assert out["figure"] == "dequantized_bound" and out["bound"] is True and out["exact"] is True
    assert out["dequantization"] == {"levels": L, "draws_per_example": 4,
                                     "offset_nats": pytest.approx(2 * math.log(L)), "scale": "01"}
    # the Monte-Carlo mean over 2000 examples x 4 draws is within 4 standard errors of the closed form
    assert abs(out["nll_nats"] - expected) < 4 * out["nll_stderr"] + 1e-9
    assert out["nll_stderr"] < 0.05
    assert out["nll_nats"] > exact  # a bound on the discrete NLL (Jensen), here by about 0.33 nats
    assert out["bits_per_dim"] == pytest.approx(out["nll_nats"] / (2 * math.log(2)))
    assert "bound" in out["label"]


def test_dequantized_bound_in_pm1_uses_the_pm1_cell_width():
    spec = DataSpec(shape=(1, 1, 2), kind="quantized", levels=L, scale="pm1", dequantization="uniform")
    codes = torch.tensor([[1, 2]], dtype=torch.float32)
    x = (codes / (L - 1) * 2 - 1).view(1, 1, 1, 2).repeat(2000, 1, 1, 1)
    out = evaluate_likelihood(Triangle("pm1"), x, spec, batch_size=1000)
    # same discrete law as in [0, 1]: the figure is independent of the data range
    expected = _bound_per_dim(1) + _bound_per_dim(2)
    assert abs(out["nll_nats"] - expected) < 4 * out["nll_stderr"]


class Bernoulli(GenerativeModel):
    likelihood_type = "bernoulli"

    def __init__(self):
        super().__init__(ModelConfig(shape=(1, 1, 2)))
        self.dummy = torch.nn.Parameter(torch.zeros(()))

    def log_prob(self, x, **kw):
        return torch.full((len(x),), -1.0)


def test_bernoulli_on_grey_values_is_not_reported_as_an_nll():
    grey = DataSpec(shape=(1, 1, 2), kind="quantized", levels=L)
    with pytest.raises(DataError, match="not a likelihood.*--binarize") as e:
        evaluate_likelihood(Bernoulli(), torch.zeros(3, 1, 1, 2), grey, who="run r")
    assert "\n" not in str(e.value) and str(e.value).startswith("run r:")
    binary = DataSpec(shape=(1, 1, 2), kind="binary", levels=2, binarization="static")
    assert evaluate_likelihood(Bernoulli(), torch.zeros(3, 1, 1, 2), binary)["nll_nats"] == 1.0


def test_grid_density_and_categorical_dequantized_refused():
    grey = DataSpec(shape=(1, 1, 2), kind="quantized", levels=L)
    with pytest.raises(DataError, match="--dequantize"):
        evaluate_likelihood(Triangle(), torch.full((3, 1, 1, 2), 0.5), grey)

    class Categorical(Triangle):
        likelihood_type = "categorical"
        likelihood_levels = L

    with pytest.raises(DataError, match="dequantize"):
        evaluate_likelihood(Categorical(), torch.full((3, 1, 1, 2), 0.5), SPEC)


def test_gaussian_decoder_density_integrates_to_one():
    """1-D check: p(x) = int N(x; mu(z), s(z)^2) N(z; 0, 1) dz on a z grid, then int p(x) dx on an
    x grid, both by the trapezoid rule: 1 up to quadrature error (far below 1e-4 here)."""
    torch.manual_seed(0)
    model = VAE(VAEConfig(shape=(1, 1, 1), decoder="gaussian", latent_dim=1, hidden=(8,))).double()
    z = torch.linspace(-9, 9, 1201, dtype=torch.float64)
    xs = torch.linspace(-25, 25, 2001, dtype=torch.float64)
    with torch.no_grad():
        px_z = model.likelihood(z.view(-1, 1, 1))  # batch (Z, 1), event (1, 1, 1)
        assert float(px_z.logvar.exp().sqrt().max()) < 5 and float(px_z.mean.abs().max()) < 5  # grid covers it
        log_pxz = px_z.log_prob(xs.view(1, -1, 1, 1, 1))  # (Z, X) by broadcasting
        log_pz = model.prior().log_prob(z.view(-1, 1))  # (Z,)
        px = torch.trapezoid((log_pxz + log_pz[:, None]).exp(), z, dim=0)  # (X,)
        total = torch.trapezoid(px, xs)
    assert abs(float(total) - 1.0) < 1e-4
    # the importance-sampled log_prob estimates the same density: k = 4000 weights per point, within
    # 5 standard errors (delta method: se of log mean(w) = std(w) / (mean(w) sqrt(k)))
    k = 4000
    with torch.no_grad():
        pts = torch.tensor([-1.0, 0.0, 0.7], dtype=torch.float64).view(3, 1, 1, 1)
        lw = log_weights(model, pts, k, torch.Generator().manual_seed(1))  # (k, 3)
        est = torch.logsumexp(lw, 0) - math.log(k)
        w = (lw - lw.max(0).values).exp()
        se = w.std(0) / w.mean(0) / math.sqrt(k)
        quad = torch.log(px)  # log p(x) on the grid
        quad = torch.stack([quad[torch.argmin((xs - p).abs())] for p in pts.flatten()])
    assert bool(((est - quad).abs() < 5 * se).all()), (est, quad, se)
