"""The variational family interface (prior, posterior, likelihood) and the bounds written over it:
IWAE and wake-sleep values against direct computations, VampPrior precision, true samples."""

import math

import pytest
import torch

from genzoo.distributions import mixture_log_prob
from genzoo.objectives.elbo import IWAE, IWAEConfig
from genzoo.objectives.wake_sleep import WakeSleep
from genzoo.training.run import build_model

D = torch.distributions


def _vae(**kw):
    torch.manual_seed(0)
    return build_model("vae", (1, 4, 4), hidden=(16,), latent_dim=3, **kw)


def _direct_log_weights(model, x, eps):
    """log p(x|z) + log N(z; 0, I) - log q(z|x) with torch.distributions, z = mu + sigma * eps."""
    mu, logvar = model.encoder(x).chunk(2, dim=-1)  # (B, L)
    sigma = torch.exp(0.5 * logvar)
    z = mu + sigma * eps  # (k, B, L)
    logits = model.decoder(z.reshape(-1, z.shape[-1])).view(*z.shape[:2], -1)  # (k, B, D)
    log_px = D.Bernoulli(logits=logits).log_prob(x.flatten(1).expand_as(logits)).sum(-1)
    log_pz = D.Normal(0.0, 1.0).log_prob(z).sum(-1)
    log_q = D.Normal(mu, sigma).log_prob(z).sum(-1)
    return log_px + log_pz - log_q, z


def test_iwae_objective_equals_the_direct_k_sample_bound():
    model, k = _vae(), 7
    x = torch.rand(5, 1, 4, 4, generator=torch.Generator().manual_seed(1)).bernoulli()
    out = IWAE(IWAEConfig(samples=k))(model, {"x": x}, generator=torch.Generator().manual_seed(2))
    eps = torch.randn(k, 5, 3, generator=torch.Generator().manual_seed(2))  # the same draws
    logw, _ = _direct_log_weights(model, x, eps)
    direct = torch.logsumexp(logw, 0) - math.log(k)  # Burda et al. eq. 8
    assert torch.allclose(out["neg_iwae_bound"], -direct, atol=1e-5)
    assert torch.allclose(out["loss"], -direct, atol=1e-5)


def test_wake_log_joint_is_the_full_log_density():
    """The wake loss is -[log p(x|z) + log N(z; 0, I)], the -L/2 log 2 pi included."""
    model = _vae()
    x = torch.rand(5, 1, 4, 4, generator=torch.Generator().manual_seed(1)).bernoulli()
    out = WakeSleep()(model, {"x": x}, player="wake", generator=torch.Generator().manual_seed(3))
    eps = torch.randn(5, 3, generator=torch.Generator().manual_seed(3))
    mu, logvar = model.encoder(x).chunk(2, dim=-1)
    z = mu + torch.exp(0.5 * logvar) * eps
    logits = model.decoder(z).flatten(1)
    direct = D.Bernoulli(logits=logits).log_prob(x.flatten(1)).sum(-1) + D.Normal(0.0, 1.0).log_prob(z).sum(-1)
    assert torch.allclose(out["loss"], -direct, atol=1e-5)


@pytest.mark.parametrize("logvar", [-4.0, -8.0, -12.0])
def test_vamp_prior_density_matches_float64_for_narrow_components(logvar):
    """float32 in, float32 out, float64 inside: within 1e-4 nats of the direct float64 sum at
    posterior log-variances where the float32 expansion was off by 1e-3 to several nats."""
    g = torch.Generator().manual_seed(0)
    k, dim, n = 500, 40, 200
    mu = 2 * torch.randn(k, dim, generator=g)
    lv = logvar + 0.1 * torch.randn(k, dim, generator=g)
    idx = torch.randint(k, (n,), generator=g)
    z = mu[idx] + torch.exp(0.5 * lv[idx]) * torch.randn(n, dim, generator=g)  # where the posteriors put z
    z64, mu64, lv64 = z.double()[:, None], mu.double(), lv.double()
    direct = torch.logsumexp(D.Normal(mu64, torch.exp(0.5 * lv64)).log_prob(z64).sum(-1), -1) - math.log(k)
    got = mixture_log_prob(z, mu, lv)
    assert got.dtype == torch.float32
    assert float((got.double() - direct).abs().max()) < 1e-4


def test_sample_draws_pixels_and_sample_mean_gives_the_decoder_means():
    model = _vae()
    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    x = model.sample(300, generator=g1)
    means = model.sample_mean(300, generator=g2)
    assert x.shape == means.shape == (300, 1, 4, 4)
    assert set(x.unique().tolist()) <= {0.0, 1.0}  # Bernoulli draws, not probabilities
    assert not torch.equal(means, means.round())
    # the same z (same seed, drawn first): the pixel frequencies match the means within 5 sigma
    se = (means * (1 - means)).mean(0).sqrt() / math.sqrt(300)
    assert torch.all((x.mean(0) - means.mean(0)).abs() < 5 * se + 1e-6)


def test_gaussian_decoder_samples_are_noisy_and_centred_on_the_means():
    model = _vae(decoder="gaussian")
    z = model.draw_latent(1, generator=torch.Generator().manual_seed(0)).expand(4000, -1)
    lik = model.likelihood(z)
    x = lik.sample(generator=torch.Generator().manual_seed(1))
    sd = torch.exp(0.5 * lik.logvar[0])
    assert torch.all((x.mean(0) - lik.mean[0]).abs() < 5 * sd / math.sqrt(4000))
    assert torch.allclose(x.std(0), sd, rtol=0.1)


def test_log_prob_default_k_and_estimate_flags():
    model = _vae()
    assert model.exact_likelihood is False and model.default_k == 5000
    x = torch.rand(3, 1, 4, 4).bernoulli()
    a = model.log_prob(x, k=10, generator=torch.Generator().manual_seed(0))
    b = model.log_prob(x, k=10, generator=torch.Generator().manual_seed(0))
    assert a.shape == (3,) and torch.equal(a, b)
    with pytest.raises(ValueError, match="k"):
        model.log_prob(x, k=0)
