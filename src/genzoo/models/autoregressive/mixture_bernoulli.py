"""Mixture of multivariate Bernoullis (the "MoB" baseline of Larochelle & Murray 2011, table 2):

    p(x) = sum_k pi_k prod_d mu_kd^x_d (1 - mu_kd)^(1 - x_d),

with K components. The likelihood is exact (a logsumexp over components); samples draw a component,
then every dimension independently. Trained by gradient (objective ``nll``) or by EM
(:func:`genzoo.objectives.em.fit_em`, which uses :meth:`MixtureOfBernoullis.component_log_joint`
and :meth:`MixtureOfBernoullis.assign`). Binary data only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.config import field
from genzoo.models.autoregressive._common import AutoregressiveConfig, AutoregressiveModel, to_raster
from genzoo.registry import register_model


@dataclass(frozen=True)
class MixtureOfBernoullisConfig(AutoregressiveConfig):
    components: int = field(32, help="number of mixture components K")


@register_model("mob", config=MixtureOfBernoullisConfig, objectives=("nll",), family="autoregressive",
                summary="mixture of Bernoullis (binary data): exact likelihood, EM or gradient training")
class MixtureOfBernoullis(AutoregressiveModel):
    def __init__(self, config: MixtureOfBernoullisConfig):
        super().__init__(config)
        if self.categorical:
            raise ValueError("mob models binary data only (likelihood must be 'bernoulli')")
        if config.components < 1:
            raise ValueError(f"components must be positive, got {config.components}")
        self.weight_logits = nn.Parameter(torch.zeros(config.components))  # (K,)
        self.logits = nn.Parameter(torch.randn(config.components, config.dim) * 0.1)  # (K, D)

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> None:
        """Every component starts at the training marginals plus its small random offset."""
        self.logits.add_(self.marginal_logits(x))

    def component_log_joint(self, x: torch.Tensor) -> torch.Tensor:
        """log pi_k + log p(x | k) for every component: (B, K)."""
        self.check_input(x)
        v = to_raster(self.to_unit(x))  # (B, D)
        # log p(x | k) = sum_d x_d l_kd - softplus(l_kd)
        log_px = v @ self.logits.t() - F.softplus(self.logits).sum(1)  # (B, K)
        return log_px + torch.log_softmax(self.weight_logits, 0)

    def log_prob(self, x: torch.Tensor, *, k: int | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Exact log p(x) in nats: (B,). ``k`` and ``generator`` are unused."""
        return torch.logsumexp(self.component_log_joint(x), 1)

    @torch.no_grad()
    def assign(self, weights: torch.Tensor, probs: torch.Tensor, eps: float = 1e-7) -> None:
        """Set the mixture weights (K,) and Bernoulli means (K, D) (clipped to [eps, 1 - eps])."""
        self.weight_logits.copy_(torch.log(weights.clamp_min(1e-30)))
        p = probs.clamp(eps, 1 - eps)
        self.logits.copy_(torch.log(p) - torch.log1p(-p))

    def _logits(self, u: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("a mixture has no per-dimension autoregressive logits; use log_prob")

    def pixel_log_probs(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("a mixture does not factor over dimensions; use log_prob")

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, condition=None, **kw) -> torch.Tensor:
        """A component per sample from pi, then independent Bernoullis: (n, *shape)."""
        if condition is not None:
            raise ValueError("mob is unconditional: condition must be None")
        if n < 1:
            raise ValueError(f"number of samples must be positive, got {n}")
        probs = torch.softmax(self.weight_logits, 0).cpu()
        comp = torch.multinomial(probs, n, replacement=True, generator=generator).to(self.device)  # (n,)
        u = torch.rand(n, self.config.dim, generator=generator).to(self.device)
        v = (u < torch.sigmoid(self.logits[comp])).to(self.logits.dtype)
        return self.from_unit(v).reshape(n, *self.config.shape)
