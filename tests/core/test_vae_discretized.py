"""The conv VAE with the discretized logistic mixture decoder (PixelCNN++, Salimans et al. 2017,
sections 2.1-2.2) on 8-bit images: p(x|z) is a normalised distribution over the discrete images
(enumerated through ``likelihood(z)``), the bounds and the IS-NLL are finite and ordered, samples
lie on the level grid and follow p(x|z), and the CLI trains and evaluates it end to end."""

from __future__ import annotations

import json
import math

import pytest
import torch

from genzoo.nn.discretized import LogisticMixture, discretized_logistic_log_prob
from genzoo.objectives.variational import elbo
from genzoo.registry import get_model


def _vae(shape, levels=256, mixtures=2, arch="conv", **kw):
    entry = get_model("vae")
    torch.manual_seed(0)
    cfg = entry.config_cls(shape=shape, arch=arch, decoder="logistic-mixture", mixtures=mixtures, levels=levels,
                           latent_dim=3, conv_channels=(4, 8, 8, 8), hidden=(8,), **kw)
    return entry.model_cls(cfg).double()


def _all_images(shape, levels):
    d = math.prod(shape)
    codes = torch.cartesian_prod(*[torch.arange(levels)] * d).reshape(-1, *shape)  # first dim slowest
    return codes.double() / (levels - 1)


def _perturb(model, scale=1.5):
    """Random decoder weights with a spread, so that means, scales, the mixture logits and the
    within-pixel coefficients all take values far from their initial ones (edges included)."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.decoder.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * scale)


def test_likelihood_sums_to_one_over_every_rgb_image_at_small_levels():
    """sum over all 4^6 images of shape (3, 1, 2) of p(x | z) = 1, for three codes z: the shared
    per-pixel indicator, the linear dependence of G on R and B on R, G and the edge bins together
    give a proper joint (MLP decoder: any image size)."""
    model = _vae((3, 1, 2), levels=4, arch="mlp")
    _perturb(model)
    x = _all_images((3, 1, 2), 4)  # (4096, 3, 1, 2)
    z = torch.randn(3, 1, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)  # (3, 1, L)
    lp = model.likelihood(z).log_prob(x)  # (3, 4096): broadcasts like the bounds' (k, B)
    assert lp.shape == (3, len(x)) and torch.isfinite(lp).all()
    torch.testing.assert_close(lp.exp().sum(1), torch.ones(3, dtype=torch.float64), atol=1e-12, rtol=0)


def test_likelihood_over_all_256_values_of_a_sub_pixel_including_the_edges():
    """8-bit, through the VAE's likelihood(z) (one-pixel RGB images, MLP decoder): summing p(x|z)
    over the 256 x 256 values of G and B gives p(r), which equals the R marginal computed directly
    from the decoder's pixel mixture logits, means and scales, for R at both edges (0, 255) and
    inside; that marginal sums to 1 over its 256 values, the edge bins holding the tails."""
    model = _vae((3, 1, 1), mixtures=3, arch="mlp")
    _perturb(model, 0.5)
    z = torch.randn(1, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    dist = model.likelihood(z)
    m = 3
    params = dist.params[0, :, :, 0, 0]  # (P, C)
    log_pi = torch.log_softmax(params[:m, 0], 0)
    r_marginal = torch.logsumexp(log_pi + discretized_logistic_log_prob(
        torch.arange(256).unsqueeze(1), params[m: 2 * m, 0], params[2 * m: 3 * m, 0], 256), dim=1)  # (256,)
    assert abs(r_marginal.exp().sum().item() - 1) < 1e-12
    gb = torch.cartesian_prod(torch.arange(256), torch.arange(256)).double() / 255  # (65536, 2)
    x = torch.empty(len(gb), 3, 1, 1, dtype=torch.float64)
    x[:, 1:, 0, 0] = gb
    for r in (0, 255, 77):
        x[:, 0] = r / 255
        lp = dist.log_prob(x)  # (65536,)
        torch.testing.assert_close(torch.logsumexp(lp, 0), r_marginal[r], atol=1e-9, rtol=0)


def test_shared_indicator_is_pixelcnn_pp():
    """log p(pixel) from the module equals the PixelCNN++ joint written out directly:
    log sum_m pi_m p(r|m) p(g|r,m) p(b|r,g,m), with pi from channel 0's logits only."""
    mix = LogisticMixture(3, 4, 256)
    g = torch.Generator().manual_seed(5)
    params = torch.randn(6, mix.num_params, 3, 1, 1, generator=g, dtype=torch.float64)
    k = torch.randint(0, 256, (6, 3, 1, 1), generator=g)
    got = mix.log_prob(params, k).sum((1, 2, 3))
    m = 4
    p = params[..., 0, 0]  # (6, P, 3)
    y = k[:, :, 0, 0].double() / 127.5 - 1  # (6, 3) in [-1, 1]
    a = torch.tanh(p[:, 3 * m:, :].reshape(6, m, 2, 3))  # coefficient slot j of channel c
    mu_r = p[:, m: 2 * m, 0]
    mu_g = p[:, m: 2 * m, 1] + a[:, :, 0, 1] * y[:, :1]
    mu_b = p[:, m: 2 * m, 2] + a[:, :, 0, 2] * y[:, :1] + a[:, :, 1, 2] * y[:, 1:2]
    lp = sum(discretized_logistic_log_prob(k[:, c, 0, 0, None], mu, p[:, 2 * m: 3 * m, c], 256)
             for c, mu in enumerate((mu_r, mu_g, mu_b)))
    want = torch.logsumexp(torch.log_softmax(p[:, :m, 0], 1) + lp, 1)
    torch.testing.assert_close(got, want, atol=1e-10, rtol=0)
    # the logits of channels 1 and 2 are not read
    other = params.clone()
    other[:, :m, 1:] = 5 * torch.randn(6, m, 2, 1, 1, generator=g, dtype=torch.float64)
    torch.testing.assert_close(mix.log_prob(other, k), mix.log_prob(params, k))


def test_bounds_finite_and_is_nll_below_neg_elbo():
    """On random 8-bit images at 3x32x32: -ELBO and the IS-NLL are finite, and the IS estimate
    (k = 64) lies below -ELBO on average: E[log p_k] >= ELBO (Burda et al. 2016, Theorem 1)."""
    model = _vae((3, 32, 32)).float()
    x = torch.randint(0, 256, (8, 3, 32, 32), generator=torch.Generator().manual_seed(6)).float() / 255
    model.init_from_data(x)
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        neg_elbo = -torch.stack([elbo(model, x, generator=g) for _ in range(8)]).mean(0)  # (8,)
        nll = -model.log_prob(x, k=64, generator=g)
    assert torch.isfinite(neg_elbo).all() and torch.isfinite(nll).all()
    assert nll.mean() < neg_elbo.mean()
    # uniform over 256 levels is 3072 log 256 nats; random data are near it (a valid bound cannot
    # be far below the data's own entropy on average)
    assert nll.mean() > 0.9 * 3072 * math.log(256)


def test_is_nll_chunks_bound_the_memory(monkeypatch):
    """The mixture decoder's outputs are large: log_prob takes its k samples in chunks sized so
    that one chunk's decoder outputs stay under the budget, and gives exactly the estimator's value
    at that chunk size (same draws)."""
    from genzoo.evaluation.importance import importance_sampled_log_prob
    from genzoo.models.autoencoders import vae as vae_module

    model = _vae((3, 4, 4)).float()
    x = torch.randint(0, 256, (3, 3, 4, 4), generator=torch.Generator().manual_seed(6)).float() / 255
    per_sample = 3 * 48 * model.mixture.num_params  # decoder outputs for the batch, one sample each
    monkeypatch.setattr(vae_module, "MIXTURE_CHUNK_VALUES", 5 * per_sample)
    got = model.log_prob(x, k=12, generator=torch.Generator().manual_seed(0))
    want = importance_sampled_log_prob(model, x, k=12, chunk=5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(got, want) and torch.isfinite(got).all()


def test_samples_on_the_grid_and_follow_the_decoder():
    """True samples lie on the 256-level grid; their per-sub-pixel mean over many draws of one z
    matches the exact expected level (enumerated per channel) within 5 standard errors."""
    model = _vae((3, 1, 2), mixtures=2, arch="mlp")
    _perturb(model, 0.5)
    z = torch.zeros(1, 3, dtype=torch.float64)
    dist = model.likelihood(z)
    n = 2000
    s = dist.sample((n,), generator=torch.Generator().manual_seed(8))[:, 0]  # (n, 3, 1, 2)
    assert s.shape == (n, 3, 1, 2)
    levels = s * 255
    assert torch.equal(levels, levels.round()) and levels.min() >= 0 and levels.max() <= 255
    # R has no dependence within the pixel: its exact law is the channel-0 all-level conditional
    p_r = model.mixture.all_levels(dist.params, torch.zeros(1, 3, 1, 2, dtype=torch.long), 0)[0].exp()  # (256, 1, 2)
    v = torch.arange(256, dtype=torch.float64).view(256, 1, 1)
    mean = (p_r * v).sum(0)
    sd = ((p_r * (v - mean) ** 2).sum(0) / n).sqrt()
    assert ((levels[:, 0].mean(0) - mean).abs() < 5 * sd).all()
    # G given R: the empirical mean of G over draws matches E_R[E[G | R]]
    k = torch.round(levels).long()
    p_g = model.mixture.all_levels(dist.params.expand(n, -1, -1, -1, -1), k, 1).exp()  # (n, 256, 1, 2)
    e_g = (p_g * v).sum(1)  # E[G | R] per draw
    g_sd = levels[:, 1].std(0) / math.sqrt(n)
    assert ((levels[:, 1].mean(0) - e_g.mean(0)).abs() < 5 * g_sd).all()
    mean_img = dist.mean[0]
    assert mean_img.shape == (3, 1, 2) and mean_img.min() >= 0 and mean_img.max() <= 1


def test_refuses_bad_settings_and_dequantized_data():
    entry = get_model("vae")
    with pytest.raises(ValueError, match="levels"):
        entry.config_cls(shape=(3, 4, 4), decoder="logistic-mixture", levels=None)
    with pytest.raises(ValueError, match="mixtures"):
        entry.config_cls(shape=(3, 4, 4), decoder="logistic-mixture", mixtures=0)
    model = _vae((3, 4, 4)).float()
    x = torch.full((2, 3, 4, 4), 0.5)  # 127.5: between two levels, as dequantized data are
    with pytest.raises(ValueError, match="256-level grid"):
        model.likelihood(torch.zeros(1, 3)).log_prob(x)


def test_data_contract_labels_it_an_nll():
    from genzoo.data.errors import DataError
    from genzoo.data.spec import DataSpec

    model = _vae((3, 4, 4))
    assert model.likelihood_type == "discretized_logistic" and model.likelihood_levels == 256
    assert DataSpec((3, 4, 4), "quantized", 256).check_model(model) == "nll"
    with pytest.raises(DataError, match="dequantize"):
        DataSpec((3, 4, 4), "quantized", 256, dequantization="uniform").check_model(model)
    with pytest.raises(DataError, match="levels"):
        DataSpec((3, 4, 4), "quantized", 17).check_model(model)


def _write_pngs(folder, n=24, size=32):
    """A folder of n random RGB PNGs (the image-folder reader)."""
    from PIL import Image

    folder.mkdir()
    g = torch.Generator().manual_seed(9)
    for i in range(n):
        arr = torch.randint(0, 256, (size, size, 3), generator=g, dtype=torch.uint8).numpy()
        Image.fromarray(arr).save(folder / f"{i:03d}.png")


@pytest.mark.slow
def test_cli_trains_and_evaluates_end_to_end(tmp_path, capsys):
    """`genzoo train vae-conv --decoder logistic-mixture` on a folder of 8-bit 3x32x32 PNGs, then
    `genzoo eval` and `genzoo sample`: the figure is labelled an importance-sampled estimate of the
    NLL of the discrete data, with its k and standard error, in nats and bits/dim, below -ELBO."""
    from genzoo.cli.main import main

    folder = tmp_path / "pngs"
    _write_pngs(folder)
    run = tmp_path / "run"
    assert main(["train", "vae-conv", "--data", str(folder), "--grayscale", "false", "--decoder", "logistic-mixture",
                 "--mixtures", "2", "--latent-dim", "4", "--conv-channels", "4", "8", "8", "8", "--conv-dense", "8",
                 "--epochs", "1", "--batch-size", "8", "--progress", "false", "--out", str(run)]) == 0
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["model_config"]["decoder"] == "logistic-mixture" and cfg["model_config"]["levels"] == 256
    assert cfg["data_spec"]["kind"] == "quantized" and cfg["data_spec"]["levels"] == 256
    capsys.readouterr()
    assert main(["eval", str(run), "-k", "16", "--split", "train", "--limit", "6", "--batch-size", "3"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["figure"] == "nll" and not out["bound"] and not out["exact"] and out["k"] == 16
    assert "importance-sampled estimate, k=16" in out["label"] and out["nll_stderr"] > 0
    assert out["bits_per_dim"] == pytest.approx(out["nll_nats"] / (3 * 32 * 32 * math.log(2)))
    assert math.isfinite(out["nll_nats"]) and out["nll_nats"] <= out["neg_elbo_nats"] + 3 * out["neg_elbo_stderr"]
    assert main(["sample", str(run), "-n", "4"]) == 0
    assert (run / "samples_cli.png").exists()
