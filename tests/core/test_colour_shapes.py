"""The conv VAE (Bernoulli, Gaussian and discretized logistic mixture decoders), AE and the
adversarial models (DCGAN, conv GAN, cGAN, InfoGAN, AAE) at colour sizes 3x32x32 and 3x64x64: they
build, take a training step that changes their parameters with a finite loss, and sample (the AE:
reconstruct) images of the right shape."""

from __future__ import annotations

import pytest
import torch

from genzoo.registry import get_model, get_objective

SHAPES = [(3, 32, 32), (3, 64, 64)]
CASES = {
    "vae": {"arch": "conv", "decoder": "bernoulli", "latent_dim": 8, "conv_channels": (8, 16, 16, 16)},
    "vae-gaussian": {"arch": "conv", "decoder": "gaussian", "latent_dim": 8, "conv_channels": (8, 16, 16, 16)},
    "vae-mixture": {"arch": "conv", "decoder": "logistic-mixture", "mixtures": 2, "latent_dim": 8,
                    "conv_channels": (8, 16, 16, 16)},
    "ae": {"arch": "conv", "latent_dim": 8, "conv_channels": (8, 16, 16, 16)},
    "dcgan": {},
    "gan-conv": {"arch": "conv", "width": 8},
    "cgan": {"g_hidden": (32,), "d_hidden": (32,)},
    "infogan": {"width": 8, "fc": 16, "q_hidden": 8, "noise_dim": 8},
    "aae": {"latent_dim": 4, "hidden": (32,), "d_hidden": (16,)},
}


def _build(case: str, shape):
    name = case.split("-")[0]
    entry = get_model(name)
    kw = dict(CASES[case])
    if name == "dcgan":  # the smallest widths the config allows
        fields = entry.config_cls.__dataclass_fields__
        kw.update({k: 8 for k in ("g_features", "d_features", "features") if k in fields})
    torch.manual_seed(0)
    return entry, entry.model_cls(entry.config_cls(shape=shape, **kw))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("case", list(CASES))
def test_builds_trains_a_step_and_samples(case, shape):
    entry, model = _build(case, shape)
    oentry = get_objective(entry.objectives[0])
    obj = oentry.objective_cls(oentry.config_cls())
    x = torch.randint(0, 256, (4, *shape), generator=torch.Generator().manual_seed(2)).float() / 255  # 8-bit
    batch = {"x": x, "y": torch.zeros(4, dtype=torch.long)}
    g = torch.Generator().manual_seed(0)
    players = getattr(obj, "players", ("model",))
    for player in players:
        params = list(obj.parameters(model, player)) if hasattr(obj, "parameters") else list(model.parameters())
        before = [p.detach().clone() for p in params]
        opt = torch.optim.Adam(params, lr=1e-3)
        out = obj(model, batch, player=player, generator=g)
        loss = out["loss"].mean()
        assert torch.isfinite(loss), (case, player)
        loss.backward()
        opt.step()
        assert any(not torch.equal(b, p) for b, p in zip(before, params)), f"{case}/{player}: nothing moved"
    model.eval()
    with torch.no_grad():
        if case == "ae":  # an autoencoder has no sampler: it reconstructs
            s = model.reconstruct(x[:3])
        else:
            s = model.sample(3, generator=torch.Generator().manual_seed(1))
    assert s.shape == (3, *shape) and torch.isfinite(s).all()
