"""The one interface every genzoo model offers.

A model is an ``nn.Module`` with no training logic. Every model answers

* ``sample(n, *, generator=None, condition=None) -> (n, *shape)``: exactly ``n`` true samples in
  data space (a VAE with a Bernoulli decoder draws the pixels; decoder means are a separate call,
  :meth:`GenerativeModel.sample_mean`). ``condition`` is what :attr:`~GenerativeModel.condition_type`
  says (a class label, a caption), or None for a random one / an unconditional model.
* ``log_prob(x, *, k=None, generator=None) -> (B,)`` in nats, for density models
  (``has_likelihood``). ``exact_likelihood`` says whether it is exact (autoregressive models) or an
  importance-sampled estimate with ``k`` samples (latent-variable models; ``k=None`` means
  ``default_k``). Exact models ignore ``k`` and ``generator``.

Latent-variable models add ``encode``/``decode``; the variational family adds the three
distributions ``prior()``, ``posterior(x)`` and ``likelihood(z)`` (:class:`VariationalModel`), on
which the ELBO, IWAE and IS-NLL of :mod:`genzoo.objectives.variational` and
:mod:`genzoo.evaluation.importance` are written. Implicit models (GANs) sample but have no
likelihood, and say so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from genzoo.config import field
from genzoo.nn.random import device_of


@dataclass(frozen=True)
class ModelConfig:
    """Fields every model config has. ``shape`` is filled in from the data by the trainer/CLI."""

    shape: tuple[int, ...] = field((1, 28, 28), help="data shape (C, H, W); set from the data")

    @property
    def dim(self) -> int:
        return math.prod(self.shape)


def check_count(n: int) -> int:
    """``n`` as a positive int (ValueError otherwise): the sample count every ``sample`` takes."""
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"number of samples must be a positive integer, got {n!r}")
    return int(n)


class GenerativeModel(nn.Module):
    """Base class. Subclasses set the class flags below and override what they offer."""

    #: log_prob(x) is defined
    has_likelihood: bool = True
    #: log_prob(x) is exact; False: an importance-sampled estimate with k samples
    exact_likelihood: bool = True
    #: encode(x) is defined (a code per input)
    has_latent: bool = False
    #: sample(n) is defined (CycleGAN translates instead)
    can_sample: bool = True
    #: what ``sample(condition=...)`` takes: None (nothing), "label" (int or n ints), "text" (captions)
    condition_type: str | None = None
    #: importance samples of log_prob when ``k`` is None (estimated likelihoods only)
    default_k: int | None = None
    #: the family of p(x) (or of p(x|z)): "bernoulli", "categorical", "gaussian", or None (no likelihood)
    likelihood_type: str | None = None
    registry_name: str = ""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config

    @property
    def device(self) -> torch.device:
        return device_of(self)

    def check_input(self, x: torch.Tensor) -> None:
        """ValueError unless ``x`` is a batch of data of this model's shape: (B, *config.shape)."""
        shape = tuple(self.config.shape)
        if x.dim() != len(shape) + 1 or tuple(x.shape[1:]) != shape:
            what = {3: "images", 1: "vectors"}.get(len(shape), "data")
            raise ValueError(f"{type(self).__name__} expects {what} of shape (B, {', '.join(map(str, shape))}), "
                             f"got {tuple(x.shape)}")

    def check_condition(self, condition: Any) -> None:
        """ValueError when a condition is given to a model that takes none."""
        if condition is not None and self.condition_type is None:
            raise ValueError(f"{type(self).__name__} is unconditional: it takes no condition "
                             f"(got {type(condition).__name__})")

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> None:
        """Data-dependent initialisation before training (e.g. output biases set to the training
        marginals); called once by :func:`genzoo.training.run.train`. Default: nothing."""

    def log_prob(self, x: torch.Tensor, *, k: int | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """log p(x) in nats, one value per example: shape (B,)."""
        raise NotImplementedError(f"{type(self).__name__} has no likelihood")

    def sample(self, n: int, *, generator: torch.Generator | None = None, condition: Any = None) -> torch.Tensor:
        """Exactly n true samples in data space, shape (n, *config.shape)."""
        raise NotImplementedError(f"{type(self).__name__} cannot sample")

    def sample_mean(self, n: int, *, generator: torch.Generator | None = None, condition: Any = None
                    ) -> torch.Tensor:
        """The means E[x | z] of p(x|z) for n latent draws z ~ p(z) (the usual smooth VAE picture),
        (n, *config.shape). Only models with a decoder distribution have it."""
        raise NotImplementedError(f"{type(self).__name__} has no decoder distribution, so no decoder means: "
                                  "use sample()")

    def draw_latent(self, n: int, *, generator: torch.Generator | None = None, condition: Any = None
                    ) -> torch.Tensor:
        """n draws of the model's latent input, (n, latent size), which :meth:`decode` maps to data
        space (a prior sample for a VAE, the generator's whole input for a GAN)."""
        raise NotImplementedError(f"{type(self).__name__} has no latent space to draw from")

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent -> data space: the mean of p(x|z) (VAE), the decoder output (AE, AAE) or G(z) (GAN)."""
        raise NotImplementedError(f"{type(self).__name__} has no decoder")

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
    ``decode(z)`` the mean of p(x|z) (or the deterministic decoder output)."""

    has_latent = True
    latent_dim: int

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class VariationalModel(LatentVariableModel):
    """The family the variational bounds are written for: a prior p(z), an amortised posterior
    q(z|x) and a likelihood p(x|z), each a :mod:`genzoo.distributions` object.

    Subclasses implement :meth:`prior`, :meth:`posterior` and :meth:`likelihood`; sampling,
    decoder means, codes and the importance-sampled ``log_prob`` follow from them.
    """

    exact_likelihood = False
    #: importance samples of log_prob by default (Burda et al. 2016 evaluate with k = 5000)
    default_k = 5000
    #: whether p(z) has parameters (VampPrior); wake-sleep needs a fixed prior
    learnt_prior: bool = False

    def prior(self):
        """p(z): a distribution over (latent_dim,) with ``log_prob`` and ``sample``."""
        raise NotImplementedError

    def posterior(self, x: torch.Tensor):
        """q(z|x): a reparameterisable distribution with batch shape (B,) over (latent_dim,)."""
        raise NotImplementedError

    def likelihood(self, z: torch.Tensor):
        """p(x|z) for z (..., latent_dim): batch shape (...), event shape config.shape."""
        raise NotImplementedError

    def recognition_parameters(self):
        """Parameters of q(z|x) (the sleep phase of wake-sleep updates these)."""
        raise NotImplementedError

    def generative_parameters(self):
        """Parameters of p(x|z) p(z) (the wake phase of wake-sleep updates these)."""
        raise NotImplementedError

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The posterior mean, the usual code for downstream use: (B, latent_dim)."""
        return self.posterior(x).mean

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Mean of p(x|z): (..., *config.shape)."""
        return self.likelihood(z).mean

    @torch.no_grad()
    def draw_latent(self, n: int, *, generator: torch.Generator | None = None, condition: Any = None
                    ) -> torch.Tensor:
        """z ~ p(z): (n, latent_dim)."""
        self.check_condition(condition)
        return self.prior().sample((check_count(n),), generator)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, condition: Any = None) -> torch.Tensor:
        """x ~ p(x|z), z ~ p(z): true samples, (n, *config.shape)."""
        z = self.draw_latent(n, generator=generator, condition=condition)
        return self.likelihood(z).sample(generator=generator)

    @torch.no_grad()
    def sample_mean(self, n: int, *, generator: torch.Generator | None = None, condition: Any = None
                    ) -> torch.Tensor:
        """E[x|z] for z ~ p(z): decoder means, not samples, (n, *config.shape)."""
        return self.decode(self.draw_latent(n, generator=generator, condition=condition))

    @torch.no_grad()
    def log_prob(self, x: torch.Tensor, *, k: int | None = None, generator: torch.Generator | None = None,
                 chunk: int = 500, compile: bool = False) -> torch.Tensor:
        """Importance-sampled estimate of log p(x) with ``k`` samples of q(z|x) (default
        :attr:`default_k` = 5000), :func:`genzoo.evaluation.importance.importance_sampled_log_prob`:
        (B,). A stochastic lower bound in expectation (Burda et al. 2016, Theorem 1). ``compile``:
        run the decoder and its log-density compiled (torch.compile; same draws, same value)."""
        from genzoo.evaluation.importance import importance_sampled_log_prob

        return importance_sampled_log_prob(self, x, k=self.default_k if k is None else k, chunk=chunk,
                                           generator=generator, compile=compile)


def bits_per_dim(nll_nats: float | torch.Tensor, dim: int):
    """Convert a per-example NLL in nats into bits per dimension."""
    return nll_nats / (dim * math.log(2.0))
