"""Variational autoencoder (Kingma & Welling, "Auto-Encoding Variational Bayes", 2013).

Recognition model q(z|x) = N(mu(x), diag sigma^2(x)), a prior p(z), and a Bernoulli or
Gaussian decoder p(x|z). The prior is N(0, I) (the paper's) or the VampPrior of Tomczak & Welling
("VAE with a VampPrior", 2018): the mixture (1/K) sum_k q(z|u_k) of the posteriors of K learnt
pseudo-inputs u_k. The model computes the pieces; the objectives (:mod:`genzoo.objectives.elbo`,
``iwae``, ``wake_sleep``) decide how to train on them.
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


def gaussian_entropy(logvar: torch.Tensor) -> torch.Tensor:
    """Entropy of N(mu, diag e^logvar), summed over the last dim."""
    return 0.5 * (LOG_2PI + 1.0 + logvar).sum(-1)


def mixture_log_prob(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, rows: int = 8192) -> torch.Tensor:
    """log (1/K) sum_k N(z; mu_k, diag e^logvar_k) for z (..., L) and K components (K, L): (...).

    The quadratic form is expanded into matmuls, sum_l (z_l - m_kl)^2 / v_kl =
    z^2 @ (1/v)^T - 2 z @ (m/v)^T + sum_l m_kl^2 / v_kl, so memory is (rows, K), never (rows, K, L);
    z is processed ``rows`` at a time."""
    lead = z.shape[:-1]
    flat = z.reshape(-1, z.shape[-1])  # (N, L)
    prec = torch.exp(-logvar)  # (K, L)
    const = -0.5 * (z.shape[-1] * LOG_2PI + logvar.sum(-1) + (mu**2 * prec).sum(-1))  # (K,)
    out = []
    for part in flat.split(rows):
        quad = (part**2) @ prec.T - 2 * part @ (mu * prec).T  # (n, K)
        out.append(torch.logsumexp(const - 0.5 * quad, dim=-1))
    return (torch.cat(out) - math.log(mu.shape[0])).reshape(lead)


@dataclass(frozen=True)
class VAEConfig(EncoderDecoderConfig):
    decoder: str = field("bernoulli", help="p(x|z): Bernoulli (binary/[0,1] data) or diagonal Gaussian",
                         choices=("bernoulli", "gaussian"))
    min_logvar: float = field(-10.0, help="lower clamp for Gaussian decoder log-variance")
    prior: str = field("standard", help="p(z): N(0, I), or the VampPrior (Tomczak & Welling 2018), a "
                                        "mixture of the posteriors of learnt pseudo-inputs",
                       choices=("standard", "vamp"))
    pseudo_inputs: int = field(500, help="VampPrior: number K of pseudo-inputs (mixture components)")

    def __post_init__(self):
        super().__post_init__()
        if self.prior == "vamp" and self.pseudo_inputs < 1:
            raise ValueError(f"pseudo_inputs must be >= 1, got {self.pseudo_inputs}")


@register_model("vae", config=VAEConfig, objectives=("elbo", "iwae", "wake-sleep"), family="latent",
                summary="VAE (AEVB), MLP encoder/decoder, Bernoulli or Gaussian decoder")
class VAE(LatentVariableModel):
    exact_likelihood = False

    def __init__(self, config: VAEConfig):
        super().__init__(config)
        self.latent_dim = config.latent_dim
        self.encoder = build_encoder(config, 2 * config.latent_dim)  # -> (mu, logvar)
        self.decoder = build_decoder(config, 2 if config.decoder == "gaussian" else 1)
        if config.prior == "vamp":  # pseudo-inputs u_k; init_from_data starts them at training images
            self.pseudo = torch.nn.Parameter(0.5 + 0.01 * torch.randn(config.pseudo_inputs, *config.shape))

    @property
    def data_likelihood(self) -> str:
        """The data contract: a Bernoulli decoder is a distribution over {0, 1}, a Gaussian one a density."""
        return "bernoulli" if self.config.decoder == "bernoulli" else "continuous"

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

    # --- prior p(z) --------------------------------------------------------------------------
    def pseudo_inputs(self) -> torch.Tensor:
        """VampPrior pseudo-inputs (K, C, H, W), kept in [0, 1] for the Bernoulli decoder (the
        hard-tanh of Tomczak & Welling)."""
        return self.pseudo.clamp(0, 1) if self.config.decoder == "bernoulli" else self.pseudo

    def prior_components(self) -> tuple[torch.Tensor, torch.Tensor]:
        """VampPrior: (mu, logvar) of q(z|u_k), each (K, latent_dim)."""
        return self.posterior(self.pseudo_inputs())

    def prior_log_prob(self, z: torch.Tensor, components=None) -> torch.Tensor:
        """log p(z) for z (..., latent_dim): (...). ``components``: precomputed VampPrior (mu, logvar)."""
        if self.config.prior == "standard":
            return standard_normal_log_prob(z).sum(-1)
        return mixture_log_prob(z, *(components if components is not None else self.prior_components()))

    def sample_prior(self, n: int, generator=None) -> torch.Tensor:
        """z ~ p(z): (n, latent_dim)."""
        dev = generator.device if generator is not None else self.device
        eps = torch.randn(n, self.latent_dim, generator=generator, device=dev).to(self.device)
        if self.config.prior == "standard":
            return eps
        mu, logvar = self.prior_components()
        k = torch.randint(len(mu), (n,), generator=generator, device=dev).to(self.device)
        return mu[k] + torch.exp(0.5 * logvar[k]) * eps

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> None:
        """Bernoulli MLP decoder: start its output bias at the log-odds of each pixel's training
        marginal (smoothed by one pseudo-count), as Burda et al. (2016) do; the decoder then starts
        at the independent-pixel fit instead of p = 1/2 everywhere. VampPrior: the pseudo-inputs
        start at random training images, pulled into (0.05, 0.95) for [0, 1] data so that the
        clamp passes gradients. Other decoders: unchanged."""
        if self.config.prior == "vamp":
            idx = torch.randint(len(x), (self.config.pseudo_inputs,)).to(x.device)
            u = x[idx].float().to(self.pseudo)
            self.pseudo.copy_(0.05 + 0.9 * u if self.config.decoder == "bernoulli" else u)
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

    @torch.no_grad()
    def sample(self, n: int, *, generator=None, mean: bool = True) -> torch.Tensor:
        """Decode z ~ p(z). ``mean=True`` returns the decoder means (the usual picture);
        ``mean=False`` draws x ~ p(x|z)."""
        z = self.sample_prior(n, generator)
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
        The VampPrior has no closed-form KL; there estimator B keeps what is closed-form, the
        entropy of q, and estimates the cross-entropy E_q[-log p(z)] with the same k samples.
        ``beta`` weights the KL (beta-VAE)."""
        mu, logvar = self.posterior(x)
        z = self.rsample_posterior(mu, logvar, k, generator)  # (k, B, L)
        rec = self.decoder_log_prob(x, z)  # (k, B)
        if analytic_kl_term and self.config.prior == "standard":
            kl = analytic_kl(mu, logvar)  # (B,)
        elif analytic_kl_term:
            kl = -gaussian_entropy(logvar) - self.prior_log_prob(z).mean(0)  # (B,)
        else:
            kl = (self.posterior_log_prob(z, mu, logvar) - self.prior_log_prob(z)).mean(0)
        return rec.mean(0) - beta * kl

    def log_weights(self, x: torch.Tensor, k: int, generator=None, prior_components=None) -> torch.Tensor:
        """Importance log-weights log p(x, z_i) - log q(z_i|x), z_i ~ q(z|x): (k, B).
        ``prior_components``: the VampPrior's (mu, logvar), when the caller has them already."""
        mu, logvar = self.posterior(x)
        z = self.rsample_posterior(mu, logvar, k, generator)
        return (self.decoder_log_prob(x, z) + self.prior_log_prob(z, prior_components)
                - self.posterior_log_prob(z, mu, logvar))

    @torch.no_grad()
    def log_prob(self, x: torch.Tensor, *, k: int = 5000, chunk: int = 500, generator=None) -> torch.Tensor:
        """Importance-sampled estimate log (1/k) sum_i p(x, z_i)/q(z_i|x) (Burda et al. 2016,
        eq. 8 used as an estimator), computed in chunks of ``chunk`` samples: (B,)."""
        comps = self.prior_components() if self.config.prior != "standard" else None  # once for all chunks
        parts = [torch.logsumexp(self.log_weights(x, min(chunk, k - s), generator, comps), dim=0)
                 for s in range(0, k, chunk)]
        return torch.logsumexp(torch.stack(parts), dim=0) - math.log(k)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.posterior(x)


register_variant("vae-conv", VAE, config=VAEConfig, objectives=("elbo", "iwae", "wake-sleep"),
                 family="latent", summary="convolutional VAE (Keras-example nets), latent 2 by default",
                 overrides={"arch": "conv", "latent_dim": 2})
register_variant("vae-vamp", VAE, config=VAEConfig, objectives=("elbo", "iwae"), family="latent",
                 summary="VAE with a VampPrior (Tomczak & Welling 2018): mixture of pseudo-input posteriors",
                 overrides={"prior": "vamp"})
register_variant("wake-sleep", VAE, config=VAEConfig, objectives=("wake-sleep", "elbo"), family="latent",
                 summary="Helmholtz machine on the VAE nets trained by wake-sleep (Hinton et al. 1995)")
