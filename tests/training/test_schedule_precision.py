"""Learning-rate schedules across resumes, RMSprop and the Keras VAE loss, mixed precision, --compile."""

import csv
import math
import shutil

import pytest
import torch

from genzoo.data import load_dataset
from genzoo.training import TrainConfig, Trainer
from genzoo.training.run import build_model, build_objective, train
from genzoo.training.trainer import lr_factor


def _cfg(**kw):
    return TrainConfig(**{"epochs": 2, "batch_size": 50, "progress": False, "sample_every": 0, **kw})


def _lrs(run):
    return [float(r["lr"]) for r in csv.DictReader(open(run / "metrics.csv"))]


def test_lr_factor_values():
    c = TrainConfig(schedule="cosine", epochs=4)
    assert [lr_factor(c, t) for t in range(5)] == pytest.approx([1, (1 + math.sqrt(0.5)) / 2, 0.5,
                                                                (1 - math.sqrt(0.5)) / 2, 0], abs=1e-15)
    assert lr_factor(c, 7) == 0.0
    assert lr_factor(c, 3, (2, 0.5, 6)) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)) / 2)
    s = TrainConfig(schedule="step", lr_step=2, lr_gamma=0.1)
    assert [lr_factor(s, t) for t in range(5)] == pytest.approx([1, 1, 0.1, 0.1, 0.01])
    assert lr_factor(TrainConfig(schedule="exponential", lr_gamma=0.5), 3) == 0.125
    assert lr_factor(TrainConfig(), 99) == 1.0


def test_cosine_resume_is_exact_and_an_extension_never_raises_the_lr(tmp_path, tiny_data):
    full, part = tmp_path / "full", tmp_path / "part"
    train("vae", data_config=tiny_data, out_dir=full, train_config=_cfg(epochs=5, schedule="cosine"))
    train("vae", data_config=tiny_data, out_dir=part, train_config=_cfg(epochs=5, schedule="cosine", max_steps=24))
    assert len(_lrs(part)) == 3  # 8 steps per epoch: stopped after epoch 3
    train("vae", data_config=tiny_data, out_dir=part, resume=True,
          train_config=_cfg(epochs=5, schedule="cosine"))
    a = torch.load(full / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(part / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)  # same horizon: bitwise the uninterrupted run
    assert _lrs(part) == _lrs(full)
    # stop at epoch 3 of 5, then extend to 8: the rest of the decay is re-planned from lr(3) to 0 at 8
    ext = tmp_path / "ext"
    train("vae", data_config=tiny_data, out_dir=ext, train_config=_cfg(epochs=5, schedule="cosine", max_steps=24))
    train("vae", data_config=tiny_data, out_dir=ext, resume=True, train_config=_cfg(epochs=8, schedule="cosine"))
    lrs = _lrs(ext)
    f3 = (1 + math.cos(3 * math.pi / 5)) / 2
    expected = [1e-3 * (1 + math.cos(math.pi * t / 5)) / 2 for t in range(3)]
    expected += [1e-3 * f3 * (1 + math.cos(math.pi * (t - 3) / 5)) / 2 for t in range(3, 8)]
    assert lrs == pytest.approx(expected, rel=1e-12)
    assert all(b <= a for a, b in zip(lrs, lrs[1:]))
    # a finished cosine run ends at lr 0; extending it keeps 0 (it never climbs back)
    train("vae", data_config=tiny_data, out_dir=full, resume=True, train_config=_cfg(epochs=7, schedule="cosine"))
    assert _lrs(full)[5:] == [0.0, 0.0]


def test_rmsprop_matches_keras_update():
    """One RMSprop step equals Keras's rule: a = rho a + (1 - rho) g^2; p -= lr g / (sqrt(a) + eps)."""
    from genzoo.training.trainer import Trainer as T

    p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 3.0]))
    opt = T.__new__(T)
    opt.config = TrainConfig(optimizer="rmsprop", lr=0.01)
    o = opt._make_optimizer([p])
    g = torch.tensor([0.5, -1e-4, 2.0])
    p.grad = g.clone()
    o.step()
    a = 0.1 * g**2
    assert torch.allclose(p.detach(), torch.tensor([1.0, -2.0, 3.0]) - 0.01 * g / (a.sqrt() + 1e-7), atol=1e-7)


def test_the_keras_vae_loss_is_elbo_with_beta_0392_per_pixel():
    """Chollet's Keras VAE (Deep Learning with Python, 8.4): per batch,
    mean(binary_crossentropy over pixels) + mean_i(-5e-4 * mean_j(1 + logvar - mu^2 - exp(logvar))).
    The bracket is -2 KL_j, so with a d = 2 latent this is (BCE_sum + 784 * 5e-4 * 2/2 * KL) / 784:
    beta = 0.392 with the loss divided by D = 784 (--beta 0.392 --per-dim true)."""
    from genzoo.objectives.elbo import ELBOConfig

    torch.manual_seed(0)
    model = build_model("vae-conv", (1, 28, 28)).eval()
    x = torch.rand(6, 1, 28, 28)  # grey values, as the Keras example trains on
    obj = build_objective("elbo", ELBOConfig(beta=0.392, per_dim=True))
    ours = obj(model, {"x": x}, generator=torch.Generator().manual_seed(1))["loss"].mean()
    # the Keras loss, transcribed (same posterior draw: the same generator seed)
    q = model.posterior(x)
    mu, logvar = q.mean, q.logvar
    z = q.rsample((1,), torch.Generator().manual_seed(1))[0]
    probs = model.likelihood(z).mean.flatten()
    xent = torch.nn.functional.binary_cross_entropy(probs, x.flatten())  # Keras flattens the whole batch
    kl = -5e-4 * torch.mean(1 + logvar - mu**2 - logvar.exp(), dim=-1)
    keras = torch.mean(xent + kl)
    assert ours.item() == pytest.approx(keras.item(), rel=1e-5)


def _one_batch_loss(data, amp: str):
    model = build_model("vae", data.shape, hidden=(64,), latent_dim=4)
    torch.manual_seed(0)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.2)
    t = Trainer(model, build_objective("elbo"), data, _cfg(amp=amp, device="cpu"))
    t._setup()
    with torch.autocast("cpu", dtype=t.amp_dtype, enabled=t.amp_dtype is not None):
        out = t.step_module({"x": t.data.train.x[:200]}, "model", torch.Generator().manual_seed(0))
    return out["loss"].float().mean().item()


@pytest.mark.parametrize("amp,tolerance", [("bf16", 2e-2), ("fp16", 2e-3)])
def test_mixed_precision_is_close_to_fp32(tiny_data, tmp_path, amp, tolerance):
    """Autocast against fp32 on the same weights and batch. bf16 keeps 8 significant bits (relative
    rounding 2^-9 per op) and fp16 11; over a 64-pixel sum and two small matmuls the loss stays
    within 2% (bf16) and 0.2% (fp16) -- measured errors are about a tenth of that."""
    data = load_dataset(tiny_data)
    ref = _one_batch_loss(data, "none")
    low = _one_batch_loss(data, amp)
    assert low != ref  # autocast was really on
    assert abs(low - ref) / abs(ref) < tolerance
    # and a whole (short) run trains to the fp32 run's validation bound within the same tolerance
    _, m32 = train("vae", data_config=tiny_data, out_dir=tmp_path / "fp32", train_config=_cfg(epochs=1))
    _, mlow = train("vae", data_config=tiny_data, out_dir=tmp_path / amp, train_config=_cfg(epochs=1, amp=amp))
    assert abs(mlow["valid_neg_elbo"] - m32["valid_neg_elbo"]) / m32["valid_neg_elbo"] < tolerance


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None,
                    reason="torch.compile (inductor) needs a C compiler on the CPU")
def test_compile_trains_to_the_same_weights(tmp_path, tiny_data):
    cfg = _cfg(epochs=1, max_steps=3, validate=False, device="cpu")
    # the smallest model: inductor's code generation takes most of a minute on a slow CPU for bigger graphs
    train("independent", data_config=tiny_data, out_dir=tmp_path / "eager", train_config=cfg)
    train("independent", data_config=tiny_data, out_dir=tmp_path / "compiled", train_config=TrainConfig(
        **{**cfg.__dict__, "compile": True}))
    a = torch.load(tmp_path / "eager" / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "compiled" / "checkpoint.pt", weights_only=True)["model"]
    # inductor may fuse and reorder float operations: equal up to float32 rounding after 3 steps
    assert all(torch.allclose(a[k], b[k], rtol=1e-4, atol=1e-6) for k in a)
    assert any(not torch.equal(a[k], torch.zeros_like(a[k])) for k in a)
