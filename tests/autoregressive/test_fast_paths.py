"""The optimised CPU paths of the autoregressive models against their plain definitions (issue 15):
NADE's tiled likelihood pass (values and gradients, every tile size) and the incremental samplers."""

import pytest
import torch
import torch.nn.functional as F

from genzoo.models.autoregressive import nade
from genzoo.models.autoregressive.nade import nade_logits, reference_logits, tile_sizes


def per_pixel_logits(v, W, c, V):
    """NADE eq. 2-3 pixel by pixel: a_0 = c, logits_i = V_i sigmoid(a_i), a_{i+1} = a_i + x_i W[:, i]."""
    a, outs = c.expand(v.shape[0], -1), []
    for i in range(v.shape[1]):
        outs.append(torch.sigmoid(a) @ V[i].t())  # (B, K)
        a = a + v[:, i:i + 1] * W[:, i]
    return torch.stack(outs, 1)  # (B, D, K)


def _params(d, hid, k, seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=g, dtype=torch.float64).requires_grad_()
            for shape in ((hid, d), (hid,), (d, k, hid))]


@pytest.mark.parametrize("small", [True, False])
@pytest.mark.parametrize("k", [1, 5])
@pytest.mark.parametrize("batch,rows,block", [(1, None, None), (7, 3, 4), (12, 12, 1), (9, 2, 32), (20, 5, 8),
                                              (16, None, None)])
def test_nade_tiled_pass_equals_per_pixel(small, k, batch, rows, block, monkeypatch):
    """Logits and every gradient (W, c, V and the input) within float64 rounding, for tiles that
    split the batch, the pixels (a partial last block), single pixels and blocks longer than D;
    both tile kinds (running sums by masked products or pixel by pixel)."""
    monkeypatch.setattr(nade, "SMALL_ROWS", 1 << 30 if small else 0)
    d, hid = 13, 6
    W, c, V = _params(d, hid, k, seed=batch)
    g = torch.Generator().manual_seed(100 + batch)
    v = (torch.rand(batch, d, generator=g, dtype=torch.float64) < 0.5).double().requires_grad_()
    weights = torch.randn(batch, d, k, generator=g, dtype=torch.float64)  # a generic upstream gradient
    out = nade_logits(v, W, c, V, rows, block)
    ref = per_pixel_logits(v, W, c, V)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    grads = torch.autograd.grad((out * weights).sum(), (v, W, c, V))
    ref_grads = torch.autograd.grad((ref * weights).sum(), (v, W, c, V))
    for name, got, want in zip(("x", "W", "c", "V"), grads, ref_grads):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12, msg=name)


def test_nade_reference_logits_equal_per_pixel():
    W, c, V = _params(11, 4, 3, seed=0)
    v = (torch.rand(5, 11, dtype=torch.float64) < 0.5).double()
    torch.testing.assert_close(reference_logits(v, W, c, V), per_pixel_logits(v, W, c, V), rtol=1e-12, atol=1e-12)


def test_nade_pass_without_gradients_equals_with():
    """Under no_grad the pass saves nothing and gives the same logits."""
    W, c, V = _params(10, 5, 1, seed=1)
    v = (torch.rand(6, 10, dtype=torch.float64) < 0.5).double()
    with torch.no_grad():
        plain = nade_logits(v, W, c, V, 4, 3)
    assert torch.equal(plain, nade_logits(v, W, c, V, 4, 3).detach())


@pytest.mark.parametrize("batch", [1, 100, 512])
def test_nade_tile_sizes(batch):
    rows, block = tile_sizes(batch, 500)
    assert 1 <= rows <= batch and block >= 1
    assert tile_sizes(batch, 10_000_000)[0] == 1  # a huge hidden layer: one example per tile


def test_nade_model_train_step_matches_reference(make_model):
    """The model's NLL gradients (the tiled pass) equal those of the plain autograd definition."""
    model = make_model("nade", (1, 4, 5), "bernoulli", std=0.5)
    x = (torch.rand(9, 1, 4, 5, dtype=torch.float64) < 0.5).double()
    loss = -model.log_prob(x).sum()
    grads = torch.autograd.grad(loss, list(model.parameters()))
    v = x.flatten(1)
    ref = reference_logits(v, model.W, model.c, model.V.unsqueeze(1))[..., 0] + model.b
    ref_loss = F.binary_cross_entropy_with_logits(ref, v, reduction="sum")
    for got, want in zip(grads, torch.autograd.grad(ref_loss, list(model.parameters()))):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["fvsbn", "nade", "made"])
@pytest.mark.parametrize("likelihood", ["bernoulli", "categorical"])
def test_incremental_sampler_equals_naive_on_a_larger_grid(name, likelihood, make_model):
    """Fast and naive samples are identical under the same generator on a 1x7x9 grid (the
    incremental state crosses row boundaries many times)."""
    if name == "made":
        from genzoo.registry import get_model

        entry = get_model("made")
        model = entry.model_cls(entry.config_cls(shape=(1, 7, 9), likelihood=likelihood, levels=5,
                                                 hidden=(12, 10))).double()
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.randn_like(p))
    else:
        model = make_model(name, (1, 7, 9), likelihood, levels=5, std=0.5)
    fast = model.sample(10, generator=torch.Generator().manual_seed(5), fast=True)
    naive = model.sample(10, generator=torch.Generator().manual_seed(5), fast=False)
    assert torch.equal(fast, naive) and len(fast.unique()) > 1


@pytest.mark.parametrize("kw", [
    {"hidden": (90, 70), "direct": True, "masks": 2, "order_agnostic": True},  # several units per degree
    {"hidden": (9,), "likelihood": "categorical", "levels": 3, "masks": 3, "order_agnostic": True},  # empty degrees
    {"hidden": (40, 3, 40), "activation": "tanh"},  # a narrow middle layer: many units see few below
])
def test_made_degree_sorted_sampler_equals_naive(kw):
    """MADE's sampler with hidden units sorted by degree (one contiguous slice per step) draws the
    same samples as one full masked pass per input, on a 1x6x7 grid (D = 42), whatever the widths."""
    from genzoo.registry import get_model

    entry = get_model("made")
    model = entry.model_cls(entry.config_cls(shape=(1, 6, 7), mask_seed=3, **kw)).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p))
    fast = model.sample(25, generator=torch.Generator().manual_seed(6), fast=True)
    naive = model.sample(25, generator=torch.Generator().manual_seed(6), fast=False)
    assert torch.equal(fast, naive) and len(fast.unique()) > 1


@pytest.mark.parametrize("shape,likelihood,kw", [
    ((1, 7, 9), "bernoulli", {"first_kernel": 7, "kernel": 3, "layers": 4}),
    ((1, 6, 8), "bernoulli", {"first_kernel": 5, "kernel": 5, "layers": 3, "classes": 3}),  # 3-row vertical kernels
    ((1, 5, 6), "categorical", {"layers": 3, "condition_dim": 2}),
    ((3, 4, 5), "categorical", {"layers": 3, "features": 6, "output_features": 6}),  # RGB: the centre tap
    ((3, 4, 4), "logistic-mixture", {"layers": 2, "features": 6, "output_features": 6, "mixtures": 2}),
])
def test_gated_pixelcnn_incremental_sampler_equals_naive(shape, likelihood, kw, make_model):
    """The gated PixelCNN's sampler (one row of the vertical stack per row, the horizontal stack at
    one position per sub-pixel, from caches) draws the samples of the naive sampler (the whole
    network per sub-pixel), conditional or not, over many rows."""
    model = make_model("pixelcnn-gated", shape, likelihood, levels=5, std=0.6, **kw)
    cond = {"condition": torch.arange(8) % 3} if kw.get("classes") else {}
    if kw.get("condition_dim"):
        cond = {"condition": torch.randn(8, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)}
    fast = model.sample(8, generator=torch.Generator().manual_seed(5), fast=True, **cond)
    naive = model.sample(8, generator=torch.Generator().manual_seed(5), fast=False, **cond)
    assert torch.equal(fast, naive) and len(fast.unique()) > 1


@pytest.mark.parametrize("kw", [{"hidden": (7, 5)}, {"hidden": (6,), "likelihood": "categorical", "levels": 4},
                                {"hidden": (7, 5), "orderings": 3},
                                {"hidden": (6,), "orderings": 2, "activation": "tanh"}])
def test_order_agnostic_nade_running_sum_sampler_equals_naive(kw, make_model):
    """Order-agnostic NADE's sampler (the first layer on [x * m, m] as a running sum over the
    observed pixels, in raster order or in each sample's ordering of an ensemble) draws the samples
    of one full network pass per pixel (orderings > 1) or of the D-pass forward (raster order)."""
    model = make_model("nade-oa", (1, 6, 7), std=0.7, **kw)
    fast = model.sample(20, generator=torch.Generator().manual_seed(7), fast=True)
    naive = model.sample(20, generator=torch.Generator().manual_seed(7), fast=False)
    assert torch.equal(fast, naive) and len(fast.unique()) > 1


@pytest.mark.parametrize("name", ["fvsbn", "nade", "pixelcnn"])
def test_given_noise_is_the_generators_noise_and_its_shape_is_checked(name, make_model):
    """``sample(noise=...)`` with the (n, H, W, C) uniforms the generator would draw gives the same
    samples, fast and naive (FVSBN's own Bernoulli loop included); a wrong shape is a ValueError."""
    model = make_model(name, (1, 4, 5), std=0.8)
    noise = torch.rand(6, 4, 5, 1, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    drawn = model.sample(6, generator=torch.Generator().manual_seed(2))
    for fast in (True, False):
        assert torch.equal(model.sample(6, noise=noise, fast=fast), drawn)
    with pytest.raises(ValueError, match="noise must have shape"):
        model.sample(6, noise=noise[:, :3])


@pytest.mark.parametrize("layout", ["channel-major", "levels-last"])
def test_level_log_probs_equal_cross_entropy(layout):
    """The softmax over the contiguous levels axis gives the log-probs of F.cross_entropy (the
    previous path), whatever the memory layout of the (B, K, C, H, W) logits."""
    from genzoo.models.autoregressive._common import level_log_probs

    g = torch.Generator().manual_seed(0)
    b, k, c, h, w = 4, 256, 3, 5, 6
    if layout == "channel-major":
        logits = torch.randn(b, c, k, h, w, generator=g, dtype=torch.float64).transpose(1, 2)
    else:
        logits = torch.randn(b, h, w, c, k, generator=g, dtype=torch.float64).permute(0, 4, 3, 1, 2)
    target = torch.randint(0, k, (b, c, h, w), generator=g)
    torch.testing.assert_close(level_log_probs(logits, target), -F.cross_entropy(logits, target, reduction="none"),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("per_channel", [1, 7])
def test_masked_head_equals_its_convolutions(per_channel):
    """MaskedHead's outputs (the last layer as a matmul with levels last) equal the two 1x1 mask-B
    convolutions it is made of, channel by channel."""
    from genzoo.models.autoregressive._stack import MaskedHead

    torch.manual_seed(0)
    head = MaskedHead(6, 9, 3, per_channel, squeeze=per_channel == 1).double()
    h = torch.randn(2, 6, 4, 5, dtype=torch.float64)
    conv = head[1](F.relu(head[0](F.relu(h)))).view(2, 3, per_channel, 4, 5)  # (B, C, P, H, W)
    want = conv[:, :, 0] if per_channel == 1 else conv.transpose(1, 2)
    torch.testing.assert_close(head(h), want, rtol=1e-12, atol=1e-12)
