"""The VampPrior (Tomczak & Welling 2018): mixture density, sampling, pseudo-inputs, training.

The bound tests (estimators A and B, ELBO <= IS-NLL, normalisation) run for both priors in test_vae.py."""

import math

import pytest
import torch

import genzoo
from genzoo.models.autoencoders.vae import gaussian_log_prob, mixture_log_prob
from genzoo.objectives.variational import elbo
from genzoo.registry import get_model
from genzoo.training.run import build_model
from genzoo.training.trainer import TrainConfig


def _vamp(shape=(1, 4, 4), latent_dim=3, k=7, **kw):
    torch.manual_seed(0)
    model = build_model("vae-vamp", shape, hidden=(16,), latent_dim=latent_dim, pseudo_inputs=k, **kw)
    model.init_from_data(torch.rand(50, *shape).bernoulli())
    return model


def test_mixture_log_prob_matches_the_direct_sum_in_row_chunks():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g) * 0.5
    z = torch.randn(4, 6, 3, generator=g)
    direct = torch.logsumexp(gaussian_log_prob(z[..., None, :], mu, logvar).sum(-1), dim=-1) - math.log(5)
    assert torch.allclose(mixture_log_prob(z, mu, logvar, rows=5), direct, atol=1e-5)


def test_prior_density_integrates_to_one_and_matches_its_samples():
    model = _vamp(latent_dim=1)
    grid = torch.linspace(-30, 30, 200_001)[:, None]
    with torch.no_grad():
        dens = model.prior().log_prob(grid).exp()
        mass = torch.trapezoid(dens, grid[:, 0])
        mean = torch.trapezoid(dens * grid[:, 0], grid[:, 0])
        z = model.prior().sample((200_000,), torch.Generator().manual_seed(1))
    assert abs(float(mass) - 1) < 1e-3
    se = float(z.std()) / math.sqrt(len(z))
    assert abs(float(z.mean()) - float(mean)) < 5 * se


def test_pseudo_inputs_start_at_data_inside_the_clamp_and_receive_gradients():
    model = _vamp()
    u = model.pseudo_inputs()
    assert torch.all(((u - 0.05).abs() < 1e-6) | ((u - 0.95).abs() < 1e-6))
    x = torch.rand(8, 1, 4, 4).bernoulli()
    (-elbo(model, x).mean()).backward()
    assert model.pseudo.grad is not None and model.pseudo.grad.abs().sum() > 0


def test_trains_saves_and_loads(tmp_path, tiny_data):
    cfg = get_model("vae-vamp").default_config(hidden=(32,), latent_dim=4, pseudo_inputs=10)
    model, _ = genzoo.train("vae-vamp", data_config=tiny_data, out_dir=tmp_path / "run", model_config=cfg,
                            train_config=TrainConfig(epochs=2, batch_size=50, progress=False, sample_every=0))
    loaded = genzoo.load(tmp_path / "run")
    x = torch.rand(4, *loaded.config.shape).bernoulli()
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    assert torch.allclose(model.cpu().eval().log_prob(x, k=50, generator=g1), loaded.log_prob(x, k=50, generator=g2))
    assert loaded.sample(3).shape == (3, *loaded.config.shape)


def test_wake_sleep_refuses_a_learnt_prior():
    from genzoo.objectives.wake_sleep import WakeSleep

    with pytest.raises(ValueError, match="fixed prior"):
        WakeSleep().parameters(_vamp(), "wake")
