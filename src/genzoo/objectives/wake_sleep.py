"""Wake-sleep (Hinton, Dayan, Frey & Neal 1995) for a Helmholtz machine with continuous latents:
the baseline that the AEVB paper compares against (Kingma & Welling 2013, section 5).

* wake phase: z ~ q(z|x) (no gradient through the sample); the generative parameters ascend
  log p(x, z) = log p(x|z) + log p(z).
* sleep phase: z ~ p(z), x ~ p(x|z) ("dreams"); the recognition parameters ascend log q(z|x).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genzoo.objectives.base import Batch, Objective, ObjectiveConfig
from genzoo.registry import register_objective


@dataclass(frozen=True)
class WakeSleepConfig(ObjectiveConfig):
    pass


@register_objective("wake-sleep", config=WakeSleepConfig,
                    summary="wake-sleep: wake updates p(x|z), sleep updates q(z|x)")
class WakeSleep(Objective):
    players = ("wake", "sleep")
    monitor = "neg_elbo"

    def parameters(self, model, player):
        if getattr(model.config, "prior", "standard") != "standard":
            raise ValueError("wake-sleep needs a fixed prior p(z); this model's prior is "
                             f"{model.config.prior!r} (use prior 'standard')")
        return (model.decoder if player == "wake" else model.encoder).parameters()

    def __call__(self, model, batch: Batch, *, player="wake", generator=None):
        x = batch["x"]
        if player == "wake":
            with torch.no_grad():
                mu, logvar = model.posterior(x)
                z = model.rsample_posterior(mu, logvar, 1, generator)  # (1, B, L)
            log_joint = model.decoder_log_prob(x, z)[0] - 0.5 * (z[0] ** 2).sum(-1)
            return {"loss": -log_joint, "wake_neg_log_joint": -log_joint.detach()}
        z, dream = self._dream(model, x.shape[0], generator)
        mu, logvar = model.posterior(dream)
        log_q = model.posterior_log_prob(z, mu, logvar)
        return {"loss": -log_q, "sleep_neg_log_q": -log_q.detach()}

    @staticmethod
    @torch.no_grad()
    def _dream(model, n, generator):
        z = torch.randn(n, model.latent_dim, generator=generator, device=model.device)
        a, b = model.decoder_params(z)
        if b is None:
            x = torch.bernoulli(torch.sigmoid(a), generator=generator)
        else:
            x = a + torch.exp(0.5 * b) * torch.randn(a.shape, generator=generator, device=a.device)
        return z, x

    @torch.no_grad()
    def evaluate(self, model, batch, *, generator=None):
        neg_elbo = -model.elbo(batch["x"], generator=generator)
        return {"neg_elbo": neg_elbo}
