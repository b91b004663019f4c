"""The trainer's fast paths compute what the plain ones do: the fused (or foreach) optimizer updates
against torch's per-parameter loop, and the windowed NaN check and running means against a check
after every step."""

import inspect

import pytest
import torch

from genzoo.data import load_dataset
from genzoo.training import TrainConfig, Trainer
from genzoo.training import trainer as trainer_mod
from genzoo.training.run import build_model, build_objective

OPTIMIZERS = ("adam", "adamw", "adagrad", "sgd", "rmsprop")


def _reference(fast: torch.optim.Optimizer, params) -> torch.optim.Optimizer:
    """The same optimizer, hyperparameters and all, on torch's per-parameter loop."""
    accepted = inspect.signature(type(fast)).parameters
    kw = {k: v for k, v in fast.defaults.items() if k in accepted and k not in ("fused", "foreach")}
    return type(fast)(params, **kw, foreach=False, **({"fused": False} if "fused" in accepted else {}))


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_the_fast_update_is_the_per_parameter_update_up_to_rounding(name):
    torch.manual_seed(0)
    fast_params = [torch.nn.Parameter(torch.randn(37, 29)), torch.nn.Parameter(torch.randn(29))]
    slow_params = [torch.nn.Parameter(p.detach().clone()) for p in fast_params]
    t = Trainer.__new__(Trainer)
    t.config = TrainConfig(optimizer=name, lr=1e-2, weight_decay=1e-3)
    fast = t._make_optimizer(fast_params)
    slow = _reference(fast, slow_params)
    assert fast.param_groups[0].get("fused") or fast.param_groups[0].get("foreach")
    if name == "adam":
        assert fast.param_groups[0]["fused"]  # torch >= 2.4 has a fused Adam on the CPU
    g = torch.Generator().manual_seed(1)
    for _ in range(30):
        grads = [torch.randn(p.shape, generator=g) for p in fast_params]
        for params, opt in ((fast_params, fast), (slow_params, slow)):
            for p, gr in zip(params, grads):
                p.grad = gr.clone()
            opt.step()
    for a, b in zip(fast_params, slow_params):
        # 30 updates of size ~lr; float32 rounding of each is ~1e-7 relative
        torch.testing.assert_close(a.detach(), b.detach(), rtol=1e-5, atol=1e-6)
    assert not torch.equal(fast_params[0].detach(), torch.randn(37, 29, generator=torch.Generator().manual_seed(0)))


def _fit(data, monkeypatch, check_every: int, plain_optimizer: bool = False):
    monkeypatch.setattr(trainer_mod, "CHECK_EVERY", check_every)
    if plain_optimizer:
        monkeypatch.setattr(trainer_mod, "_fast_optimizer", lambda cls, params, **kw: cls(params, **kw, foreach=False))
    torch.manual_seed(0)
    model = build_model("vae", data.shape, hidden=(32,), latent_dim=4)
    cfg = TrainConfig(epochs=2, batch_size=30, progress=False, sample_every=0, validate=False, device="cpu")
    trainer = Trainer(model, build_objective("elbo"), data, cfg, log=lambda m: None)
    trainer.fit()
    return model.state_dict(), trainer.history


def test_windowed_checks_train_exactly_as_per_step_checks(tiny_data, monkeypatch):
    data = load_dataset(tiny_data)  # 400 examples, batch 30: 14 steps per epoch (the last of 10)
    every_step, h1 = _fit(data, monkeypatch, 1)
    windowed, h5 = _fit(data, monkeypatch, 5)  # windows of 5, 5, 4 steps
    for k in every_step:
        assert torch.equal(every_step[k], windowed[k]), k
    for a, b in zip(h1, h5):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-12)
        assert a["train_neg_elbo"] == pytest.approx(b["train_neg_elbo"], rel=1e-12)


def test_training_with_the_fast_optimizer_matches_the_plain_one(tiny_data, monkeypatch):
    data = load_dataset(tiny_data)
    fast, h_fast = _fit(data, monkeypatch, 25)
    plain, h_plain = _fit(data, monkeypatch, 25, plain_optimizer=True)
    for k in fast:  # 28 Adam steps at lr 1e-3 through the nets: rounding differences stay ~1e-6
        torch.testing.assert_close(fast[k], plain[k], rtol=1e-4, atol=1e-5)
    assert h_fast[-1]["train_loss"] == pytest.approx(h_plain[-1]["train_loss"], rel=1e-5)
