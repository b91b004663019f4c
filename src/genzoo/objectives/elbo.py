"""The variational objectives of the VAE family: the SGVB ELBO (Kingma & Welling 2013) and the
importance-weighted bound (Burda et al., "Importance Weighted Autoencoders", 2016). The bounds
themselves are computed by :mod:`genzoo.objectives.variational` over the model's prior,
posterior and likelihood.

Data contract (:mod:`genzoo.data.spec`): a Bernoulli decoder on grey-level data may train, as a
reconstruction loss, but its value is not a bound on any likelihood; the logged figure is then
named ``grey_bce_plus_kl`` (``grey_bce_iw_bound`` for IWAE) instead of ``neg_elbo``
(``neg_iwae_bound``). Bernoulli with ``--scale pm1`` is refused before training."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genzoo.config import field
from genzoo.objectives.base import Batch, Objective, ObjectiveConfig
from genzoo.objectives.variational import elbo as elbo_estimate
from genzoo.objectives.variational import iwae_bound
from genzoo.registry import register_objective


@dataclass(frozen=True)
class ELBOConfig(ObjectiveConfig):
    estimator: str = field("B", help="SGVB estimator: A = Monte-Carlo KL (eq. 6), B = analytic KL (eq. 10)",
                           choices=("A", "B"))
    samples: int = field(1, help="L, posterior samples per data point")
    beta: float = field(1.0, help="weight of the KL term (beta-VAE); 1 is the true ELBO")
    per_dim: bool = field(False, help="divide the training loss by the data dimension D (a per-pixel mean, as "
                                      "Keras's binary_crossentropy is); the reported -ELBO stays in nats")


@register_objective("elbo", config=ELBOConfig, summary="negative ELBO, SGVB estimator A or B (Kingma & Welling)")
class ELBO(Objective):
    monitor = "neg_elbo"

    def check_data(self, model, spec) -> None:
        if spec.check_model(model) == "bce_grey":
            self.monitor = "grey_bce_plus_kl"  # BCE on grey values + KL: not a bound on a likelihood

    def __call__(self, model, batch: Batch, *, player="model", generator=None):
        c = self.config
        elbo = elbo_estimate(model, batch["x"], k=c.samples, analytic_kl=c.estimator == "B", beta=c.beta,
                             generator=generator)
        out = {"loss": -elbo / batch["x"][0].numel() if c.per_dim else -elbo}
        if c.beta != 1.0:  # report the true bound too
            with torch.no_grad():
                elbo = elbo_estimate(model, batch["x"], k=c.samples, generator=generator)
        out[self.monitor] = -elbo.detach()
        return out


@dataclass(frozen=True)
class IWAEConfig(ObjectiveConfig):
    samples: int = field(50, help="k, importance samples per data point")


@register_objective("iwae", config=IWAEConfig, summary="importance-weighted bound with k samples (Burda et al.)")
class IWAE(Objective):
    monitor = "neg_iwae_bound"

    def check_data(self, model, spec) -> None:
        if spec.check_model(model) == "bce_grey":
            self.monitor = "grey_bce_iw_bound"  # not a bound on a likelihood

    def __call__(self, model, batch: Batch, *, player="model", generator=None):
        bound = iwae_bound(model, batch["x"], self.config.samples, generator)  # (B,)
        return {"loss": -bound, self.monitor: -bound.detach()}
