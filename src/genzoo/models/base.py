"""The one interface every genzoo model offers.

A model is an ``nn.Module`` with no training logic. Density models answer ``log_prob(x)``
(nats per example: exact for autoregressive models, an importance-sampled estimate for
latent-variable models) and ``sample(n)``; latent-variable models add ``encode``/``decode``
and ``elbo``. Implicit models (GANs) sample but have no likelihood, and say so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

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

    # ---- saving on its own; config fields that name code (see genzoo.training.loading) ----------
    #: keyword arguments of ``__init__`` that take user functions named by config fields
    code_arguments: tuple[str, ...] = ()

    @classmethod
    def code_fields(cls, config: ModelConfig) -> dict[str, str]:
        """The config fields naming Python code (``"module:function"``) this config needs, with their
        values. A loader never imports them: the caller passes the functions as the keyword
        arguments of the same names (:mod:`genzoo.code`). Default: none."""
        return {}

    def save_pretrained(self, directory) -> Path:
        """Save this model on its own (config.json + model.safetensors, no training state), to share,
        serve or fine-tune it (``genzoo train MODEL --init-from DIR``); ``genzoo.load(DIR)`` or
        :meth:`from_pretrained` reads it back."""
        from genzoo.training.loading import save_pretrained

        return save_pretrained(self, directory)

    @classmethod
    def from_pretrained(cls, directory, device="cpu", **kw) -> GenerativeModel:
        """``genzoo.load(directory)`` (a model or run directory), checked to be a ``cls``."""
        from genzoo.training.loading import load

        model = load(directory, device=device, **kw)
        if not isinstance(model, cls):
            raise ValueError(f"{directory} holds a {type(model).__name__}, not a {cls.__name__}")
        return model


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
