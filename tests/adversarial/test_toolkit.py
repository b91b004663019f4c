"""The GAN toolkit options: hinge and WGAN-GP losses, spectral normalisation, generator EMA."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genzoo.data.datasets import ImageDataset, Split
from genzoo.objectives.adversarial import GANLossConfig, GANObjective, gradient_penalty
from genzoo.registry import get_model
from genzoo.training.trainer import TrainConfig, Trainer


def tiny_gan(**kw):
    entry = get_model("gan")
    torch.manual_seed(0)
    return entry.model_cls(entry.config_cls(shape=(1, 4, 4), noise_dim=3, g_hidden=(8,), d_hidden=(8,), **kw))


def test_hinge_loss_values_on_known_scores():
    obj = GANObjective(GANLossConfig(adversarial_loss="hinge"))
    lr = torch.tensor([2.0, 0.5, -1.0])
    lf = torch.tensor([-3.0, 0.0, 0.5])
    # relu(1 - D(x)) + relu(1 + D(G(z))): (0 + 0), (0.5 + 1), (2 + 1.5)
    torch.testing.assert_close(obj.d_loss(lr, lf), torch.tensor([0.0, 1.5, 3.5]))
    torch.testing.assert_close(obj.g_loss(lf), torch.tensor([3.0, 0.0, -0.5]))
    wgan = GANObjective(GANLossConfig(adversarial_loss="wgan-gp"))
    torch.testing.assert_close(wgan.d_loss(lr, lf), lf - lr)


def test_gradient_penalty_matches_direct_computation():
    # critic f(x) = sum(w * x^2): grad = 2 w x, so at known interpolates the penalty is exact
    w = torch.tensor([[0.5, -1.0], [2.0, 0.25]])
    real = torch.tensor([[[1.0, 2.0], [0.0, -1.0]], [[0.5, 0.5], [3.0, 1.0]]])  # (2, 2, 2)
    fake = torch.tensor([[[0.0, 1.0], [1.0, 1.0]], [[-1.0, 0.0], [2.0, 2.0]]])
    eps = torch.tensor([0.25, 0.8])
    gp = gradient_penalty(lambda x: (w * x.pow(2)).flatten(1).sum(1), real, fake, eps=eps)
    expected = []
    for i in range(2):
        x_hat = eps[i] * real[i] + (1 - eps[i]) * fake[i]
        expected.append(((2 * w * x_hat).norm() - 1) ** 2)
    torch.testing.assert_close(gp, torch.stack(expected))
    with torch.no_grad():  # the trainer's validation runs the players under no_grad
        torch.testing.assert_close(gradient_penalty(lambda x: (w * x.pow(2)).flatten(1).sum(1), real, fake,
                                                    eps=eps), gp)
    # the penalty trains the critic: its gradient reaches a critic parameter
    wp = w.clone().requires_grad_(True)
    gradient_penalty(lambda x: (wp * x.pow(2)).flatten(1).sum(1), real, fake, eps=eps).sum().backward()
    assert wp.grad is not None and wp.grad.abs().sum() > 0


def test_wgan_gp_discriminator_step_adds_the_penalty():
    model = tiny_gan()
    x = torch.rand(6, 1, 4, 4)
    base = GANObjective(GANLossConfig(adversarial_loss="wgan-gp", gp_weight=0.0))
    gp = GANObjective(GANLossConfig(adversarial_loss="wgan-gp", gp_weight=10.0))
    a = base(model, {"x": x}, player="discriminator", generator=torch.Generator().manual_seed(1))
    b = gp(model, {"x": x}, player="discriminator", generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(b["d_loss"], a["d_loss"])
    torch.testing.assert_close(b["loss"], a["loss"] + b["gradient_penalty"])
    assert (b["gradient_penalty"] > 0).all() and "d_real" not in b and "w_estimate" in b


def test_spectral_norm_largest_singular_value_near_one():
    from genzoo.models.adversarial._nets import Discriminator

    torch.manual_seed(0)
    d = Discriminator((3, 16, 16), arch="conv", width=8, spectral_norm=True)
    d.train()
    x = torch.randn(4, 3, 16, 16)
    for _ in range(30):  # each training forward runs one power iteration per layer
        d(x)
    d.eval()
    layers = [m for m in d.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(layers) == 3 and not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())
    for m in layers:
        w = m.weight.reshape(m.weight.shape[0], -1)  # the normalised weight, (out, in * k * k)
        sigma = torch.linalg.matrix_norm(w.detach(), ord=2)
        assert abs(float(sigma) - 1.0) < 1e-2, (m, float(sigma))
        raw = m.parametrizations.weight.original.reshape(w.shape[0], -1)
        assert float(torch.linalg.matrix_norm(raw.detach(), ord=2)) != pytest.approx(1.0, abs=0.05)


def test_ema_weights_equal_the_hand_computed_average():
    model = tiny_gan(ema=True)
    obj = GANObjective(GANLossConfig(ema_decay=0.9))
    params = list(model.generator.parameters())
    assert not any(p.requires_grad for p in model.generator_ema.parameters())
    assert all(any(p is q for q in obj.parameters(model, "generator")) for p in params)
    assert not any(any(p is q for q in model.generator_ema.parameters())
                   for p in obj.parameters(model, "generator"))
    expected = [p.detach().clone() for p in params]
    g = torch.Generator().manual_seed(3)
    for _ in range(3):
        with torch.no_grad():
            for p in params:
                p.add_(torch.randn(p.shape, generator=g))
        obj.after_step(model, "discriminator")  # only the generator's step moves the average
        obj.after_step(model, "generator")
        expected = [0.9 * e + 0.1 * p.detach() for e, p in zip(expected, params)]
    for e, a in zip(expected, model.generator_ema.parameters()):
        torch.testing.assert_close(a, e)
    # sampling (eval mode) decodes with the average, training with the live generator
    w = model.draw_latent(5, generator=torch.Generator().manual_seed(0))
    model.eval()
    torch.testing.assert_close(model.decode(w), model.to_data(model.generator_ema(w)))
    model.train()
    torch.testing.assert_close(model.decode(w), model.to_data(model.generator(w)))


def test_trainer_calls_the_ema_hook_after_each_generator_step(tmp_path):
    model = tiny_gan(ema=True)
    seen: list[list[torch.Tensor]] = []

    class Recording(GANObjective):
        def after_step(self, model, player):
            if player == "generator":
                seen.append([p.detach().clone() for p in model.generator.parameters()])
            super().after_step(model, player)

    start = [p.detach().clone() for p in model.generator.parameters()]
    x = torch.rand(40, 1, 4, 4)
    data = ImageDataset("toy", Split(x), Split(x[:8]), Split(x[:8]), (1, 4, 4), False, None, 256)
    cfg = TrainConfig(epochs=1, batch_size=10, validate=False, sample_every=0, progress=False)
    Trainer(model, Recording(GANLossConfig(ema_decay=0.5, collapse_threshold=0.0)), data, cfg,
            log=lambda m: None).fit()
    assert len(seen) == 4
    expected = start
    for live in seen:
        expected = [0.5 * e + 0.5 * p for e, p in zip(expected, live)]
    for e, a in zip(expected, model.generator_ema.parameters()):
        torch.testing.assert_close(a, e)


def test_bad_toolkit_options_are_one_line_errors():
    with pytest.raises(ValueError, match="adversarial_loss"):
        GANLossConfig(adversarial_loss="lsgan")
    with pytest.raises(ValueError, match="ema_decay"):
        GANLossConfig(ema_decay=1.0)
    with pytest.raises(ValueError, match="gp_weight"):
        GANLossConfig(gp_weight=-1.0)
