"""GAN-family API: GAN-CLS loss values on a constructed discriminator, InfoGAN's sweep returns
exactly n images, and GAN interpolation (library and CLI)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import genzoo
from genzoo.cli.main import main
from genzoo.data import DataConfig
from genzoo.objectives.adversarial import GANCLSConfig, GANCLSObjective
from genzoo.registry import get_model
from genzoo.training.trainer import TrainConfig


def softplus(v: float) -> float:
    return math.log1p(math.exp(v))


class MatchingCritic:
    """A stand-in text-to-image model with known scores: phi(t) = the caption ids as (B, 1);
    G(z, h) = zeros; D(x, h) = mean(x) * h, so s_r = h on all-ones images, s_w = the rolled h, s_f = 0."""

    def captions_for(self, batch):
        return batch["y"].view(-1, 1).float()

    def embed_text(self, captions):
        return captions

    def noise(self, n, generator=None):
        return torch.zeros(n, 2)

    def generate(self, z, h):
        return torch.zeros(len(z), 1, 2, 2)

    def discriminate(self, x, h):
        return x.flatten(1).mean(1) * h[:, 0]


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_gan_cls_losses_on_known_scores(smoothing):
    batch = {"x": torch.ones(3, 1, 2, 2), "y": torch.tensor([1.0, 2.0, 3.0])}
    obj = GANCLSObjective(GANCLSConfig(label_smoothing=smoothing))
    d = obj(MatchingCritic(), batch, player="discriminator")
    t = 1 - smoothing
    for i, (s_r, s_w) in enumerate([(1, 3), (2, 1), (3, 2)]):  # s_w: the captions rolled by one
        real = t * softplus(-s_r) + (1 - t) * softplus(s_r)  # -[t log s(s_r) + (1-t) log(1 - s(s_r))]
        want = real + 0.5 * (softplus(s_w) + softplus(0.0))  # Reed et al. Alg. 1, halved wrong terms
        assert float(d["loss"][i]) == pytest.approx(want, rel=1e-6)
    assert torch.allclose(d["d_mismatch"], torch.sigmoid(torch.tensor([3.0, 1.0, 2.0])))
    plain = GANCLSObjective(GANCLSConfig(interpolation_weight=0.0))(MatchingCritic(), batch, player="generator")
    assert torch.allclose(plain["loss"], torch.full((3,), math.log(2.0)))  # -log s(0)
    minimax = GANCLSObjective(GANCLSConfig(generator_loss="minimax", interpolation_weight=0.0))(
        MatchingCritic(), batch, player="generator")
    assert torch.allclose(minimax["loss"], torch.full((3,), -math.log(2.0)))  # log(1 - s(0))
    # GAN-INT: + lambda * -log s(D(G(z, h_int), h_int)) = lambda * log 2 on this critic (G's images are 0)
    g = GANCLSObjective(GANCLSConfig(interpolation_weight=0.5))(MatchingCritic(), batch, player="generator")
    assert torch.allclose(g["loss"], torch.full((3,), 1.5 * math.log(2.0)))
    assert torch.allclose(g["g_int_loss"], torch.full((3,), math.log(2.0)))


def _model(name, **kw):
    entry = get_model(name)
    torch.manual_seed(0)
    return entry.model_cls(entry.config_cls(shape=(1, 8, 8), **kw)).eval()


@pytest.mark.parametrize("n,vary", [(7, "c1"), (64, "c1"), (50, "c1"), (7, "cat"), (64, "cat"), (1, "c2")])
def test_infogan_sweep_returns_exactly_n(n, vary):
    info = _model("infogan", noise_dim=4, width=4, q_hidden=8, fc=0)
    g = torch.Generator().manual_seed(0)
    grid = info.sample(n, generator=g, vary=vary)
    assert grid.shape == (n, 1, 8, 8)
    k = info.vary_columns(n, vary)
    assert k == (10 if vary == "cat" else max(2, math.ceil(n / 10)))
    if n > k:  # a sweep row: neighbouring columns differ (only the swept code changes)
        assert not torch.allclose(grid[0], grid[1])


@pytest.mark.parametrize("name,kw", [("gan", dict(noise_dim=4, g_hidden=(16,), d_hidden=(16,))),
                                     ("cgan", dict(noise_dim=4, g_hidden=(16,), d_hidden=(16,))),
                                     ("infogan", dict(noise_dim=4, width=4, q_hidden=8, fc=0)),
                                     ("text2image", dict(noise_dim=4, width=4, word_dim=4, text_dim=4))])
def test_gan_latents_decode_to_samples_and_interpolate(name, kw):
    """draw_latent + decode is sample; the ends of an interpolation path decode to the two samples."""
    from genzoo.evaluation.plots import interpolate_codes

    model = _model(name, **kw)
    w = model.draw_latent(2, generator=torch.Generator().manual_seed(3))
    assert torch.equal(model.decode(w), model.sample(2, generator=torch.Generator().manual_seed(3)))
    path = model.decode(interpolate_codes(w[0], w[1], 5))  # (5, 1, 8, 8)
    assert torch.allclose(path[0], model.decode(w[:1])[0], atol=1e-6)
    assert torch.allclose(path[-1], model.decode(w[1:])[0], atol=1e-6)
    assert not torch.allclose(path[1], path[0])


def test_interpolate_cli_on_a_gan_run(tmp_path):
    out = tmp_path / "gan"
    genzoo.train("gan", data_config=DataConfig(name="digits", limit=64), out_dir=out,
                 model_config=get_model("gan").config_cls(noise_dim=4, g_hidden=(16,), d_hidden=(16,)),
                 train_config=TrainConfig(epochs=1, batch_size=32, max_steps=2, progress=False, validate=False,
                                          sample_every=0), command="test")
    assert main(["interpolate", str(out), "--pairs", "2", "--steps", "3", "--device", "cpu"]) == 0
    from PIL import Image

    with Image.open(out / "interpolation.png") as img:
        assert np.asarray(img).shape[:2] != (0, 0)
