"""The one interface every genzoo model offers.

A model is an ``nn.Module`` with no training logic. Density models answer ``log_prob(x)``
(nats per example: exact for autoregressive models, an importance-sampled estimate for
latent-variable models) and ``sample(n)``; latent-variable models add ``encode``/``decode``
and ``elbo``. Implicit models (GANs) sample but have no likelihood, and say so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from genzoo.config import field


@dataclass(frozen=True)
class ModelConfig:
    """Fields every model config has. ``shape`` is filled in from the data by the trainer/CLI."""

    shape: tuple[int, ...] = field((1, 28, 28), help="data shape (C, H, W); set from the data")

    @property
    def dim(self) -> int:
        return math.prod(self.shape)


class GenerativeModel(nn.Module):
    """Base class. Subclasses set ``has_likelihood`` / ``exact_likelihood`` / ``has_latent``."""

    has_likelihood: bool = True
    exact_likelihood: bool = True
    has_latent: bool = False
    registry_name: str = ""
    #: what ``log_prob`` is a distribution over (the data contract, :mod:`genzoo.data.spec`):
    #: "bernoulli", "categorical", "discretized", "continuous", or None (no likelihood)
    data_likelihood: str | None = None
    #: levels per value of a "categorical"/"discretized" likelihood (else None)
    likelihood_levels: int | None = None

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        for b in self.buffers():
            return b.device
        return torch.device("cpu")

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> None:
        """Data-dependent initialisation before training (e.g. output biases set to the training
        marginals); called once by :func:`genzoo.training.run.train`. Default: nothing."""

    def log_prob(self, x: torch.Tensor, **kw) -> torch.Tensor:
        """log p(x) in nats, one value per example: shape (B,)."""
        raise NotImplementedError(f"{type(self).__name__} has no likelihood")

    def sample(self, n: int, *, generator: torch.Generator | None = None, **kw) -> torch.Tensor:
        """n samples in data space, shape (n, *config.shape)."""
        raise NotImplementedError(f"{type(self).__name__} cannot sample")


class LatentVariableModel(GenerativeModel):
    """A model with a latent code: ``encode(x)`` gives the code (posterior mean for a VAE),
    ``decode(z)`` the mean of p(x|z)."""

    has_latent = True
    latent_dim: int

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def bits_per_dim(nll_nats: float | torch.Tensor, dim: int):
    """Convert a per-example NLL in nats into bits per dimension."""
    return nll_nats / (dim * math.log(2.0))
