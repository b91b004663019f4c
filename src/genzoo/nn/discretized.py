"""Likelihoods for quantized (e.g. 8-bit) data, shared by autoregressive models and decoders.

* :func:`to_levels` -- data k / (L - 1) (or their [-1, 1] image) back to integer levels k, per
  batch; refuses values off the L-level grid (dequantized input) with a one-line error.
* :func:`discretized_logistic_log_prob` -- log of the mass a logistic puts on one of L bins of
  [-1, 1], with the edge bins open to -inf / +inf (Salimans et al. 2017, "PixelCNN++", section 2.1,
  eq. 2), computed stably: for interior bins
  ``log(sigma(a) - sigma(b)) = log sigma(a) + log sigma(-b) + log(1 - exp(b - a))``, exact for every
  a > b, so no pdf-at-the-centre fallback is needed.
* :class:`LogisticMixture` -- a mixture of M discretized logistics per sub-pixel with the
  within-pixel linear dependence of section 2.2: the mean of channel c is
  ``mu_c + sum_{c' < c} tanh(alpha_{c c'}) x_{c'}`` (G on R, B on R and G), x in [-1, 1].

Parameter layout of one sub-pixel (``num_params = M * (2 + C)`` values, C data channels):
``[mixture logits (M), means (M), log scales (M), coefficients (M x (C - 1))]``; the
coefficient slot j multiplies channel j and is used only by channels c > j.

Difference from PixelCNN++: there the mixture indicator is shared by the three sub-pixels of a
pixel. Here each sub-pixel has its own mixture weights, so every conditional p(x_c | x_<c) is a
normalised distribution over L values by itself -- what channel-masked networks (van den Oord et al.
2016, section 3.4) and incremental sampling sub-pixel by sub-pixel need. The joint over a pixel
is still a proper distribution (a product of normalised conditionals).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from genzoo.data.transforms import to_unit

LOG_SCALE_MIN = -7.0  # as in PixelCNN++: scales below e^-7 (much narrower than a bin) add nothing


def to_levels(x: torch.Tensor, levels: int, scale: str = "01", *, tol: float = 1e-3) -> torch.Tensor:
    """Integer levels (long, same shape) of data on the grid k / (levels - 1) (scale ``"01"``) or
    2 k / (levels - 1) - 1 (``"pm1"``). Raises ValueError for values off the grid, as dequantized
    data are: discrete likelihoods need the level itself (take it before dequantizing)."""
    u = to_unit(x, scale)
    k = u * (levels - 1)
    r = torch.round(k)
    if x.numel():
        off = (k - r).abs().max().item()
        lo, hi = r.min().item(), r.max().item()
        if off > tol or lo < 0 or hi > levels - 1:
            raise ValueError(f"data are not on the {levels}-level grid of [{'-1' if scale == 'pm1' else '0'}, 1] "
                             f"(off by up to {off:.3g} levels, range {lo:g}..{hi:g}): a discrete likelihood needs "
                             "quantized data; do not dequantize (--dequantize) for it")
    return r.long()


def _log1mexp(d: torch.Tensor) -> torch.Tensor:
    """log(1 - exp(-d)) for d > 0, accurate for small and large d (Maechler 2012)."""
    return torch.where(d < math.log(2), torch.log(-torch.expm1(-d)), torch.log1p(-torch.exp(-d)))


def discretized_logistic_log_prob(k: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor,
                                  levels: int) -> torch.Tensor:
    """log P(level k) for a logistic(mean, exp(log_scale)) on [-1, 1] cut into ``levels`` bins of width
    2 / (levels - 1) centred on 2 k / (levels - 1) - 1; the first and last bins extend to -inf and
    +inf, so the L masses sum to 1. Broadcasts ``k`` (long) with ``mean`` and ``log_scale``."""
    half = 1.0 / (levels - 1)
    y = k.to(mean.dtype) * (2 * half) - 1  # bin centre in [-1, 1]
    inv_s = torch.exp(-log_scale.clamp(min=LOG_SCALE_MIN))
    a = (y + half - mean) * inv_s  # upper edge, standardised
    b = (y - half - mean) * inv_s  # lower edge
    first = F.logsigmoid(a)  # P(X < upper edge)
    last = F.logsigmoid(-b)  # P(X > lower edge)
    width = (2 * half) * inv_s  # a - b > 0
    interior = first + last + _log1mexp(width)
    return torch.where(k == 0, first, torch.where(k == levels - 1, last, interior))


class LogisticMixture:
    """Mixture of ``mixtures`` discretized logistics per sub-pixel, for ``channels`` data channels
    at ``levels`` levels (see the module docstring for the parameter layout)."""

    def __init__(self, channels: int, mixtures: int, levels: int):
        if mixtures < 1:
            raise ValueError(f"mixtures must be positive, got {mixtures}")
        if levels < 2:
            raise ValueError(f"levels must be at least 2, got {levels}")
        self.channels, self.mixtures, self.levels = channels, mixtures, levels

    @property
    def num_params(self) -> int:
        """Parameters per sub-pixel."""
        return self.mixtures * (2 + self.channels)

    def from_maps(self, maps: torch.Tensor) -> torch.Tensor:
        """A decoder's output maps (B, C * P, H, W), channel-major (data channel c owns maps
        c * P .. c * P + P - 1) -> parameters (B, P, C, H, W). How a VAE decoder uses this
        likelihood: ``log_prob(from_maps(decoder(z)), to_levels(x, L))`` summed over pixels."""
        b, cp, h, w = maps.shape
        if cp != self.channels * self.num_params:
            raise ValueError(f"expected {self.channels} x {self.num_params} maps, got {cp}")
        return maps.view(b, self.channels, self.num_params, h, w).transpose(1, 2)

    def _terms(self, params: torch.Tensor, prev: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """params (..., P), prev (..., C - 1) earlier channels' values in [-1, 1] (zero where unused)
        -> log mixture weights, means, log scales, each (..., M)."""
        m, c = self.mixtures, self.channels
        log_w = torch.log_softmax(params[..., :m], dim=-1)
        mean = params[..., m: 2 * m]
        if c > 1:
            coef = torch.tanh(params[..., 3 * m:].unflatten(-1, (m, c - 1)))  # (..., M, C - 1)
            mean = mean + (coef * prev.unsqueeze(-2)).sum(-1)
        return log_w, mean, params[..., 2 * m: 3 * m]

    def _previous(self, k: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """k (B, C, ...) levels -> (B, C, ..., C - 1): for channel c, slot j holds x_j in [-1, 1]
        when j < c, else 0."""
        c = self.channels
        y = k.movedim(1, -1).to(dtype) * (2.0 / (self.levels - 1)) - 1  # (B, ..., C) in [-1, 1]
        below = torch.ones(c, c - 1, dtype=dtype, device=k.device).tril(-1)  # [c, j] = 1 for j < c
        return (y[..., None, : c - 1] * below).movedim(-2, 1)  # (B, C, ..., C - 1)

    def log_prob(self, params: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """log p(x_c | x_<c of the same pixel, params) of every sub-pixel.

        params (B, P, C, H, W) (any trailing dims after C), k (B, C, H, W) long levels ->
        (B, C, H, W) nats."""
        p = params.movedim(1, -1)  # (B, C, H, W, P)
        prev = self._previous(k, p.dtype)  # (B, C, H, W, C - 1)
        log_w, mean, log_s = self._terms(p, prev)  # (B, C, H, W, M)
        lp = discretized_logistic_log_prob(k.unsqueeze(-1), mean, log_s, self.levels)
        return torch.logsumexp(log_w + lp, dim=-1)

    def all_levels(self, params: torch.Tensor, k: torch.Tensor, channel: int | None = None) -> torch.Tensor:
        """log p(x_c = v | x_<c) for every level v: params (B, P, C, ...), k (B, C, ...) ->
        (B, L, C, ...), or (B, L, ...) for one ``channel``. Only the channels before c of ``k`` are
        read for channel c."""
        p = params.movedim(1, -1)  # (B, C, ..., P)
        prev = self._previous(k, p.dtype)  # (B, C, ..., C - 1)
        if channel is not None:
            p, prev = p[:, channel], prev[:, channel]
        log_w, mean, log_s = self._terms(p, prev)  # (B, [C,] ..., M)
        v = torch.arange(self.levels, device=p.device).reshape(self.levels, *([1] * mean.dim()))
        lp = discretized_logistic_log_prob(v, mean, log_s, self.levels)  # (L, B, [C,] ..., M)
        return torch.logsumexp(log_w + lp, dim=-1).movedim(0, 1)  # (B, L, [C,] ...)

    def sample(self, params: torch.Tensor, noise: torch.Tensor, chunk: int = 8) -> torch.Tensor:
        """Levels (B, C, H, W) long drawn channel by channel (inverse CDF with ``noise`` uniform
        (B, C, H, W)) from params (B, P, C, H, W): each mean depends on the earlier channels, so the
        channels of a pixel are drawn in order. ``chunk`` examples at a time bound the memory."""
        k = torch.zeros(noise.shape, dtype=torch.long, device=noise.device)
        for s in range(0, len(k), chunk):
            for c in range(self.channels):
                log_p = self.all_levels(params[s: s + chunk], k[s: s + chunk], c)  # (b, L, H, W)
                k[s: s + chunk, c] = inverse_cdf(log_p.movedim(1, -1), noise[s: s + chunk, c])
        return k


def inverse_cdf(log_p: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Index drawn from log-probabilities (..., L) with uniform noise u (...): long (...)."""
    cdf = torch.softmax(log_p, dim=-1).cumsum(-1)
    return (cdf < u.unsqueeze(-1)).sum(-1).clamp(max=log_p.shape[-1] - 1)
