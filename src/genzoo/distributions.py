"""The few distributions the latent-variable family needs, with injectable randomness.

``torch.distributions`` cannot take a ``torch.Generator``, and genzoo's rule is that every random
draw can be seeded (:mod:`genzoo.nn.random`), so these small classes stand in for it. Each has

* ``log_prob(x)``: the log density summed over the event dimensions (the last ``event_dims``);
* ``sample(sample_shape=(), generator=None)`` (no gradient) and, where reparameterisable,
  ``rsample(...)``; ``sample_shape`` is prepended to the batch shape;
* ``mean``.

A variational model (:class:`genzoo.models.base.VariationalModel`) returns them from ``prior()``,
``posterior(x)`` and ``likelihood(z)``; the bounds in :mod:`genzoo.objectives.variational` work on
these alone.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from genzoo.nn import random as rng

LOG_2PI = math.log(2 * math.pi)


def _sum_last(t: torch.Tensor, dims: int) -> torch.Tensor:
    return t.flatten(t.dim() - dims).sum(-1) if dims else t


def _shape(sample_shape) -> tuple[int, ...]:
    if isinstance(sample_shape, int):
        return (sample_shape,)
    return tuple(sample_shape)


def gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Elementwise log N(x; mean, exp(logvar))."""
    return -0.5 * (LOG_2PI + logvar + (x - mean) ** 2 * torch.exp(-logvar))


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """Elementwise log N(z; 0, 1)."""
    return -0.5 * (LOG_2PI + z**2)


def _product_group(d: int) -> int:
    """Factors per product in :func:`softplus_sum`: a divisor of ``d`` between 32 and 64 when there
    is one (no ragged last group), else 64."""
    return next((g for g in range(64, 31, -1) if d % g == 0), 64)


def softplus_sum(logits: torch.Tensor, event_dims: int) -> torch.Tensor:
    """sum of softplus(l) over the last ``event_dims`` dimensions, as sum max(l, 0) + log prod
    (1 + exp(-|l|)) with the product taken over groups of at most 64 logits: one exp per logit and
    one log per group, instead of an exp and a log1p per logit (the log1p is most of softplus's
    cost on the CPU). Each factor lies in (1, 2], so a group's product is at most 2^64, far inside
    float32's range, and the rounding it adds (at most one unit of 2^-24 per factor: 1 + e rounded,
    then one product) is of the order of float32 rounding of the sum itself. No gradient path:
    :meth:`Bernoulli.log_prob` uses it only without one."""
    if event_dims == 0:
        return F.softplus(logits)
    flat = logits.flatten(logits.dim() - event_dims)  # (..., D)
    factors = flat.abs().neg_().exp_().add_(1.0)  # 1 + exp(-|l|), in (1, 2]
    d = flat.shape[-1]
    g = _product_group(d)
    whole = d // g * g
    out = flat.relu().sum(-1)
    if whole:
        out = out + factors[..., :whole].unflatten(-1, (whole // g, g)).prod(-1).log().sum(-1)
    if whole < d:
        out = out + factors[..., whole:].prod(-1).log()
    return out


class Distribution:
    """Base: ``batch_shape`` + ``event_shape`` = the shape of one draw."""

    event_dims: int = 1
    has_rsample: bool = False

    @property
    def mean(self) -> torch.Tensor:
        raise NotImplementedError

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def rsample(self, sample_shape=(), generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no reparameterised sampler")

    def sample(self, sample_shape=(), generator: torch.Generator | None = None) -> torch.Tensor:
        with torch.no_grad():
            return self.rsample(sample_shape, generator)


class DiagonalGaussian(Distribution):
    """N(mean, diag exp(logvar)) over the last ``event_dims`` dimensions."""

    has_rsample = True

    def __init__(self, mean: torch.Tensor, logvar: torch.Tensor, event_dims: int = 1):
        self.loc, self.logvar, self.event_dims = mean, logvar, event_dims

    @property
    def mean(self) -> torch.Tensor:
        return self.loc

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return _sum_last(gaussian_log_prob(x, self.loc, self.logvar), self.event_dims)

    def rsample(self, sample_shape=(), generator=None) -> torch.Tensor:
        """mean + sigma * eps, eps ~ N(0, I): (*sample_shape, *batch, *event)."""
        shape = _shape(sample_shape) + tuple(self.loc.shape)
        eps = rng.randn(shape, generator=generator, device=self.loc.device, dtype=self.loc.dtype)
        return self.loc + torch.exp(0.5 * self.logvar) * eps

    def entropy(self) -> torch.Tensor:
        return _sum_last(0.5 * (LOG_2PI + 1.0 + self.logvar).expand_as(self.loc), self.event_dims)


class StandardNormal(Distribution):
    """N(0, I) on R^dim (batch shape ())."""

    has_rsample = True

    def __init__(self, dim: int, device=None, dtype: torch.dtype = torch.float32):
        self.dim, self.device, self.dtype = dim, device, dtype

    @property
    def mean(self) -> torch.Tensor:
        return torch.zeros(self.dim, device=self.device, dtype=self.dtype)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        return standard_normal_log_prob(z).sum(-1)

    def rsample(self, sample_shape=(), generator=None) -> torch.Tensor:
        return rng.randn(_shape(sample_shape) + (self.dim,), generator=generator, device=self.device,
                         dtype=self.dtype)


class GaussianMixture(Distribution):
    """Equal-weight mixture (1/K) sum_k N(mu_k, diag exp(logvar_k)) on R^L; components (K, L).

    The VampPrior of Tomczak & Welling (2018) is one, with the posteriors of the pseudo-inputs as
    components. Its density is computed by :func:`mixture_log_prob` (float64 inside)."""

    def __init__(self, mean: torch.Tensor, logvar: torch.Tensor):
        self.means, self.logvars = mean, logvar

    @property
    def mean(self) -> torch.Tensor:
        return self.means.mean(0)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        return mixture_log_prob(z, self.means, self.logvars)

    def sample(self, sample_shape=(), generator=None) -> torch.Tensor:
        """Component k ~ U{0..K-1}, then z ~ N(mu_k, sigma_k^2): (*sample_shape, L). No gradient."""
        shape = _shape(sample_shape)
        n = math.prod(shape)
        dev = self.means.device
        with torch.no_grad():
            eps = rng.randn((n, self.means.shape[1]), generator=generator, device=dev, dtype=self.means.dtype)
            k = rng.randint(len(self.means), (n,), generator=generator, device=dev)
            z = self.means[k] + torch.exp(0.5 * self.logvars[k]) * eps
        return z.reshape(*shape, -1)


def mixture_log_prob(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, rows: int = 8192,
                     compute_dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """log (1/K) sum_k N(z; mu_k, diag e^logvar_k) for z (..., L) and K components (K, L): (...).

    The quadratic form is expanded into matmuls, sum_l (z_l - m_kl)^2 / v_kl =
    z^2 @ (1/v)^T - 2 z @ (m/v)^T + sum_l m_kl^2 / v_kl, so memory is (rows, K), never (rows, K, L);
    z is processed ``rows`` at a time. The expansion subtracts terms of size |z|^2 / v from each
    other, which float32 cannot do once the components are narrow (posterior log-variance -8: an
    error of about 0.5 nats; -12: about 28 nats), so it is evaluated in ``compute_dtype`` (float64;
    float32 only to measure that error) and the result returned in z's dtype."""
    lead = z.shape[:-1]
    flat = z.reshape(-1, z.shape[-1]).to(compute_dtype)  # (N, L)
    mu64, logvar64 = mu.to(compute_dtype), logvar.to(compute_dtype)
    prec = torch.exp(-logvar64)  # (K, L)
    const = -0.5 * (z.shape[-1] * LOG_2PI + logvar64.sum(-1) + (mu64**2 * prec).sum(-1))  # (K,)
    out = []
    for part in flat.split(rows):
        quad = (part**2) @ prec.T - 2 * part @ (mu64 * prec).T  # (n, K)
        out.append(torch.logsumexp(const - 0.5 * quad, dim=-1))
    return (torch.cat(out) - math.log(mu.shape[0])).to(z.dtype).reshape(lead)


class Bernoulli(Distribution):
    """Independent Bernoulli(sigmoid(logits)) over the last ``event_dims`` dimensions."""

    def __init__(self, logits: torch.Tensor, event_dims: int = 1):
        self.logits, self.event_dims = logits, event_dims

    @property
    def mean(self) -> torch.Tensor:
        return torch.sigmoid(self.logits)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """sum over the event of x log sigmoid(l) + (1 - x) log sigmoid(-l) = x l - softplus(l)
        (-BCE with logits), for any x in [0, 1]. With a gradient to take it runs
        ``binary_cross_entropy_with_logits`` (its fused backward); without one (evaluation, the
        IS-NLL) the same value as x . l - :func:`softplus_sum` (l): fewer element-wise passes, one
        transcendental per logit instead of two, and no expanded copy of x (BENCHMARKS.md, "IS-NLL
        against the ceiling")."""
        lg = self.logits
        if torch.is_grad_enabled() and (lg.requires_grad or x.requires_grad):
            ll = -F.binary_cross_entropy_with_logits(lg, x.expand_as(lg), reduction="none")
            return _sum_last(ll, self.event_dims)
        return _sum_last(lg * x, self.event_dims) - softplus_sum(lg, self.event_dims)

    def sample(self, sample_shape=(), generator=None) -> torch.Tensor:
        p = self.mean.detach()
        shape = _shape(sample_shape)
        if shape:
            p = p.expand(*shape, *p.shape)
        return rng.bernoulli(p, generator=generator)


def kl_divergence(q: Distribution, p: Distribution) -> torch.Tensor | None:
    """KL(q || p) in closed form where there is one (a diagonal Gaussian against N(0, I): AEVB
    appendix B, 0.5 sum(mu^2 + sigma^2 - 1 - log sigma^2)), else None."""
    if isinstance(q, DiagonalGaussian) and isinstance(p, StandardNormal):
        return _sum_last(0.5 * (q.loc**2 + q.logvar.exp() - 1.0 - q.logvar), q.event_dims)
    return None
