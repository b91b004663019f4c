"""The independent-pixel baseline: p(x) = prod_i p(x_i), one Bernoulli (or categorical) per pixel
with no dependencies. Its maximum-likelihood fit is the per-pixel marginal, the floor any
autoregressive model should beat."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from genzoo.models.autoregressive._common import AutoregressiveConfig, AutoregressiveModel, from_raster
from genzoo.nn import random as rng
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
        shape = (k, *self.grid) if self.vector_output else self.grid
        self.logit = nn.Parameter(torch.zeros(shape))  # (C, H, W) or (K, C, H, W); vectors: C = H = 1

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> None:
        """Start at the maximum-likelihood fit: each pixel's (smoothed) training marginal."""
        logits = from_raster(self.marginal_logits(x).unsqueeze(0), self.grid, self.vector_output)
        self.logit.copy_(logits[0])

    def _logits(self, u: torch.Tensor) -> torch.Tensor:
        return self.logit.expand(u.shape[0], *self.logit.shape)

    @torch.no_grad()
    def sample(self, n, *, generator=None, condition=None, fast=True, noise=None):
        """All pixels at once when ``fast`` (no dependencies); same noise layout as the base."""
        if not fast or self.mixture is not None:  # the mixture's channels depend on each other
            return super().sample(n, generator=generator, condition=condition, fast=fast, noise=noise)
        self.check_condition(condition)
        ch, h, w = self.grid
        if noise is None:
            noise = rng.rand((n, h, w, ch), generator=generator, dtype=self.logit.dtype, device=self.device)
        u = noise.permute(0, 3, 1, 2)  # (n, C, H, W)
        logits = self._logits(u)
        if self.vector_output:
            logits = logits.movedim(1, -1)  # (n, C, H, W, K)
        return self.from_unit(self._draw(logits, u)).reshape(n, *self.config.shape)
