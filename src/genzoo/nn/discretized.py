"""Likelihoods for quantized (e.g. 8-bit) data, shared by autoregressive models and decoders.

* :func:`to_levels` -- data k / (L - 1) (or their [-1, 1] image) back to integer levels k, per
  batch; refuses values off the L-level grid (dequantized input) with a one-line error.
* :func:`discretized_logistic_log_prob` -- log of the mass a logistic puts on one of L bins of
  [-1, 1], with the edge bins open to -inf / +inf (Salimans et al. 2017, "PixelCNN++", section 2.1,
  eq. 2), computed stably: for interior bins
  ``log(sigma(a) - sigma(b)) = log sigma(a) + log sigma(-b) + log(1 - exp(b - a))``, exact for every
  a > b, so no pdf-at-the-centre fallback is needed.
* :class:`LogisticMixture` -- a mixture of M discretized logistics per pixel (Salimans et al. 2017,
  section 2.2): ONE mixture indicator per pixel, shared by its C channels, and within a component
  the mean of channel c is ``mu_c + sum_{c' < c} tanh(alpha_{c c'}) x_{c'}`` (G linear in R, B in
  R and G), x in [-1, 1]:
  ``p(r, g, b) = sum_m pi_m p(r | m) p(g | r, m) p(b | r, g, m)``.
* :class:`DiscretizedMixture` -- that mixture over whole images as a
  :class:`genzoo.distributions.Distribution`: the p(x|z) of a VAE decoder (``log_prob`` of the
  data on the level grid, true ``sample`` s, ``mean``).

Parameter layout of one sub-pixel (``num_params = M * (2 + C)`` values, C data channels):
``[mixture logits (M), means (M), log scales (M), coefficients (M x (C - 1))]``. The mixture
logits of channel 0 are the pixel's (those of channels > 0 are not read: every channel keeps the
same layout, which channel-masked heads need); the coefficient slot j multiplies channel j and is
used only by channels c > j.

Channel-masked networks (van den Oord et al. 2016, section 3.4) and sampling sub-pixel by
sub-pixel need every conditional p(x_c | x_<c) of a pixel on its own. With a shared indicator it
is the mixture under the posterior of the indicator given the earlier channels,
``p(x_c | x_<c) = sum_m w_cm p(x_c | x_<c, m)``, ``w_cm ∝ pi_m prod_{c' < c} p(x_c' | x_<c', m)``,
and the product over c of these conditionals is exactly the PixelCNN++ joint above. Channel 0's
logits come from the context alone (mask A/B groups), and channel c's means and scales may also
depend on x_<c: the joint stays normalised (each factor is normalised given what it reads).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from genzoo.data.transforms import from_unit, to_unit
from genzoo.distributions import Distribution
from genzoo.nn import random as rng

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

    def _components(self, params: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """params (B, P, C, ...), k (B, C, ...) levels -> the log posterior weights of the mixture
        indicator given the earlier channels of the pixel, ``log w_cm = log_softmax_m(log pi_m +
        sum_{c' < c} log p(x_c' | x_<c', m))``, each component's means and log scales, and each
        component's log p(x_c = k_c | x_<c, m) (None for one channel), all (B, C, ..., M).
        Channel c reads only k of the channels before it."""
        m, c = self.mixtures, self.channels
        p = params.movedim(1, -1)  # (B, C, ..., P)
        mean = p[..., m: 2 * m]
        log_s = p[..., 2 * m: 3 * m]
        if c > 1:
            coef = torch.tanh(p[..., 3 * m:].unflatten(-1, (m, c - 1)))  # (B, C, ..., M, C - 1)
            mean = mean + (coef * self._previous(k, p.dtype).unsqueeze(-2)).sum(-1)
        log_pi = torch.log_softmax(p[:, :1, ..., :m], dim=-1)  # (B, 1, ..., M): the pixel's weights
        if c == 1:
            return log_pi, mean, log_s, None
        lp = discretized_logistic_log_prob(k.unsqueeze(-1), mean, log_s, self.levels)  # (B, C, ..., M)
        # sum over c' < c of log p(x_c' | x_<c', m), an exclusive cumsum (cumsum - lp would let
        # rounding carry a trace of x_c into channel c's weights)
        before = torch.cat([torch.zeros_like(lp[:, :1]), lp[:, :-1].cumsum(1)], dim=1)
        return torch.log_softmax(log_pi + before, dim=-1), mean, log_s, lp

    def _previous(self, k: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """k (B, C, ...) levels -> (B, C, ..., C - 1): for channel c, slot j holds x_j in [-1, 1]
        when j < c, else 0."""
        c = self.channels
        y = k.movedim(1, -1).to(dtype) * (2.0 / (self.levels - 1)) - 1  # (B, ..., C) in [-1, 1]
        below = torch.ones(c, c - 1, dtype=dtype, device=k.device).tril(-1)  # [c, j] = 1 for j < c
        return (y[..., None, : c - 1] * below).movedim(-2, 1)  # (B, C, ..., C - 1)

    def log_prob(self, params: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """log p(x_c | x_<c of the same pixel, params) of every sub-pixel; summed over the channels
        of a pixel it is log p(pixel).

        params (B, P, C, H, W) (any trailing dims after C), k (B, C, H, W) long levels ->
        (B, C, H, W) nats."""
        log_w, mean, log_s, lp = self._components(params, k)  # (B, C, H, W, M)
        if lp is None:
            lp = discretized_logistic_log_prob(k.unsqueeze(-1), mean, log_s, self.levels)
        return torch.logsumexp(log_w + lp, dim=-1)

    def all_levels(self, params: torch.Tensor, k: torch.Tensor, channel: int | None = None) -> torch.Tensor:
        """log p(x_c = v | x_<c) for every level v: params (B, P, C, ...), k (B, C, ...) ->
        (B, L, C, ...), or (B, L, ...) for one ``channel``. Only the channels before c of ``k`` (and
        of ``params``, for the indicator's posterior) are read for channel c."""
        log_w, mean, log_s, _ = self._components(params, k)  # (B, C, ..., M)
        if channel is not None:
            log_w, mean, log_s = log_w[:, channel], mean[:, channel], log_s[:, channel]
        v = torch.arange(self.levels, device=mean.device).reshape(self.levels, *([1] * mean.dim()))
        lp = discretized_logistic_log_prob(v, mean, log_s, self.levels)  # (L, B, [C,] ..., M)
        return torch.logsumexp(log_w + lp, dim=-1).movedim(0, 1)  # (B, L, [C,] ...)

    def sample(self, params: torch.Tensor, noise: torch.Tensor, chunk: int = 8) -> torch.Tensor:
        """Levels (B, C, H, W) long drawn channel by channel (inverse CDF with ``noise`` uniform
        (B, C, H, W)) from params (B, P, C, H, W): each channel's conditional depends on the earlier
        ones, so the channels of a pixel are drawn in order. ``chunk`` examples at a time bound the
        memory."""
        k = torch.zeros(noise.shape, dtype=torch.long, device=noise.device)
        for s in range(0, len(k), chunk):
            for c in range(self.channels):
                log_p = self.all_levels(params[s: s + chunk], k[s: s + chunk], c)  # (b, L, H, W)
                k[s: s + chunk, c] = inverse_cdf(log_p.movedim(1, -1), noise[s: s + chunk, c])
        return k

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        """params (B, P, C, H, W) -> (B, C, H, W) in [-1, 1]: the mean of the continuous logistic
        mixture that the levels discretize, exact because the indicator is shared and the
        dependence linear (E[x_c | m] = mu_cm + sum_{c' < c} tanh(alpha_cc'm) E[x_c' | m]), then
        clamped to [-1, 1]. It is close to the mean of the discrete law except where much mass lies
        beyond the edge bins (whose values are clamped to -1 and 1)."""
        m, c = self.mixtures, self.channels
        p = params.movedim(1, -1)  # (B, C, ..., P)
        pi = torch.softmax(p[:, 0, ..., :m], dim=-1)  # (B, ..., M)
        coef = torch.tanh(p[..., 3 * m:].unflatten(-1, (m, c - 1))) if c > 1 else None
        means: list[torch.Tensor] = []  # E[x_c | m], (B, ..., M) each
        for ch in range(c):
            e = p[:, ch, ..., m: 2 * m]
            for j in range(ch):
                e = e + coef[:, ch, ..., j] * means[j]
            means.append(e)
        return (torch.stack(means, 1) * pi.unsqueeze(1)).sum(-1).clamp(-1, 1)


class DiscretizedMixture(Distribution):
    """p(x) = prod over pixels of a :class:`LogisticMixture`, for images on the ``levels``-level
    grid of ``scale`` ([0, 1]: k / (L - 1); [-1, 1]: its image): the decoder likelihood p(x|z) of a
    VAE. ``params`` (*batch, P, C, H, W); event shape (C, H, W). ``log_prob`` is the exact log
    probability of the discrete image (nats), so the ELBO and IS-NLL on it bound and estimate the
    NLL of the 8-bit data; ``sample`` draws true samples (channel by channel within a pixel);
    ``mean`` is :meth:`LogisticMixture.mean`."""

    event_dims = 3

    def __init__(self, mixture: LogisticMixture, params: torch.Tensor, scale: str = "01"):
        self.mixture, self.params, self.scale = mixture, params, scale

    def _flat(self) -> torch.Tensor:
        return self.params.reshape(-1, *self.params.shape[-4:])  # (N, P, C, H, W)

    @property
    def mean(self) -> torch.Tensor:
        u = (self.mixture.mean(self._flat()) + 1) / 2  # [0, 1]
        return from_unit(u, self.scale).reshape(*self.params.shape[:-4], *self.params.shape[-3:])

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """x (..., C, H, W) broadcasting with the batch shape -> (*batch) nats. A ValueError for
        data off the level grid (dequantized)."""
        event = self.params.shape[-3:]
        lead = torch.broadcast_shapes(self.params.shape[:-4], x.shape[:-3])
        k = to_levels(x, self.mixture.levels, self.scale).expand(*lead, *event).reshape(-1, *event)
        params = self.params.expand(*lead, *self.params.shape[-4:]).reshape(-1, *self.params.shape[-4:])
        return self.mixture.log_prob(params, k).flatten(1).sum(1).reshape(lead)

    def sample(self, sample_shape=(), generator: torch.Generator | None = None) -> torch.Tensor:
        """(*sample_shape, *batch, C, H, W) true samples on the level grid, in data space."""
        shape = (sample_shape,) if isinstance(sample_shape, int) else tuple(sample_shape)
        flat = self._flat()
        n = math.prod(shape)
        params = flat.repeat(n, 1, 1, 1, 1) if n > 1 else flat
        with torch.no_grad():
            noise = rng.rand((len(params), *flat.shape[2:]), generator=generator, dtype=flat.dtype,
                             device=flat.device)
            per_example = self.mixture.levels * self.mixture.mixtures * math.prod(flat.shape[2:])
            k = self.mixture.sample(params, noise, chunk=max(1, (1 << 24) // per_example))  # bounded memory
        u = k.to(flat.dtype) / (self.mixture.levels - 1)
        return from_unit(u, self.scale).reshape(*shape, *self.params.shape[:-4], *self.params.shape[-3:])


def inverse_cdf(log_p: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Index drawn from log-probabilities (..., L) with uniform noise u (...): long (...)."""
    cdf = torch.softmax(log_p, dim=-1).cumsum(-1)
    return (cdf < u.unsqueeze(-1)).sum(-1).clamp(max=log_p.shape[-1] - 1)
