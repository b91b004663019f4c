"""One API across families: every registered model's ``sample(n, *, generator, condition)`` returns
exactly n samples, density models answer ``log_prob(x, *, k, generator)`` and say whether it is
exact, and a CPU generator drives a model on another device."""

import pytest
import torch

from genzoo.models.base import check_count
from genzoo.registry import MODELS, _import_all
from genzoo.training.run import build_model

_import_all()
SHAPE = (1, 8, 8)
SMALL = {"text2image": dict(width=4, word_dim=4, text_dim=4), "infogan": dict(width=4, q_hidden=8, fc=16),
         "dcgan": dict(width=4), "cgan": dict(g_hidden=(16,), d_hidden=(16,)), "vae-vamp": dict(pseudo_inputs=5)}


def _model(name):
    torch.manual_seed(0)
    return build_model(name, SHAPE, **SMALL.get(name, {})).eval()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_sample_returns_exactly_n_seeded_samples_in_data_space(name):
    model = _model(name)
    if not model.can_sample:
        with pytest.raises(NotImplementedError):
            model.sample(3)
        return
    a = model.sample(3, generator=torch.Generator().manual_seed(1))
    b = model.sample(3, generator=torch.Generator().manual_seed(1), condition=None)
    assert a.shape == (3, *SHAPE) and torch.equal(a, b)
    assert float(a.min()) >= 0 and float(a.max()) <= 1
    if model.condition_type is None:
        with pytest.raises(ValueError, match="unconditional"):
            model.sample(2, condition=1)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_log_prob_takes_k_and_generator_and_says_if_it_is_exact(name):
    model = _model(name)
    x = torch.rand(2, *SHAPE, generator=torch.Generator().manual_seed(0)).bernoulli()
    assert (model.likelihood_type in ("bernoulli", "categorical", "gaussian")) == model.has_likelihood
    if not model.has_likelihood:
        with pytest.raises(NotImplementedError):
            model.log_prob(x, k=3, generator=torch.Generator())
        return
    with torch.no_grad():
        lp = model.log_prob(x, k=3, generator=torch.Generator().manual_seed(0))
        again = model.log_prob(x, k=3, generator=torch.Generator().manual_seed(0))
    assert lp.shape == (2,) and torch.isfinite(lp).all() and torch.equal(lp, again)
    assert model.exact_likelihood == (model.default_k is None)
    if model.exact_likelihood:  # k and generator do not change an exact likelihood
        assert torch.equal(model.log_prob(x, k=50, generator=torch.Generator().manual_seed(9)), lp)


@pytest.mark.parametrize("bad", [0, -2, 2.5, True])
def test_sample_count_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match="positive integer"):
        check_count(bad)


def _strict(draw):
    """``draw`` with the check CUDA makes: a generator fills tensors on its own device only."""
    def checked(*args, generator=None, device=None, **kw):
        if generator is not None and device is not None and torch.device(device) != generator.device:
            raise RuntimeError(f"generator on {generator.device} cannot draw on {device}")
        return draw(*args, generator=generator, device=device, **kw)
    return checked


@pytest.mark.parametrize("name", ["independent", "fvsbn", "nade", "pixelcnn", "vae", "vae-vamp", "gan", "infogan"])
def test_a_cpu_generator_drives_a_model_on_another_device(name, monkeypatch):
    """The noise is drawn on the generator's device and moved to the model's. "meta" stands in for
    CUDA, with torch's draws made as strict about the generator's device as CUDA's are."""
    model = _model(name).to("meta")
    for fn in ("rand", "randn", "randint"):
        monkeypatch.setattr(torch, fn, _strict(getattr(torch, fn)))
    out = model.sample(2, generator=torch.Generator().manual_seed(0))
    assert out.shape == (2, *SHAPE) and out.device.type == "meta"
