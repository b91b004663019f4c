"""Adversarial autoencoder (Makhzani et al., 2015, "Adversarial Autoencoders").

A deterministic encoder q(z|x) = delta(z - f(x)), a decoder p(x|z) and a discriminator on the
code space. Training alternates (Sec. 2, "reconstruction phase" and "regularization phase"):
reconstruction, then the discriminator tells prior samples from codes, then the encoder (the
generator of codes) fools it; the aggregated posterior q(z) is pushed towards the prior p(z),
which may be any distribution we can sample (:mod:`genzoo.priors`). ``conditional_prior=True``
feeds D the one-hot label, with the prior sample drawn from the label's mixture component or
swiss-roll segment (Sec. 3, Fig. 4/6).

``decode(z)`` returns the decoder output (sigmoid for [0, 1] data, tanh for ``data_range="pm1"``);
``sample(n, condition=label)`` decodes prior samples (the decoder is deterministic, so these are
the model's samples). Trained by the ``aae`` objective.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from genzoo import code
from genzoo.config import field
from genzoo.models.adversarial._nets import GAN_TRAINING, as_labels
from genzoo.models.base import LatentVariableModel, ModelConfig, check_count
from genzoo.nn.nets import mlp
from genzoo.priors import PRIORS, get_prior
from genzoo.registry import register_model


@dataclass(frozen=True)
class AAEConfig(ModelConfig):
    latent_dim: int = field(8, help="size of the code z (2 to plot the prior matching)")
    hidden: tuple[int, ...] = field((1000, 1000), help="encoder/decoder MLP hidden sizes (Makhzani: 1000-1000)")
    d_hidden: tuple[int, ...] = field((1000, 1000), help="code discriminator MLP hidden sizes")
    prior: str = field("gaussian", help="prior p(z) imposed on the codes", choices=PRIORS)
    prior_fn: str | None = field(None, help="for prior=custom: 'module:function' called as fn(n, dim, generator) "
                                 "(in Python the function itself may be given; it is recorded by name)")
    conditional_prior: bool = field(False, help="feed D the one-hot label and draw the prior sample from the "
                                    "label's component (mixture10 / swissroll)")
    num_classes: int = field(10, help="number of labels for the conditional prior")
    data_range: str = field("01", help="range of the data (decoder output: sigmoid or tanh)", choices=("01", "pm1"))

    def __post_init__(self):
        if callable(self.prior_fn):  # a function given in code: trust it, record its name
            object.__setattr__(self, "prior_fn", code.register(self.prior_fn))
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be >= 1, got {self.latent_dim}")
        if self.prior == "custom" and not self.prior_fn:
            raise ValueError("prior='custom' needs prior_fn (a function, or 'module:function')")
        if self.conditional_prior and self.prior not in ("mixture10", "swissroll"):
            raise ValueError(f"conditional_prior needs prior mixture10 or swissroll, got {self.prior!r}")


@register_model("aae", config=AAEConfig, objectives=("aae",), family="adversarial",
                train_defaults=GAN_TRAINING,
                summary="adversarial autoencoder (Makhzani 2015): D matches codes to any sampleable prior")
class AAE(LatentVariableModel):
    has_likelihood = False
    exact_likelihood = False
    code_arguments = ("prior_fn",)

    def __init__(self, config: AAEConfig, *, prior_fn: Callable | None = None):
        """``prior_fn``: the function of a custom prior (default: the one trusted in this process
        under ``config.prior_fn``; a name from a file is never imported, see :mod:`genzoo.code`)."""
        super().__init__(config)
        c = config
        self.latent_dim = c.latent_dim
        self.encoder = mlp(c.dim, c.hidden, c.latent_dim, "relu")
        self.decoder = mlp(c.latent_dim, tuple(reversed(c.hidden)), c.dim, "relu")
        self.d_cond = c.num_classes if c.conditional_prior else 0
        self.discriminator = mlp(c.latent_dim + self.d_cond, c.d_hidden, 1, "relu")
        self._prior = get_prior(c.prior, c.latent_dim, prior_fn if prior_fn is not None else c.prior_fn)

    @classmethod
    def code_fields(cls, config: AAEConfig) -> dict[str, str]:
        return {"prior_fn": config.prior_fn} if config.prior == "custom" else {}

    @property
    def condition_type(self) -> str | None:
        """"label" when the prior is label-conditioned (sample(condition=label)), else None."""
        return "label" if self.config.conditional_prior else None

    @property
    def output_activation(self) -> str:
        """The decoder's last activation: "sigmoid" ([0, 1] data) or "tanh" ([-1, 1])."""
        return "sigmoid" if self.config.data_range == "01" else "tanh"

    def log_prob(self, x, *, k=None, generator=None):
        raise NotImplementedError("the adversarial autoencoder has no likelihood (its posterior is a point "
                                  "mass); estimate one from samples with a Parzen window")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.flatten(1))  # (B, latent_dim)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).view(-1, *self.config.shape)  # (B, C, H, W)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        out = self.decode_logits(z)
        return torch.sigmoid(out) if self.config.data_range == "01" else torch.tanh(out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode_logits(self.encode(x))

    def sample_prior(self, n: int, generator: torch.Generator | None = None, labels=None) -> torch.Tensor:
        """n draws of p(z) (of the labels' components when the prior is label-conditioned)."""
        if not self.config.conditional_prior:
            labels = None
        return self._prior(n, generator, labels).to(self.device)  # (n, latent_dim)

    def discriminate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Logit (B,) of "z was drawn from the prior"."""
        if self.d_cond:
            if y is None:
                raise ValueError("the label-conditioned AAE needs labels: the data must provide batch['y']")
            z = torch.cat([z, F.one_hot(y.long(), self.d_cond).to(z.dtype)], dim=1)  # (B, latent + K)
        return self.discriminator(z).squeeze(1)

    def autoencoder_parameters(self):
        return [*self.encoder.parameters(), *self.decoder.parameters()]

    def generator_parameters(self):
        return list(self.encoder.parameters())

    def discriminator_parameters(self):
        return list(self.discriminator.parameters())

    def draw_latent(self, n: int, *, generator: torch.Generator | None = None, condition=None) -> torch.Tensor:
        """n prior draws (n, latent_dim); with a label-conditioned prior, ``condition`` (an int, n
        ints, or None for random labels) picks the component."""
        n = check_count(n)
        labels = None
        if self.config.conditional_prior:
            labels = as_labels(condition, n, self.config.num_classes, generator, self.device)
        else:
            self.check_condition(condition)  # unconditional unless trained with conditional_prior=True
        return self.sample_prior(n, generator, labels)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, condition=None) -> torch.Tensor:
        """Decode n prior samples; with a label-conditioned prior, ``condition`` picks the component."""
        return self.decode(self.draw_latent(n, generator=generator, condition=condition))


