"""The independent-pixel baseline: p(x) = prod_i p(x_i), one Bernoulli (or categorical) per pixel
with no dependencies. Its maximum-likelihood fit is the per-pixel marginal, the floor any
autoregressive model should beat."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from genzoo.models.autoregressive._common import AutoregressiveConfig, AutoregressiveModel
from genzoo.registry import register_model


@dataclass(frozen=True)
class IndependentConfig(AutoregressiveConfig):
    pass


@register_model("independent", config=IndependentConfig, objectives=("nll",), family="autoregressive",
                summary="independent pixels (Bernoulli/categorical per pixel): the baseline")
class Independent(AutoregressiveModel):
    def __init__(self, config: IndependentConfig):
        super().__init__(config)
        k = self.out_per_pixel
        shape = (k, *config.shape) if self.categorical else tuple(config.shape)
        self.logit = nn.Parameter(torch.zeros(shape))  # (C, H, W) or (K, C, H, W)

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> None:
        """Start at the maximum-likelihood fit: the log-odds (or log-frequencies) of each pixel's
        training marginal, smoothed by one pseudo-count so no probability is 0 or 1."""
        n = x.shape[0]
        if self.categorical:
            target = self.targets(x)  # (N, C, H, W) integer levels
            counts = torch.nn.functional.one_hot(target, self.out_per_pixel).sum(0).movedim(-1, 0).float()
            self.logit.copy_(torch.log((counts + 1.0) / (n + self.out_per_pixel)))
        else:
            p = (self.to_unit(x).sum(0) + 1.0) / (n + 2.0)
            self.logit.copy_(torch.log(p) - torch.log1p(-p))

    def _logits(self, u: torch.Tensor) -> torch.Tensor:
        return self.logit.expand(u.shape[0], *self.logit.shape)

    @torch.no_grad()
    def sample(self, n, *, generator=None, fast=True, noise=None, **kw):
        """All pixels at once when ``fast`` (no dependencies); same noise layout as the base."""
        if not fast:
            return super().sample(n, generator=generator, fast=False, noise=noise)
        ch, h, w = self.config.shape
        if noise is None:
            noise = torch.rand(n, h, w, ch, generator=generator, dtype=self.logit.dtype, device=self.device)
        u = noise.permute(0, 3, 1, 2)  # (n, C, H, W)
        logits = self._logits(u)
        if self.categorical:
            logits = logits.movedim(1, -1)  # (n, C, H, W, K)
        return self.from_unit(self._draw(logits, u))
