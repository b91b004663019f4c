"""VAE maths: KL estimators, bounds, reparameterised gradients."""

import math

import pytest
import torch

from genzoo.models.autoencoders.vae import analytic_kl, gaussian_log_prob, standard_normal_log_prob
from genzoo.objectives.variational import elbo
from genzoo.training.run import build_model


def _vae(**kw):
    torch.manual_seed(0)
    return build_model("vae", (1, 4, 4), hidden=(16,), latent_dim=3, **kw)


def test_analytic_kl_matches_monte_carlo():
    g = torch.Generator().manual_seed(1)
    mu = torch.randn(5, 3, generator=g)
    logvar = torch.randn(5, 3, generator=g) * 0.5
    n = 200_000
    z = mu + torch.exp(0.5 * logvar) * torch.randn(n, 5, 3, generator=g)
    terms = (gaussian_log_prob(z, mu, logvar) - standard_normal_log_prob(z)).sum(-1)  # (n, 5)
    mc, se = terms.mean(0), terms.std(0) / math.sqrt(n)
    assert torch.all((mc - analytic_kl(mu, logvar)).abs() < 5 * se)


#: the prior of each bound test: N(0, I), and the VampPrior (no closed-form KL, a learnt mixture)
PRIORS = pytest.mark.parametrize("prior", [{}, {"prior": "vamp", "pseudo_inputs": 7}], ids=["standard", "vamp"])


@PRIORS
def test_estimators_a_and_b_agree_in_expectation(prior):
    model = _vae(**prior)
    x = torch.rand(8, 1, 4, 4).bernoulli()
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        a = elbo(model, x, k=20000, analytic_kl=False, generator=g)
        b = elbo(model, x, k=20000, analytic_kl=True, generator=g)
    assert torch.allclose(a, b, atol=0.05)


@PRIORS
def test_elbo_below_importance_sampled_likelihood_which_tightens_with_k(prior):
    model = _vae(**prior)
    x = torch.rand(64, 1, 4, 4).bernoulli()
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        bound = elbo(model, x, k=2000, generator=g).mean()
        estimates = [model.log_prob(x, k=k, generator=g).mean() for k in (1, 10, 100, 2000)]
    assert bound <= estimates[-1]
    assert all(a < b for a, b in zip(estimates[:-1], estimates[1:]))
    assert abs(float(estimates[0] - bound)) < 0.5  # k=1 is an unbiased estimate of the ELBO


@PRIORS
def test_log_prob_is_normalised_on_a_tiny_space(prior):
    """Sum of p(x) over all 2^4 binary 2x2 images is 1 (importance sampling, large k)."""
    torch.manual_seed(0)
    model = build_model("vae", (1, 2, 2), hidden=(8,), latent_dim=2, **prior)
    xs = torch.tensor([[(i >> b) & 1 for b in range(4)] for i in range(16)], dtype=torch.float32).view(16, 1, 2, 2)
    g = torch.Generator().manual_seed(0)
    total = model.log_prob(xs, k=20000, generator=g).exp().sum()
    assert abs(float(total) - 1.0) < 0.02


def test_gradients_reach_the_encoder_through_the_reparameterisation():
    model = _vae()
    x = torch.rand(4, 1, 4, 4).bernoulli()
    elbo(model, x, analytic_kl=False).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())


@pytest.mark.parametrize("name", ["vae", "vae-conv", "ae", "ae-conv"])
def test_shapes(name):
    torch.manual_seed(0)
    model = build_model(name, (1, 8, 8))
    x = torch.rand(3, 1, 8, 8)
    z = model.encode(x)
    assert z.shape == (3, model.latent_dim)
    assert model.decode(z).shape == x.shape
    if model.has_likelihood:
        assert model.sample(5).shape == (5, 1, 8, 8)
        assert model.log_prob(x.bernoulli(), k=10).shape == (3,)


def test_gaussian_decoder_bound_and_samples():
    model = _vae(decoder="gaussian")
    x = torch.rand(6, 1, 4, 4)
    assert torch.isfinite(elbo(model, x)).all()
    assert model.sample(4).shape == (4, 1, 4, 4)


def test_conv_nets_reject_odd_images():
    with pytest.raises(ValueError, match="even H and W"):
        build_model("vae-conv", (1, 7, 7))


def test_init_from_data_starts_the_bernoulli_decoder_at_the_pixel_marginals():
    model = _vae()
    x = (torch.rand(200, 1, 4, 4) < torch.linspace(0.05, 0.95, 16).view(1, 1, 4, 4)).float()
    model.init_from_data(x)
    last = [m for m in model.decoder.modules() if isinstance(m, torch.nn.Linear)][-1]
    last.weight.data.zero_()  # isolate the bias: the decoder mean is then the marginal for any z
    expected = (x.sum(0) + 1) / (len(x) + 2)
    assert torch.allclose(model.decode(torch.randn(3, 3)), expected.expand(3, -1, -1, -1), atol=1e-6)
    gaussian = _vae(decoder="gaussian")
    before = [p.clone() for p in gaussian.parameters()]
    gaussian.init_from_data(x)  # nothing to do for a Gaussian decoder
    assert all(torch.equal(a, b) for a, b in zip(before, gaussian.parameters()))
