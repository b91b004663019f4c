"""Short seeded training runs: the quantities each objective should move do move."""

from __future__ import annotations

import math

import torch

from genzoo.registry import get_model, get_objective


def digits(n: int = 512):
    from genzoo.data import DataConfig, load_dataset

    d = load_dataset(DataConfig(name="digits"))
    return d.train.x[:n], d.train.y[:n]


def run(model, obj, x, y, steps: int, bs: int = 64, lr: float = 2e-3, xb=None, seed: int = 0):
    """The trainer's loop in miniature: every player zeroes, back-propagates and steps in turn."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    opts = {p: torch.optim.Adam(list(obj.parameters(model, p)), lr=lr, betas=(0.5, 0.999)) for p in obj.players}
    history = []
    for _ in range(steps):
        idx = torch.randint(len(x), (bs,), generator=g)
        b = {"x": x[idx], "y": y[idx]}
        if xb is not None:
            b["x_b"] = xb[torch.randint(len(xb), (bs,), generator=g)]
        row = {}
        for player in obj.players:
            opts[player].zero_grad(set_to_none=True)
            out = obj(model, b, player=player, generator=g)
            out["loss"].mean().backward()
            opts[player].step()
            row.update({k: float(v.float().mean()) for k, v in out.items() if k != "loss"})
        history.append(row)
    return history


def mean_of(history, key, sl):
    vals = [h[key] for h in history[sl]]
    return sum(vals) / len(vals)


def test_infogan_mutual_information_bound_rises():
    x, y = digits()
    entry = get_model("infogan")
    torch.manual_seed(0)
    model = entry.model_cls(entry.config_cls(shape=(1, 8, 8), arch="mlp", noise_dim=8, g_hidden=(64,),
                                             d_hidden=(64,), q_hidden=32))
    obj = get_objective("infogan").objective_cls()
    hist = run(model, obj, x, y, steps=60)
    first, last = mean_of(hist, "mi_lower_bound", slice(0, 5)), mean_of(hist, "mi_lower_bound", slice(-5, None))
    # batches of 64: the bound's batch mean has sd < 0.3 nats; it must rise by more than 1 nat
    assert last > first + 1.0, (first, last)
    assert last <= math.log(10) + 2 * (math.log(2) - 0.5 * math.log(2 * math.pi)) + 1e-4  # its maximum


def mmd_rbf(a: torch.Tensor, b: torch.Tensor) -> float:
    """Biased squared MMD with an RBF kernel of bandwidth 1 (Gretton et al. 2012)."""
    def k(u, v):
        return torch.exp(-torch.cdist(u, v).pow(2) / 2).mean()

    return float(k(a, a) + k(b, b) - 2 * k(a, b))


def test_aae_codes_move_towards_prior():
    x, y = digits()
    entry = get_model("aae")
    torch.manual_seed(0)
    model = entry.model_cls(entry.config_cls(shape=(1, 8, 8), latent_dim=2, hidden=(64,), d_hidden=(64,)))
    obj = get_objective("aae").objective_cls()
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        before = mmd_rbf(model.encode(x), model.sample_prior(len(x), g))
    hist = run(model, obj, x, y, steps=300, lr=1e-3)
    with torch.no_grad():
        after = mmd_rbf(model.encode(x), model.sample_prior(len(x), g))
    # 512 vs 512 points: the MMD estimate's noise is ~0.01; the codes start far from N(0, I)
    assert after < 0.3 * before and after < before - 0.1, (before, after)
    assert mean_of(hist, "recon", slice(-10, None)) < mean_of(hist, "recon", slice(0, 10))


def test_cyclegan_cycle_loss_falls_and_pool_is_used():
    x, y = digits(256)
    xb = 1 - x  # domain B: the inverted digits
    entry = get_model("cyclegan")
    torch.manual_seed(0)
    model = entry.model_cls(entry.config_cls(shape=(1, 8, 8), width=8, res_blocks=1))
    obj = get_objective("cyclegan").objective_cls()
    hist = run(model, obj, x, y, steps=30, bs=16, lr=2e-3, xb=xb)
    first, last = mean_of(hist, "cycle", slice(0, 5)), mean_of(hist, "cycle", slice(-5, None))
    assert last < 0.7 * first, (first, last)
    assert len(obj.pool_a.images) == 50 and len(obj.pool_b.images) == 50


def test_image_pool_mixes_history():
    from genzoo.objectives.cycle import ImagePool

    pool = ImagePool(4)
    g = torch.Generator().manual_seed(0)
    first = pool.query(torch.zeros(4, 1, 2, 2), g)
    assert torch.equal(first, torch.zeros(4, 1, 2, 2))  # filling: the new images come back
    out = torch.cat([pool.query(torch.ones(4, 1, 2, 2), g) for _ in range(50)])
    old = (out == 0).all(dim=(1, 2, 3)).float().mean()
    # once full each image is swapped for a stored one with probability 1/2 (then old ones run out)
    assert 0 < old < 0.5
    state = pool.state_dict()
    other = ImagePool(4)
    other.load_state_dict(state)
    assert torch.equal(torch.stack(other.images), torch.stack(pool.images))


def test_gan_trains_through_the_trainer(tmp_path):
    """End to end through genzoo.train: both optimizers step, the epoch hook runs, samples are written."""
    import genzoo
    from genzoo.data import DataConfig
    from genzoo.training.trainer import TrainConfig

    model, metrics = genzoo.train(
        "gan", data_config=DataConfig(name="digits", limit=200), out_dir=tmp_path / "run",
        model_config=get_model("gan").config_cls(noise_dim=4, g_hidden=(16,), d_hidden=(16,)),
        train_config=TrainConfig(epochs=1, batch_size=50, lr=2e-4, betas=(0.5, 0.999), progress=False,
                                 eval_batch_size=100), command="test")
    assert "train_loss_discriminator" in metrics and "train_loss_generator" in metrics
    assert 0 < metrics["train_d_real"] < 1
    assert (tmp_path / "run" / "samples.png").exists()
    again = genzoo.load(tmp_path / "run")
    g = torch.Generator().manual_seed(0)
    assert torch.equal(again.sample(3, generator=g), model.eval().sample(3, generator=torch.Generator().manual_seed(0)))


def test_generator_learning_rate_applies_to_the_generator_player_only():
    from genzoo.data import DataConfig, load_dataset
    from genzoo.objectives.adversarial import GANObjective
    from genzoo.training.trainer import TrainConfig, Trainer

    model = get_model("gan").model_cls(get_model("gan").config_cls(shape=(1, 8, 8), noise_dim=4, g_hidden=(8,),
                                                                   d_hidden=(8,)))
    trainer = Trainer(model, GANObjective(), load_dataset(DataConfig(name="digits", limit=50)),
                      TrainConfig(lr=2e-4, generator_lr=1e-3, progress=False))
    trainer._setup()
    assert trainer.optimizers["generator"].param_groups[0]["lr"] == 1e-3
    assert trainer.optimizers["discriminator"].param_groups[0]["lr"] == 2e-4


def test_resume_is_exact(tmp_path):
    """Two epochs in one go == one epoch, then --resume to two (noise comes only from the trainer's generator)."""
    import genzoo
    from genzoo.data import DataConfig
    from genzoo.training import checkpoint as ckpt
    from genzoo.training.trainer import TrainConfig

    cfg = get_model("infogan").config_cls(noise_dim=4, width=4, q_hidden=8)

    def train(out, epochs, resume=False):
        return genzoo.train("infogan", data_config=DataConfig(name="digits", limit=96), out_dir=out, model_config=cfg,
                            train_config=TrainConfig(epochs=epochs, batch_size=32, progress=False, validate=False,
                                                     sample_every=0), resume=resume, command="test")

    straight, _ = train(tmp_path / "a", 2)
    train(tmp_path / "b", 1)
    resumed, _ = train(tmp_path / "b", 2, resume=True)
    a = ckpt.load_checkpoint(tmp_path / "a" / ckpt.CHECKPOINT_FILE, map_location="cpu")["model"]
    b = ckpt.load_checkpoint(tmp_path / "b" / ckpt.CHECKPOINT_FILE, map_location="cpu")["model"]
    for k in a:
        assert torch.equal(a[k], b[k]), k
