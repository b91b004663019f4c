"""Variational autoencoder (Kingma & Welling, "Auto-Encoding Variational Bayes", 2013).

Recognition model q(z|x) = N(mu(x), diag sigma^2(x)), a prior p(z), and a decoder p(x|z): Bernoulli,
diagonal Gaussian, or for 8-bit (quantized) images the discretized logistic mixture of PixelCNN++
(Salimans et al. 2017, sections 2.1-2.2; :class:`genzoo.nn.discretized.LogisticMixture`), whose
``log_prob`` is the exact probability of the discrete image, so that the ELBO bounds and the IS-NLL
estimates the NLL of the 8-bit data (nats, bits/dim). The prior is N(0, I) (the paper's) or the
VampPrior of Tomczak & Welling ("VAE with a VampPrior", 2018): the mixture (1/K) sum_k q(z|u_k)
of the posteriors of K learnt pseudo-inputs u_k. The model only says what the three distributions are (``prior()``,
``posterior(x)``, ``likelihood(z)``, see :class:`genzoo.models.base.VariationalModel`); the bounds
are in :mod:`genzoo.objectives.variational`, the importance-sampled likelihood in
:mod:`genzoo.evaluation.importance`, and the objectives (``elbo``, ``iwae``, ``wake-sleep``)
decide how to train on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from genzoo.config import field
from genzoo.distributions import (
    Bernoulli,
    DiagonalGaussian,
    Distribution,
    GaussianMixture,
    StandardNormal,
    gaussian_log_prob,
    kl_divergence,
    mixture_log_prob,
    standard_normal_log_prob,
)
from genzoo.models.autoencoders._common import EncoderDecoderConfig, build_decoder, build_encoder
from genzoo.models.base import VariationalModel
from genzoo.nn.discretized import DiscretizedMixture, LogisticMixture
from genzoo.registry import register_model, register_variant

__all__ = ["VAE", "VAEConfig", "analytic_kl", "gaussian_log_prob", "mixture_log_prob",
           "standard_normal_log_prob"]


def analytic_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag e^logvar) || N(0, I)) summed over the last dim (AEVB appendix B)."""
    return kl_divergence(DiagonalGaussian(mu, logvar), StandardNormal(mu.shape[-1]))


DECODERS = ("bernoulli", "gaussian", "logistic-mixture")
MIXTURE_CHUNK_VALUES = 1 << 24  # decoder outputs per importance-sampling chunk, logistic-mixture decoder


@dataclass(frozen=True)
class VAEConfig(EncoderDecoderConfig):
    decoder: str = field("bernoulli", help="p(x|z): Bernoulli (binary/[0,1] data), diagonal Gaussian, or the "
                                           "discretized logistic mixture of PixelCNN++ (8-bit data)",
                         choices=DECODERS)
    min_logvar: float = field(-10.0, help="lower clamp for Gaussian decoder log-variance")
    mixtures: int = field(10, help="logistic-mixture decoder: components per pixel")
    levels: int | None = field(256, help="logistic-mixture decoder: levels per value (set from the data)")
    input_scale: str = field("01", choices=("01", "pm1"), help="range of the data (set from the data); the "
                                                                "logistic-mixture decoder reads levels on it")
    prior: str = field("standard", help="p(z): N(0, I), or the VampPrior (Tomczak & Welling 2018), a "
                                        "mixture of the posteriors of learnt pseudo-inputs",
                       choices=("standard", "vamp"))
    pseudo_inputs: int = field(500, help="VampPrior: number K of pseudo-inputs (mixture components)")

    def __post_init__(self):
        super().__post_init__()
        if self.prior == "vamp" and self.pseudo_inputs < 1:
            raise ValueError(f"pseudo_inputs must be >= 1, got {self.pseudo_inputs}")
        if self.decoder == "logistic-mixture":
            if self.mixtures < 1:
                raise ValueError(f"mixtures must be >= 1, got {self.mixtures}")
            if self.levels is None or self.levels < 2:
                raise ValueError("decoder=logistic-mixture needs quantized data with >= 2 levels, "
                                 f"got levels={self.levels}")
            if len(self.shape) != 3:
                raise ValueError(f"decoder=logistic-mixture needs images (C, H, W), got shape {tuple(self.shape)}")


@register_model("vae", config=VAEConfig, objectives=("elbo", "iwae", "wake-sleep"), family="latent",
                summary="VAE (AEVB), MLP encoder/decoder, Bernoulli, Gaussian or discretized logistic decoder")
class VAE(VariationalModel):
    def __init__(self, config: VAEConfig):
        super().__init__(config)
        self.latent_dim = config.latent_dim
        self.encoder = build_encoder(config, 2 * config.latent_dim)  # -> (mu, logvar)
        self.mixture = (LogisticMixture(config.shape[0], config.mixtures, config.levels)
                        if config.decoder == "logistic-mixture" else None)
        maps = {"bernoulli": 1, "gaussian": 2}.get(config.decoder) or self.mixture.num_params
        self.decoder = build_decoder(config, maps)  # (B, C * maps, H, W)
        if config.prior == "vamp":  # pseudo-inputs u_k; init_from_data starts them at training images
            self.pseudo = torch.nn.Parameter(0.5 + 0.01 * torch.randn(config.pseudo_inputs, *config.shape))

    @property
    def likelihood_type(self) -> str:
        """The decoder's family (the data contract, :mod:`genzoo.data.spec`): "bernoulli",
        "gaussian" or "discretized_logistic"."""
        return "discretized_logistic" if self.mixture is not None else self.config.decoder

    @property
    def likelihood_levels(self) -> int | None:
        """Levels the logistic-mixture decoder models (None for the other decoders)."""
        return self.config.levels if self.mixture is not None else None

    @property
    def learnt_prior(self) -> bool:
        return self.config.prior == "vamp"

    # --- recognition model q(z|x) -------------------------------------------------------------
    def posterior(self, x: torch.Tensor) -> DiagonalGaussian:
        """q(z|x) = N(mu(x), diag e^logvar(x)), batch (B,), event (latent_dim,)."""
        mu, logvar = self.encoder(x).chunk(2, dim=-1)  # (B, L) each
        return DiagonalGaussian(mu, logvar)

    # --- prior p(z) --------------------------------------------------------------------------
    def pseudo_inputs(self) -> torch.Tensor:
        """VampPrior pseudo-inputs (K, C, H, W), kept in [0, 1] for the Bernoulli decoder (the
        hard-tanh of Tomczak & Welling)."""
        return self.pseudo.clamp(0, 1) if self.config.decoder == "bernoulli" else self.pseudo

    def prior(self) -> Distribution:
        """N(0, I), or the VampPrior (1/K) sum_k q(z|u_k) (Tomczak & Welling 2018, eq. 9)."""
        if self.config.prior == "standard":
            return StandardNormal(self.latent_dim, device=self.device)
        q = self.posterior(self.pseudo_inputs())  # batch (K,)
        return GaussianMixture(q.mean, q.logvar)

    @torch.no_grad()
    def init_from_data(self, x: torch.Tensor) -> None:
        """Bernoulli MLP decoder: start its output bias at the log-odds of each pixel's training
        marginal (smoothed by one pseudo-count), as Burda et al. (2016) do; the decoder then starts
        at the independent-pixel fit instead of p = 1/2 everywhere. VampPrior: the pseudo-inputs
        start at random training images, pulled into (0.05, 0.95) for [0, 1] data so that the
        clamp passes gradients. Logistic-mixture decoder: the output bias starts every pixel at
        distinct components (means spread over [-0.9, 0.9], scales 2 / M), as the autoregressive
        models do. Other decoders: unchanged."""
        if self.config.prior == "vamp":
            idx = torch.randint(len(x), (self.config.pseudo_inputs,)).to(x.device)
            u = x[idx].float().to(self.pseudo)
            self.pseudo.copy_(0.05 + 0.9 * u if self.config.decoder == "bernoulli" else u)
        if self.mixture is not None:
            self._init_mixture_bias()
        last = [m for m in self.decoder.modules() if isinstance(m, torch.nn.Linear)]
        if self.config.decoder != "bernoulli" or not last or last[-1].out_features != x[0].numel():
            return
        p = (x.reshape(len(x), -1).float().clamp(0, 1).sum(0) + 1.0) / (len(x) + 2.0)
        last[-1].bias.copy_((torch.log(p) - torch.log1p(-p)).to(last[-1].bias))

    @torch.no_grad()
    def _init_mixture_bias(self) -> None:
        last = [m for m in self.decoder.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))][-1]
        m, p = self.config.mixtures, self.mixture.num_params
        bias = last.bias.view(self.config.shape[0], p, -1).transpose(1, 2)  # (C, 1 or H * W, P), a view
        bias.zero_()
        bias[..., m: 2 * m] = torch.linspace(-0.9, 0.9, m).to(bias) if m > 1 else 0.0
        bias[..., 2 * m: 3 * m] = math.log(2.0 / m)

    # --- generative model p(x|z) --------------------------------------------------------------
    def likelihood(self, z: torch.Tensor) -> Distribution:
        """p(x|z) for z (..., L): Bernoulli(logits), N(mean, diag e^logvar) or the discretized
        logistic mixture over (C, H, W), with batch shape (...)."""
        lead = z.shape[:-1]
        out = self.decoder(z.reshape(-1, z.shape[-1]))  # (N, C * maps, H, W)
        event = len(self.config.shape)
        if self.mixture is not None:
            params = self.mixture.from_maps(out)  # (N, P, C, H, W)
            return DiscretizedMixture(self.mixture, params.reshape(*lead, *params.shape[1:]), self.config.input_scale)
        if self.config.decoder == "bernoulli":
            return Bernoulli(out.view(*lead, *self.config.shape), event_dims=event)
        mean, logvar = out.chunk(2, dim=1)
        logvar = logvar.clamp(min=self.config.min_logvar)
        return DiagonalGaussian(mean.reshape(*lead, *self.config.shape), logvar.reshape(*lead, *self.config.shape),
                                event_dims=event)

    @torch.no_grad()
    def log_prob(self, x: torch.Tensor, *, k: int | None = None, generator: torch.Generator | None = None,
                 chunk: int = 500, compile: bool = False) -> torch.Tensor:
        """The importance-sampled estimate of :class:`VariationalModel`; with the logistic-mixture
        decoder (C x P output maps per pixel) the ``chunk`` of samples shrinks so that one chunk's
        decoder outputs stay under 2^24 values (a batch of 100 emoji at 32x32 would otherwise take
        15 GB at chunk 500)."""
        if self.mixture is not None:
            chunk = max(1, min(chunk, MIXTURE_CHUNK_VALUES // (len(x) * self.config.dim * self.mixture.num_params)))
        return super().log_prob(x, k=k, generator=generator, chunk=chunk, compile=compile)

    def recognition_parameters(self):
        return list(self.encoder.parameters())

    def generative_parameters(self):
        extra = [self.pseudo] if self.config.prior == "vamp" else []
        return [*self.decoder.parameters(), *extra]

    def forward(self, x: torch.Tensor) -> DiagonalGaussian:
        return self.posterior(x)


register_variant("vae-conv", VAE, config=VAEConfig, objectives=("elbo", "iwae", "wake-sleep"),
                 family="latent", summary="convolutional VAE (Keras-example nets), latent 2 by default",
                 overrides={"arch": "conv", "latent_dim": 2})
register_variant("vae-vamp", VAE, config=VAEConfig, objectives=("elbo", "iwae"), family="latent",
                 summary="VAE with a VampPrior (Tomczak & Welling 2018): mixture of pseudo-input posteriors",
                 overrides={"prior": "vamp"})
register_variant("wake-sleep", VAE, config=VAEConfig, objectives=("wake-sleep", "elbo"), family="latent",
                 summary="Helmholtz machine on the VAE nets trained by wake-sleep (Hinton et al. 1995)")
