"""Wake-sleep (Hinton, Dayan, Frey & Neal 1995) for a Helmholtz machine with continuous latents:
the baseline that the AEVB paper compares against (Kingma & Welling 2013, section 5).

* wake phase: z ~ q(z|x) (no gradient through the sample); the generative parameters ascend
  log p(x, z) = log p(x|z) + log p(z).
* sleep phase: z ~ p(z), x ~ p(x|z) ("dreams"); the recognition parameters ascend log q(z|x).

Written over the variational family interface (:class:`genzoo.models.base.VariationalModel`):
``prior()``, ``posterior(x)``, ``likelihood(z)``, ``recognition_parameters()`` and
``generative_parameters()``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genzoo.objectives.base import Batch, Objective, ObjectiveConfig
from genzoo.objectives.variational import elbo
from genzoo.registry import register_objective


@dataclass(frozen=True)
class WakeSleepConfig(ObjectiveConfig):
    pass


@register_objective("wake-sleep", config=WakeSleepConfig,
                    summary="wake-sleep: wake updates p(x|z), sleep updates q(z|x)")
class WakeSleep(Objective):
    players = ("wake", "sleep")
    monitor = "neg_elbo"

    def check_data(self, model, spec) -> None:
        if spec.check_model(model) == "bce_grey":  # Bernoulli on grey values: not an ELBO (data contract)
            self.monitor = "grey_bce_plus_kl"

    def parameters(self, model, player):
        if model.learnt_prior:
            raise ValueError("wake-sleep needs a fixed prior p(z); this model's prior is learnt "
                             "(use prior 'standard')")
        return model.generative_parameters() if player == "wake" else model.recognition_parameters()

    @staticmethod
    def log_joint(model, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x|z) + log p(z), the full log density (including -L/2 log 2 pi): (B,)."""
        return model.likelihood(z).log_prob(x) + model.prior().log_prob(z)

    def __call__(self, model, batch: Batch, *, player="wake", generator=None):
        x = batch["x"]
        if player == "wake":
            with torch.no_grad():
                z = model.posterior(x).sample(generator=generator)  # (B, L)
            log_joint = self.log_joint(model, x, z)
            return {"loss": -log_joint, "wake_neg_log_joint": -log_joint.detach()}
        z, dream = self.dream(model, x.shape[0], generator)
        log_q = model.posterior(dream).log_prob(z)
        return {"loss": -log_q, "sleep_neg_log_q": -log_q.detach()}

    @staticmethod
    @torch.no_grad()
    def dream(model, n: int, generator=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(z, x): z ~ p(z), x ~ p(x|z)."""
        z = model.prior().sample((n,), generator)
        return z, model.likelihood(z).sample(generator=generator)

    @torch.no_grad()
    def evaluate(self, model, batch, *, generator=None):
        return {self.monitor: -elbo(model, batch["x"], generator=generator)}
