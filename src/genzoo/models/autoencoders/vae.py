"""Variational autoencoder (Kingma & Welling, "Auto-Encoding Variational Bayes", 2013).

Recognition model q(z|x) = N(mu(x), diag sigma^2(x)), prior p(z) = N(0, I), and a Bernoulli or
Gaussian decoder p(x|z). The model computes the pieces; the objectives
(:mod:`genzoo.objectives.elbo`, ``iwae``, ``wake_sleep``) decide how to train on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from genzoo.config import field
from genzoo.models.autoencoders._common import EncoderDecoderConfig, build_decoder, build_encoder
from genzoo.models.base import LatentVariableModel
from genzoo.registry import register_model, register_variant

LOG_2PI = math.log(2 * math.pi)


def gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Elementwise log N(x; mean, exp(logvar))."""
    return -0.5 * (LOG_2PI + logvar + (x - mean) ** 2 * torch.exp(-logvar))


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    return -0.5 * (LOG_2PI + z**2)


def analytic_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag e^logvar) || N(0, I)) summed over the last dim (AEVB appendix B)."""
    return 0.5 * (mu**2 + logvar.exp() - 1.0 - logvar).sum(-1)


@dataclass(frozen=True)
class VAEConfig(EncoderDecoderConfig):
    decoder: str = field("bernoulli", help="p(x|z): Bernoulli (binary/[0,1] data) or diagonal Gaussian",
                         choices=("bernoulli", "gaussian"))
    min_logvar: float = field(-10.0, help="lower clamp for Gaussian decoder log-variance")


@register_model("vae", config=VAEConfig, objectives=("elbo", "iwae", "wake-sleep"), family="latent",
                summary="VAE (AEVB), MLP encoder/decoder, Bernoulli or Gaussian decoder")
class VAE(LatentVariableModel):
    exact_likelihood = False

    def __init__(self, config: VAEConfig):
        super().__init__(config)
        self.latent_dim = config.latent_dim
        self.encoder = build_encoder(config, 2 * config.latent_dim)  # -> (mu, logvar)
        self.decoder = build_decoder(config, 2 if config.decoder == "gaussian" else 1)

    # --- recognition model q(z|x) -------------------------------------------------------------
    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) of q(z|x), each (B, latent_dim)."""
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The posterior mean, the usual code for downstream use."""
        return self.posterior(x)[0]

    def rsample_posterior(self, mu, logvar, k: int = 1, generator=None) -> torch.Tensor:
        """Reparameterised z = mu + sigma * eps, eps ~ N(0, I): (k, B, latent_dim)."""
        eps = torch.randn((k, *mu.shape), generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps

    def posterior_log_prob(self, z, mu, logvar) -> torch.Tensor:
        return gaussian_log_prob(z, mu, logvar).sum(-1)

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> None:
        """Bernoulli MLP decoder: start its output bias at the log-odds of each pixel's training
        marginal (smoothed by one pseudo-count), as Burda et al. (2016) do; the decoder then starts
        at the independent-pixel fit instead of p = 1/2 everywhere. Other decoders: unchanged."""
        last = [m for m in self.decoder.modules() if isinstance(m, torch.nn.Linear)]
        if self.config.decoder != "bernoulli" or not last or last[-1].out_features != x[0].numel():
            return
        p = (x.reshape(len(x), -1).float().clamp(0, 1).sum(0) + 1.0) / (len(x) + 2.0)
        last[-1].bias.copy_((torch.log(p) - torch.log1p(-p)).to(last[-1].bias))

    # --- generative model p(x|z) p(z) ---------------------------------------------------------
    def decoder_params(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Bernoulli: (logits, None). Gaussian: (mean, logvar). z may have leading dims (k, B, ...)."""
        lead = z.shape[:-1]
        out = self.decoder(z.reshape(-1, z.shape[-1]))
        if self.config.decoder == "bernoulli":
            return out.view(*lead, *self.config.shape), None
        mean, logvar = out.chunk(2, dim=1)
        logvar = logvar.clamp(min=self.config.min_logvar)
        return mean.reshape(*lead, *self.config.shape), logvar.reshape(*lead, *self.config.shape)

    def decoder_log_prob(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x|z) summed over pixels; z (k, B, L) -> (k, B)."""
        a, b = self.decoder_params(z)
        if b is None:
            ll = -F.binary_cross_entropy_with_logits(a, x.expand_as(a), reduction="none")
        else:
            ll = gaussian_log_prob(x, a, b)
        return ll.flatten(2).sum(-1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Mean of p(x|z)."""
        a, _ = self.decoder_params(z)
        return torch.sigmoid(a) if self.config.decoder == "bernoulli" else a

    def sample(self, n: int, *, generator=None, mean: bool = True) -> torch.Tensor:
        """Decode z ~ N(0, I). ``mean=True`` returns the decoder means (the usual picture);
        ``mean=False`` draws x ~ p(x|z)."""
        z = torch.randn(n, self.latent_dim, generator=generator, device=self.device)
        a, b = self.decoder_params(z)
        if mean:
            return torch.sigmoid(a) if b is None else a
        if b is None:
            return torch.bernoulli(torch.sigmoid(a), generator=generator)
        return a + torch.exp(0.5 * b) * torch.randn(a.shape, generator=generator, device=a.device)

    # --- bounds and likelihood -------------------------------------------------------------
    def elbo(self, x: torch.Tensor, *, k: int = 1, analytic_kl_term: bool = True, beta: float = 1.0,
             generator=None) -> torch.Tensor:
        """The SGVB estimate of the ELBO, per example (B,).

        Estimator B (``analytic_kl_term=True``, AEVB eq. 10): E_q[log p(x|z)] by k samples minus the
        closed-form KL. Estimator A (eq. 6): the mean over k samples of log p(x,z) - log q(z|x).
        ``beta`` weights the KL (beta-VAE)."""
        mu, logvar = self.posterior(x)
        z = self.rsample_posterior(mu, logvar, k, generator)  # (k, B, L)
        rec = self.decoder_log_prob(x, z)  # (k, B)
        if analytic_kl_term:
            kl = analytic_kl(mu, logvar)  # (B,)
        else:
            kl = (self.posterior_log_prob(z, mu, logvar) - standard_normal_log_prob(z).sum(-1)).mean(0)
        return rec.mean(0) - beta * kl

    def log_weights(self, x: torch.Tensor, k: int, generator=None) -> torch.Tensor:
        """Importance log-weights log p(x, z_i) - log q(z_i|x), z_i ~ q(z|x): (k, B)."""
        mu, logvar = self.posterior(x)
        z = self.rsample_posterior(mu, logvar, k, generator)
        return (self.decoder_log_prob(x, z) + standard_normal_log_prob(z).sum(-1)
                - self.posterior_log_prob(z, mu, logvar))

    @torch.no_grad()
    def log_prob(self, x: torch.Tensor, *, k: int = 5000, chunk: int = 500, generator=None) -> torch.Tensor:
        """Importance-sampled estimate log (1/k) sum_i p(x, z_i)/q(z_i|x) (Burda et al. 2016,
        eq. 8 used as an estimator), computed in chunks of ``chunk`` samples: (B,)."""
        parts = [torch.logsumexp(self.log_weights(x, min(chunk, k - s), generator), dim=0)
                 for s in range(0, k, chunk)]
        return torch.logsumexp(torch.stack(parts), dim=0) - math.log(k)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.posterior(x)


register_variant("vae-conv", VAE, config=VAEConfig, objectives=("elbo", "iwae", "wake-sleep"),
                 family="latent", summary="convolutional VAE (Keras-example nets), latent 2 by default",
                 overrides={"arch": "conv", "latent_dim": 2})
register_variant("wake-sleep", VAE, config=VAEConfig, objectives=("wake-sleep", "elbo"), family="latent",
                 summary="Helmholtz machine on the VAE nets trained by wake-sleep (Hinton et al. 1995)")
