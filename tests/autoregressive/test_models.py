"""Correctness of every autoregressive model: no leaks, normalisation, samples follow log_prob,
fast sampling equals naive sampling."""

import math

import pytest
import torch
from scipy.stats import chi2

from genzoo.models.autoregressive._common import raster_index
from genzoo.objectives.nll import NLL
from genzoo.registry import get_model

MODEL_NAMES = ("independent", "fvsbn", "nade", "nade-oa", "pixelcnn", "pixelcnn-gated", "pixelrnn-row", "pixelrnn-diag")
LIKELIHOODS = ("bernoulli", "categorical")
CASES = [(m, lik) for m in MODEL_NAMES for lik in LIKELIHOODS]


def test_registered_as_autoregressive_nll_models():
    for name in MODEL_NAMES:
        entry = get_model(name)
        assert entry.family == "autoregressive"
        assert entry.objectives[0] == ("order-agnostic" if name == "nade-oa" else "nll")


def _raster_ids(shape, categorical, levels):
    ch, h, w = shape
    ids = torch.tensor([[[raster_index(shape, r, c, k) for c in range(w)] for r in range(h)]
                        for k in range(ch)])  # (C, H, W)
    return ids.expand(levels, ch, h, w) if categorical else ids


@pytest.mark.parametrize("name,likelihood", CASES + [(m, "logistic-mixture") for m in MODEL_NAMES[4:]])
@pytest.mark.parametrize("shape", [(1, 5, 6), (2, 3, 4), (3, 3, 3)])
def test_no_information_leaks(name, likelihood, shape, make_model):
    """d logits_i / d x_j == 0 exactly for every j >= i (raster order), and some j < i matters."""
    levels = 4
    if likelihood == "logistic-mixture" and shape[0] != 3:
        pytest.skip("the mixture is checked on RGB")
    wide = {"output_features": 12, "features": 12} if shape[0] > 1 and name.startswith("pixel") else {}
    wide = {**wide, "mixtures": 2} if likelihood == "logistic-mixture" else wide  # live ReLUs per group
    model = make_model(name, shape, likelihood, levels, std=0.5, **wide)
    x = torch.rand(3, *shape, dtype=torch.float64)  # examples are independent: sum their outputs
    jac = torch.autograd.functional.jacobian(lambda v: model(v).sum(0), x, vectorize=True)  # (*out, 3, C, H, W)
    per = model.out_per_pixel
    out_ids = _raster_ids(shape, likelihood != "bernoulli", per).flatten()  # (outputs,)
    jac = jac.reshape(out_ids.numel(), 3, -1).abs().sum(1)  # (outputs, D), inputs in (C, H, W) order
    in_ids = _raster_ids(shape, False, 1).flatten()
    later = in_ids.unsqueeze(0) >= out_ids.unsqueeze(1)  # (outputs, D)
    assert torch.all(jac[later] == 0)
    if name == "independent":
        assert torch.all(jac == 0)
        return
    d = math.prod(shape)
    dependence = torch.zeros(d, d, dtype=torch.float64)  # (pixel i, pixel j): sum of |d logit / d x|
    dependence.index_put_((out_ids.unsqueeze(1).expand_as(jac), in_ids.expand_as(jac)), jac,
                          accumulate=True)
    for i in range(1, d):
        assert dependence[i, :i].sum() > 0, f"pixel {i} depends on no earlier pixel"


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("shape", [(1, 2, 2), (1, 3, 3)])
def test_bernoulli_normalised(name, shape, make_model, all_images):
    model = make_model(name, shape, "bernoulli")
    with torch.no_grad():
        total = model.log_prob(all_images(shape, 2)).exp().sum()
    assert abs(total.item() - 1) < 1e-10


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("shape,levels", [((1, 1, 2), 5), ((1, 2, 2), 3)])
def test_categorical_normalised(name, shape, levels, make_model, all_images):
    model = make_model(name, shape, "categorical", levels)
    with torch.no_grad():
        total = model.log_prob(all_images(shape, levels)).exp().sum()
    assert abs(total.item() - 1) < 1e-10


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_categorical_256_last_pixel_sums_to_one(name, make_model):
    """8-bit data: sum over the 256 values of the last pixel of p(x) equals p(x_<D)."""
    shape = (1, 3, 3)
    model = make_model(name, shape, "categorical", 256, std=0.3)
    x = torch.randint(0, 256, (1, *shape)).double() / 255
    xs = x.repeat(256, 1, 1, 1)
    xs[:, 0, 2, 2] = torch.arange(256, dtype=torch.float64) / 255
    with torch.no_grad():
        lp_pixels = model.pixel_log_probs(xs)  # (256, 1, 3, 3)
    prefix = lp_pixels[0].flatten()[:-1].sum()
    assert torch.allclose(lp_pixels.flatten(1)[:, :-1].sum(1), prefix.expand(256))  # prefix unchanged
    assert abs(torch.logsumexp(lp_pixels[:, 0, 2, 2], 0).item()) < 1e-10


@pytest.mark.parametrize("name,likelihood", CASES)
def test_samples_follow_log_prob(name, likelihood, make_model, all_images, chi_square):
    """20k samples on a tiny problem: Pearson chi-square below its 0.999 quantile."""
    shape, levels = ((1, 2, 2), 2) if likelihood == "bernoulli" else ((1, 1, 2), 4)
    model = make_model(name, shape, likelihood, levels, seed=1)
    images = all_images(shape, levels)
    with torch.no_grad():
        probs = model.log_prob(images).exp()
    assert 0.5 * (probs - 1 / len(probs)).abs().sum() > 0.1  # far from uniform: the test has power
    n = 20_000
    samples = model.sample(n, generator=torch.Generator().manual_seed(2))
    codes = torch.round(samples.flatten(1) * (levels - 1)).long()  # (n, D)
    index = (codes * levels ** torch.arange(codes.shape[1] - 1, -1, -1)).sum(1)  # matches all_images order
    counts = torch.bincount(index, minlength=len(probs)).double()
    stat, dof = chi_square(counts, probs, n)
    assert stat < chi2.ppf(0.999, dof), (stat, dof)


@pytest.mark.parametrize("name,likelihood", CASES)
def test_fast_sampling_equals_naive(name, likelihood, make_model):
    shape = (1, 4, 5) if name.startswith("pixel") else (2, 3, 4)
    model = make_model(name, shape, likelihood, levels=5, std=0.5)
    fast = model.sample(12, generator=torch.Generator().manual_seed(3), fast=True)
    naive = model.sample(12, generator=torch.Generator().manual_seed(3), fast=False)
    assert fast.shape == (12, *shape)
    assert torch.equal(fast, naive)
    assert fast.min() >= 0 and fast.max() <= 1
    assert len(fast.unique()) > 1


@pytest.mark.parametrize("name,likelihood", CASES)
def test_shapes_and_pm1_scale(name, likelihood, make_model):
    shape = (1, 3, 4)
    levels = 5
    model = make_model(name, shape, likelihood, levels, std=0.5)
    x = torch.randint(0, levels if likelihood == "categorical" else 2, (3, *shape)).double()
    x = x / (levels - 1 if likelihood == "categorical" else 1)
    logits = model(x)
    expect = (3, levels, *shape) if likelihood == "categorical" else (3, *shape)
    assert logits.shape == expect
    lp = model.log_prob(x)
    assert lp.shape == (3,) and torch.all(lp < 0)
    pm1 = make_model(name, shape, likelihood, levels, std=0.5, input_scale="pm1")
    torch.testing.assert_close(pm1.log_prob(x * 2 - 1), lp)
    s = pm1.sample(4, generator=torch.Generator().manual_seed(0))
    assert s.min() >= -1 and s.max() <= 1 and (s < 0).any()
    with pytest.raises(ValueError):
        model.log_prob(torch.zeros(2, 1, 4, 3, dtype=torch.float64))


@pytest.mark.parametrize("name", ["pixelcnn", "pixelcnn-gated", "pixelrnn-row", "pixelrnn-diag"])
def test_too_few_features_for_the_channel_groups_rejected(name):
    entry = get_model(name)
    with pytest.raises(ValueError, match="data channels"):
        entry.model_cls(entry.config_cls(shape=(3, 8, 8), features=2))


def test_invalid_likelihood_rejected():
    entry = get_model("nade")
    with pytest.raises(ValueError, match="likelihood"):
        entry.model_cls(entry.config_cls(shape=(1, 4, 4), likelihood="gaussian"))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_nll_objective_trains(name, make_model):
    """A few Adam steps of the ``nll`` objective lower the NLL of a fixed tiny data set."""
    model = make_model(name, (1, 4, 4), randomize=False)
    x = (torch.rand(32, 1, 4, 4) < torch.linspace(0.1, 0.9, 16).reshape(1, 1, 4, 4)).double()
    objective = NLL()
    opt = torch.optim.Adam(model.parameters(), lr=3e-2)
    first = objective(model, {"x": x})["loss"].mean().item()
    for _ in range(25):
        opt.zero_grad()
        loss = objective(model, {"x": x})["loss"].mean()
        loss.backward()
        opt.step()
    assert loss.item() < first - 0.5


@pytest.mark.parametrize("likelihood", ["bernoulli", "categorical"])
def test_independent_init_from_data_is_the_maximum_likelihood_fit(likelihood):
    """After init_from_data the baseline sits at the (smoothed) per-pixel marginals, so a
    gradient step can hardly improve it."""
    from genzoo.training.run import build_model

    g = torch.Generator().manual_seed(0)
    probs = torch.rand(1, 3, 3, generator=g)
    x = (torch.rand(4000, 1, 3, 3, generator=g) < probs).float()
    if likelihood == "categorical":
        x = x * 2 / 4  # levels 0 and 2 of 5
    model = build_model("independent", (1, 3, 3), likelihood=likelihood, levels=5)
    before = -model.log_prob(x).mean()
    model.init_from_data(x)
    after = model.log_prob(x).mean().neg()
    assert after < before
    after.backward()
    assert model.logit.grad.abs().max() < 0.01 * 9


@pytest.mark.parametrize("name", ["independent", "fvsbn", "nade"])
@pytest.mark.parametrize("likelihood", ["bernoulli", "categorical"])
def test_init_from_data_starts_at_the_independent_fit(name, likelihood):
    """With zero (or tiny) weights, the data-initialised models give the independent-pixel NLL."""
    from genzoo.training.run import build_model

    g = torch.Generator().manual_seed(1)
    x = (torch.rand(500, 1, 3, 3, generator=g) < torch.rand(1, 3, 3, generator=g)).float()
    ref = build_model("independent", (1, 3, 3), likelihood=likelihood, levels=3)
    ref.init_from_data(x)
    model = build_model(name, (1, 3, 3), likelihood=likelihood, levels=3)
    model.init_from_data(x)
    assert torch.allclose(model.log_prob(x).mean(), ref.log_prob(x).mean(), atol=0.05)


def test_gated_pixelcnn_has_no_blind_spot_unlike_the_plain_stack(make_model):
    """Pixel (4, 0) given pixel (3, 4), up and to the right: a stack of masked 3x3 convolutions
    never sees it (each layer moves at most one column right per row up); the vertical stack does."""
    def influence(name, **kw):
        model = make_model(name, (1, 5, 5), "bernoulli", first_kernel=3, **kw)
        x = torch.rand(1, 1, 5, 5, dtype=torch.float64, requires_grad=True)
        model(x)[0, 0, 4, 0].backward()
        return x.grad[0, 0, 3, 4].abs().item(), x.grad[0, 0].abs()

    gated, grad = influence("pixelcnn-gated", layers=6)
    plain, _ = influence("pixelcnn", residual_blocks=6)
    assert gated > 0 and plain == 0
    assert torch.all(grad[:4] > 0)  # every pixel of the rows above matters
