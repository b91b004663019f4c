"""Adversarial models: shapes, finite losses, and that each player's step touches only its own
parameters."""

from __future__ import annotations

import pytest
import torch

from genzoo.registry import get_model, get_objective

SMALL = {
    "gan": dict(shape=(1, 8, 8), noise_dim=4, g_hidden=(16,), d_hidden=(16,)),
    "dcgan": dict(shape=(1, 8, 8), noise_dim=4, width=4),
    "cgan": dict(shape=(1, 8, 8), noise_dim=4, g_hidden=(16,), d_hidden=(16,), label_dim=3),
    "cgan-conv": dict(shape=(1, 8, 8), noise_dim=4, width=4, label_dim=3, arch="conv"),
    "infogan": dict(shape=(1, 8, 8), noise_dim=4, width=4, q_hidden=8, fc=0),
    "infogan-fc": dict(shape=(1, 8, 8), noise_dim=4, width=4, q_hidden=8, fc=16),  # the paper's FC layers
    "text2image": dict(shape=(1, 8, 8), noise_dim=4, width=4, word_dim=4, text_dim=4),
    "aae": dict(shape=(1, 8, 8), latent_dim=2, hidden=(16,), d_hidden=(16,)),
    "aae-cond": dict(shape=(1, 8, 8), latent_dim=2, hidden=(16,), d_hidden=(16,), prior="mixture10",
                     conditional_prior=True),
    "cyclegan": dict(shape=(1, 8, 8), width=4, res_blocks=1),
}


def build(key: str):
    name = key.split("-")[0]
    entry = get_model(name)
    torch.manual_seed(0)
    model = entry.model_cls(entry.config_cls(**SMALL[key]))
    obj = get_objective(entry.objectives[0])
    return model, obj.objective_cls(obj.config_cls())


def batch(n: int = 6, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {"x": torch.rand(n, 1, 8, 8, generator=g), "y": torch.randint(10, (n,), generator=g),
            "x_b": torch.rand(n, 1, 8, 8, generator=g)}


@pytest.mark.parametrize("key", sorted(SMALL))
def test_losses_finite_and_per_example(key):
    model, obj = build(key)
    b = batch()
    for player in obj.players:
        out = obj(model, b, player=player, generator=torch.Generator().manual_seed(1))
        assert out["loss"].shape == (6,)
        for k, v in out.items():
            assert torch.isfinite(v).all(), (key, player, k)


@pytest.mark.parametrize("key", sorted(k for k in SMALL if k != "cyclegan"))
def test_sample_shape_range_and_seed(key):
    model, _ = build(key)
    model.eval()
    s1 = model.sample(5, generator=torch.Generator().manual_seed(3))
    s2 = model.sample(5, generator=torch.Generator().manual_seed(3))
    assert s1.shape == (5, 1, 8, 8)
    assert torch.equal(s1, s2)
    assert s1.min() >= 0 and s1.max() <= 1


@pytest.mark.parametrize("size", [28, 32, 64])
def test_dcgan_sizes_and_spectral_norm(size):
    entry = get_model("dcgan")
    for sn in (False, True):
        model = entry.model_cls(entry.config_cls(shape=(3, size, size), noise_dim=4, width=2, spectral_norm=sn))
        model.eval()
        x = model.sample(2, generator=torch.Generator().manual_seed(0))
        assert x.shape == (2, 3, size, size)
        assert model.discriminate(x).shape == (2,)
        has_sn = any("parametrizations" in n for n, _ in model.discriminator.named_parameters())
        assert has_sn == sn


def test_dcgan_bad_size_raises():
    entry = get_model("dcgan")
    with pytest.raises(ValueError, match="stride-2"):
        entry.model_cls(entry.config_cls(shape=(1, 7, 7)))


@pytest.mark.parametrize("key", ["gan", "dcgan", "infogan", "text2image", "cyclegan"])
def test_no_likelihood(key):
    model, _ = build(key)
    assert model.has_likelihood is False
    with pytest.raises(NotImplementedError, match="no likelihood"):
        model.log_prob(batch()["x"])


@pytest.mark.parametrize("key", sorted(SMALL))
def test_each_step_updates_only_its_player(key):
    model, obj = build(key)
    all_params = {id(p): n for n, p in model.named_parameters()}
    owned = {player: {id(p) for p in obj.parameters(model, player)} for player in obj.players}
    for other in owned:  # the discriminator shares nothing with the other players (the AAE's
        if other != "discriminator":  # encoder belongs to both its autoencoder and generator steps)
            assert not owned["discriminator"] & owned[other], other
    assert set().union(*owned.values()) == set(all_params)  # ... and cover the model
    g = torch.Generator().manual_seed(0)
    for player in obj.players:  # as the trainer does it: zero this player's grads, backward, step
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        opt = torch.optim.SGD(list(obj.parameters(model, player)), lr=0.5)
        opt.zero_grad(set_to_none=True)
        obj(model, batch(), player=player, generator=g)["loss"].mean().backward()
        opt.step()
        changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
        mine = {all_params[i] for i in owned[player]}
        assert changed, (key, player)
        assert changed <= mine, (key, player, sorted(changed - mine))


def test_discriminator_step_gives_generator_no_gradient():
    model, obj = build("dcgan")
    model.zero_grad(set_to_none=True)
    obj(model, batch(), player="discriminator")["loss"].mean().backward()
    assert all(p.grad is None for p in model.generator_parameters())


def test_cgan_label_and_infogan_grids():
    model, _ = build("cgan")
    model.eval()
    g = torch.Generator().manual_seed(0)
    assert model.sample(4, generator=g, condition=7).shape == (4, 1, 8, 8)
    assert model.sample(3, generator=g, condition=torch.tensor([1, 2, 3])).shape == (3, 1, 8, 8)
    with pytest.raises(ValueError, match="0..9"):
        model.sample(2, condition=10)
    info, _ = build("infogan")
    info.eval()
    grid = info.sample(50, generator=g, vary="c1")
    assert grid.shape == (50, 1, 8, 8)
    rows = grid.view(10, 5, -1)
    # along a row only c1 changes: neighbouring columns differ, and row 0 differs from row 1
    assert (rows[:, 1:] - rows[:, :-1]).abs().sum() > 0
    assert not torch.allclose(rows[0], rows[1])
    assert info.sample(20, generator=g, vary="cat").shape == (20, 1, 8, 8)
    with pytest.raises(ValueError, match="vary"):
        info.sample(10, vary="c3")


def test_gan_minimax_vs_non_saturating():
    from genzoo.objectives.adversarial import GANLossConfig, GANObjective

    logits = torch.tensor([-5.0, 0.0, 5.0])
    ns = GANObjective(GANLossConfig(generator_loss="non-saturating")).g_loss(logits)
    mm = GANObjective(GANLossConfig(generator_loss="minimax")).g_loss(logits)
    d = torch.sigmoid(logits)
    assert torch.allclose(ns, -torch.log(d), atol=1e-5)
    assert torch.allclose(mm, torch.log(1 - d), atol=1e-5)


def test_epoch_end_warnings():
    model, obj = build("gan")
    warnings = obj.on_epoch_end(model, {"train_d_real": 0.999, "train_d_fake": 0.001})
    assert any("discriminator wins outright" in w for w in warnings)
    assert obj.on_epoch_end(model, {"train_d_real": 0.6, "train_d_fake": 0.4}) == []
    with torch.no_grad():  # a generator whose output ignores z: collapsed
        for m in model.generator.modules():
            if isinstance(m, torch.nn.Linear):
                m.weight.zero_()
    assert any("stopped varying" in w for w in obj.on_epoch_end(model, {}))


@pytest.mark.parametrize("key", sorted(SMALL))
def test_safetensors_round_trip(tmp_path, key):
    from genzoo.training import checkpoint as ckpt

    model, _ = build(key)
    ckpt.save_weights(tmp_path / "m.safetensors", model)
    torch.manual_seed(123)
    other = type(model)(model.config)
    ckpt.load_weights(tmp_path / "m.safetensors", other)
    for (n, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        assert torch.equal(a, b), n


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_conditional_discriminator_scores_agreement(arch):
    """D(x, c1) - D(x, c2) must depend on x: a condition that only adds a term to the logit cannot
    tell matching from mismatching pairs."""
    from genzoo.models.adversarial._nets import Discriminator

    torch.manual_seed(0)
    d = Discriminator((1, 8, 8), arch=arch, hidden=(16,), width=4, cond_dim=3).eval()
    with torch.no_grad():  # O(1) weights: the check is about the structure, not the small DCGAN init
        for p in d.parameters():
            p.normal_(0, 0.5)
    x = torch.rand(4, 1, 8, 8)
    c1, c2 = torch.randn(1, 3).expand(4, -1), torch.randn(1, 3).expand(4, -1)
    diff = d(x, c1) - d(x, c2)  # (4,)
    assert diff.std() > 1e-3 * diff.abs().mean()
