"""Colour: RGB channel masks, the discretized logistic mixture, 8-bit targets per batch and the
conditional gated PixelCNN. (The RGB Jacobian leak test is ``test_no_information_leaks`` with
shape (3, 3, 3) in test_models.py.)"""

import math

import pytest
import torch
import torch.nn.functional as F
from scipy.stats import chi2

from genzoo.models.autoregressive._common import to_raster
from genzoo.nn.discretized import LogisticMixture, discretized_logistic_log_prob, to_levels
from genzoo.objectives.nll import NLL
from genzoo.registry import get_model

PIXEL_MODELS = ("pixelcnn", "pixelcnn-gated", "pixelrnn-row", "pixelrnn-diag")
MIXTURE_MODELS = ("independent", "fvsbn", "nade", *PIXEL_MODELS)
WIDE = {"features": 12, "output_features": 12}  # a few live features per channel group


def _index(images: torch.Tensor, levels: int) -> torch.Tensor:
    """Position of each image in the all_images enumeration (C, H, W order, first dim slowest)."""
    codes = torch.round(images.flatten(1) * (levels - 1)).long()
    return (codes * levels ** torch.arange(codes.shape[1] - 1, -1, -1)).sum(1)


# ----------------------------------------------------------------------------- the likelihood itself


def test_discretized_logistic_sums_to_one_over_256_values_including_edges():
    k = torch.arange(256).unsqueeze(1)  # (256, 1)
    mean = torch.tensor([-1.5, -1.0, -0.3, 0.0, 0.999, 1.0, 2.0, 0.5, 0.5, -0.9], dtype=torch.float64)
    log_s = torch.tensor([0.0, -3.0, -7.0, -10.0, -5.0, 1.0, 2.0, -7.0, 3.0, -6.0], dtype=torch.float64)
    lp = discretized_logistic_log_prob(k, mean, log_s, 256)  # (256, 10)
    assert torch.isfinite(lp).all()
    torch.testing.assert_close(lp.logsumexp(0), torch.zeros(10, dtype=torch.float64), atol=1e-12, rtol=0)
    # edges: the first bin holds all the mass below -1 + 1/255, the last all above 1 - 1/255
    s = math.exp(-3.0)
    assert lp[0, 1].item() == pytest.approx(math.log(1 / (1 + math.exp(-(1 / 255) / s))), rel=1e-12)
    assert lp[255, 5].item() == pytest.approx(-math.log1p(math.exp((1 - 1 / 255 - 1.0) / math.e)), rel=1e-12)


def test_discretized_logistic_stable_in_float32_against_float64():
    """Interior bins under a narrow logistic, far tails and the edges: float32 agrees with float64
    (no log(0), no cancellation), where log(sigma(a) - sigma(b)) computed naively fails."""
    k = torch.tensor([0, 1, 128, 200, 254, 255])
    mean = torch.tensor([0.0039, -0.99, 0.9, -0.5, 0.995, -1.0])
    log_s = torch.tensor([-7.0, -6.0, -5.0, -7.0, -7.0, -4.0])
    lp32 = discretized_logistic_log_prob(k, mean, log_s, 256)
    lp64 = discretized_logistic_log_prob(k, mean.double(), log_s.double(), 256)
    assert torch.isfinite(lp32).all()
    torch.testing.assert_close(lp32.double(), lp64, rtol=1e-5, atol=1e-4)
    y, half, s = k.double() / 127.5 - 1, 1 / 255, log_s.double().exp()
    naive = torch.log(torch.sigmoid((y + half - mean) / s) - torch.sigmoid((y - half - mean) / s))
    assert not torch.isfinite(naive).all()  # the naive formula underflows somewhere here


def test_mixture_sums_to_one_over_every_colour_at_small_levels():
    """The joint p(r, g, b) = p(r) p(g | r) p(b | r, g) of one pixel sums to 1 over all L^3
    colours, and log_prob agrees with the all-level conditionals."""
    levels, mix = 5, LogisticMixture(3, 3, 5)
    gen = torch.Generator().manual_seed(0)
    params = torch.randn(1, mix.num_params, 3, 1, 1, generator=gen, dtype=torch.float64) * 2  # one pixel
    colours = torch.cartesian_prod(*[torch.arange(levels)] * 3)  # (125, 3)
    k = colours.reshape(-1, 3, 1, 1)
    lp = mix.log_prob(params.expand(len(k), -1, -1, -1, -1), k).sum((1, 2, 3))  # (125,)
    assert abs(lp.exp().sum().item() - 1) < 1e-12
    every = mix.all_levels(params.expand(len(k), -1, -1, -1, -1), k)  # (125, L, 3, 1, 1)
    torch.testing.assert_close(every.gather(1, k.unsqueeze(1))[:, 0].sum((1, 2, 3)), lp)
    # G's distribution moves with R (linear dependence), R's does not depend on G or B
    r_given = every[:, :, 0, 0, 0]
    assert torch.allclose(r_given, r_given[:1].expand_as(r_given))
    g_given = every[:, :, 1, 0, 0]
    assert not torch.allclose(g_given[0], g_given[-1])


def test_mixture_as_a_decoder_likelihood():
    """What a conv VAE decoder does with it: maps (B, C * P, H, W) -> a normalised p(x | z) over
    8-bit images, and channel-by-channel samples that follow it (the sampled levels' mean matches
    the mixture's expected level within 5 standard errors)."""
    mix = LogisticMixture(3, 2, 256)
    gen = torch.Generator().manual_seed(0)
    maps = torch.randn(1, 3 * mix.num_params, 1, 1, generator=gen, dtype=torch.float64)
    params = mix.from_maps(maps)  # (1, P, 3, 1, 1)
    assert params.shape == (1, mix.num_params, 3, 1, 1)
    torch.testing.assert_close(params[0, :, 1, 0, 0], maps[0, mix.num_params: 2 * mix.num_params, 0, 0])
    n = 4000
    k = mix.sample(params.expand(n, -1, -1, -1, -1), torch.rand(n, 3, 1, 1, generator=gen, dtype=torch.float64))
    every = mix.all_levels(params, torch.zeros(1, 3, 1, 1, dtype=torch.long))[0, :, 0, 0, 0].exp()  # R: (256,)
    mean = (every * torch.arange(256)).sum().item()
    sd = math.sqrt((every * (torch.arange(256) - mean) ** 2).sum().item() / n)
    assert abs(k[:, 0].double().mean().item() - mean) < 5 * sd
    with pytest.raises(ValueError, match="maps"):
        mix.from_maps(torch.zeros(1, 5, 1, 1))


def test_to_levels_refuses_dequantized_data():
    x = torch.tensor([0.0, 3 / 255, 1.0])
    assert to_levels(x, 256).tolist() == [0, 3, 255]
    assert to_levels(x * 2 - 1, 256, "pm1").tolist() == [0, 3, 255]
    with pytest.raises(ValueError, match="256-level grid"):
        to_levels(x + 0.4 / 255, 256)


# ----------------------------------------------------------------------------- models in RGB


@pytest.mark.parametrize("name", MIXTURE_MODELS)
@pytest.mark.parametrize("likelihood,levels", [("categorical", 2), ("logistic-mixture", 2), ("logistic-mixture", 3)])
def test_rgb_normalised_by_enumeration(name, likelihood, levels, make_model, all_images):
    """Sum of p(x) over all 3x2x2 images (3x1x2 at 3 levels) is 1."""
    shape = (3, 2, 2) if levels == 2 else (3, 1, 2)
    kw = {**(WIDE if name in PIXEL_MODELS else {}), **({"mixtures": 2} if likelihood != "categorical" else {})}
    model = make_model(name, shape, likelihood, levels, std=0.5, **kw)
    with torch.no_grad():
        total = model.log_prob(all_images(shape, levels)).exp().sum()
    assert abs(total.item() - 1) < 1e-10


@pytest.mark.parametrize("name", PIXEL_MODELS)
@pytest.mark.parametrize("likelihood", ["bernoulli", "categorical", "logistic-mixture"])
def test_rgb_fast_sampling_equals_naive(name, likelihood, make_model):
    model = make_model(name, (3, 3, 4), likelihood, levels=5, std=0.5, mixtures=2, **WIDE)
    fast = model.sample(6, generator=torch.Generator().manual_seed(3), fast=True)
    naive = model.sample(6, generator=torch.Generator().manual_seed(3), fast=False)
    assert fast.shape == (6, 3, 3, 4) and torch.equal(fast, naive) and len(fast.unique()) > 1


@pytest.mark.parametrize("name", PIXEL_MODELS)
@pytest.mark.parametrize("likelihood", ["categorical", "logistic-mixture"])
def test_rgb_samples_follow_log_prob(name, likelihood, make_model, all_images, chi_square):
    """8,000 samples of 3x1x2 binary-level images (64 outcomes): Pearson chi-square below its
    0.999 quantile."""
    shape, levels, n = (3, 1, 2), 2, 8000
    model = make_model(name, shape, likelihood, levels, seed=1, std=0.7, mixtures=2, **WIDE)
    images = all_images(shape, levels)
    with torch.no_grad():
        probs = model.log_prob(images).exp()
    assert 0.5 * (probs - 1 / len(probs)).abs().sum() > 0.1  # far from uniform: the test has power
    samples = model.sample(n, generator=torch.Generator().manual_seed(2))
    counts = torch.bincount(_index(samples, levels), minlength=len(probs)).double()
    stat, dof = chi_square(counts, probs, n)
    assert stat < chi2.ppf(0.999, dof), (stat, dof)


@pytest.mark.parametrize("name", PIXEL_MODELS)
def test_mixture_conditionals_ignore_later_subpixels(name, make_model):
    """With the likelihood included (the linear dependence on earlier channels reads the levels,
    which autograd cannot see): changing sub-pixel j leaves every conditional p(x_i = . | x_<i),
    i <= j, exactly unchanged, in raster order with channels last."""
    shape, levels = (3, 2, 2), 4
    model = make_model(name, shape, "logistic-mixture", levels, std=0.5, mixtures=2, **WIDE)
    x = torch.randint(0, levels, (1, *shape)).double() / (levels - 1)
    with torch.no_grad():
        full = model.conditional_log_probs(x).permute(0, 3, 4, 2, 1).reshape(1, -1, levels)  # (1, D, L)
        d = full.shape[1]
        changed_later = 0
        for j in range(d):
            r, rest = divmod(j, shape[2] * shape[0])
            c, ch = divmod(rest, shape[0])
            y = x.clone()
            y[0, ch, r, c] = ((y[0, ch, r, c] * (levels - 1) + 1) % levels) / (levels - 1)
            new = model.conditional_log_probs(y).permute(0, 3, 4, 2, 1).reshape(1, -1, levels)
            assert torch.equal(new[:, : j + 1], full[:, : j + 1]), f"sub-pixel {j} leaks"
            changed_later += int(not torch.equal(new[:, j + 1:], full[:, j + 1:]))
    assert changed_later >= d // 2  # and later conditionals do read it


def test_categorical_targets_are_counted_per_batch_not_one_hot():
    """marginal_logits counts levels chunk by chunk (no dataset-wide one-hot): same result as the
    one-hot count on 3,000 8-bit RGB examples, more than one chunk."""
    entry = get_model("independent")
    model = entry.model_cls(entry.config_cls(shape=(3, 2, 2), likelihood="categorical", levels=256))
    x = torch.randint(0, 256, (3000, 3, 2, 2)).float() / 255
    counts = F.one_hot(to_raster(torch.round(x * 255).long()), 256).sum(0).double()  # (12, 256)
    expect = torch.log((counts + 1) / (3000 + 256)).float()
    torch.testing.assert_close(model.marginal_logits(x), expect)


def test_dequantized_input_refused_by_discrete_likelihoods(make_model):
    model = make_model("pixelcnn", (3, 2, 2), "logistic-mixture", 256, mixtures=2, **WIDE)
    x = torch.randint(0, 256, (2, 3, 2, 2)).double() / 255
    assert torch.isfinite(model.log_prob(x)).all()
    with pytest.raises(ValueError, match="dequantize"):
        model.log_prob(x + torch.rand_like(x) / 256)


def test_order_agnostic_nade_refuses_the_mixture():
    entry = get_model("nade-oa")
    with pytest.raises(ValueError, match="logistic-mixture"):
        entry.model_cls(entry.config_cls(shape=(3, 2, 2), likelihood="logistic-mixture"))


# ----------------------------------------------------------------------------- conditional gated PixelCNN


def test_conditional_samples_follow_the_conditional_distribution(make_model, all_images, chi_square):
    """For each label y, samples drawn with condition=y follow log_prob(x, condition=y)
    (chi-square), and the two conditionals differ."""
    shape, levels, n = (3, 1, 1), 3, 6000
    model = make_model("pixelcnn-gated", shape, "categorical", levels, seed=4, std=0.8, classes=2, **WIDE)
    images = all_images(shape, levels)
    with torch.no_grad():
        probs = [model.log_prob(images, condition=torch.full((len(images),), y)).exp() for y in (0, 1)]
    assert abs(probs[0].sum().item() - 1) < 1e-10 and abs(probs[1].sum().item() - 1) < 1e-10
    assert 0.5 * (probs[0] - probs[1]).abs().sum() > 0.1
    for y in (0, 1):
        samples = model.sample(n, generator=torch.Generator().manual_seed(y), condition=y)
        counts = torch.bincount(_index(samples, levels), minlength=len(images)).double()
        stat, dof = chi_square(counts, probs[y], n)
        assert stat < chi2.ppf(0.999, dof), (y, stat, dof)


def test_conditional_gated_pixelcnn_learns_labels_through_the_nll_objective(make_model):
    """Class 0 = dark images, class 1 = bright: after training on batch['y'], samples with each
    label follow it (binomial tolerance on 2 x 200 samples x 4 pixels)."""
    torch.manual_seed(0)
    model = make_model("pixelcnn-gated", (1, 2, 2), "bernoulli", randomize=False, classes=2, features=8)
    y = torch.arange(64) % 2
    x = (torch.rand(64, 1, 2, 2) < (0.1 + 0.8 * y.double()).reshape(-1, 1, 1, 1)).double()
    objective, opt = NLL(), torch.optim.Adam(model.parameters(), lr=5e-2)
    for _ in range(60):
        opt.zero_grad()
        objective(model, {"x": x, "y": y})["loss"].mean().backward()
        opt.step()
    with torch.no_grad():
        dark = model.sample(200, generator=torch.Generator().manual_seed(0), condition=0).mean().item()
        bright = model.sample(200, generator=torch.Generator().manual_seed(1), condition=1).mean().item()
    sd = math.sqrt(0.25 / 800)  # worst-case sd of a mean of 800 pixels
    assert dark < 0.1 + 0.1 + 5 * sd and bright > 0.9 - 0.1 - 5 * sd
    with pytest.raises(ValueError, match="conditional"):
        model.log_prob(x)  # no label: refused
    with pytest.raises(ValueError, match="labels must lie"):
        model.sample(2, condition=5)


def test_vector_condition(make_model):
    model = make_model("pixelcnn-gated", (1, 2, 2), "bernoulli", std=0.5, condition_dim=3)
    h = torch.randn(4, 3, dtype=torch.float64)
    x = torch.randint(0, 2, (4, 1, 2, 2)).double()
    lp = model.log_prob(x, condition=h)
    assert lp.shape == (4,) and not torch.allclose(lp, model.log_prob(x, condition=h.flip(0)))
    assert model.sample(4, condition=h, generator=torch.Generator().manual_seed(0)).shape == (4, 1, 2, 2)
    with pytest.raises(ValueError, match="shape"):
        model.sample(4, condition=torch.randn(4, 2))


@pytest.mark.parametrize("name", PIXEL_MODELS)
def test_init_from_data_puts_the_output_bias_at_each_channels_marginal(name):
    """With the last layer's weights at zero, every sub-pixel's distribution is its channel's
    smoothed level frequency over the training set, pooled over positions."""
    from genzoo.training.run import build_model

    model = build_model(name, (3, 2, 3), likelihood="categorical", levels=4, features=12, output_features=12)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 4, (500, 3, 2, 3), generator=g).float() / 3
    x[:, 1] = (x[:, 1] > 0.5).float()  # G only uses levels 0 and 3
    model.init_from_data(x)
    with torch.no_grad():
        model.head[1].weight.zero_()
        cond = model.conditional_log_probs(x[:1]).exp()[0]  # (4, 3, 2, 3)
    k = torch.round(x * 3).long()
    for ch in range(3):
        counts = torch.bincount(k[:, ch].flatten(), minlength=4).double()
        expect = (counts + 1) / (counts.sum() + 4)
        torch.testing.assert_close(cond[:, ch].double(), expect.view(4, 1, 1).expand(4, 2, 3), atol=1e-6, rtol=0)
