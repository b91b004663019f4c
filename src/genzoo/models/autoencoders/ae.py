"""Deterministic autoencoder: x -> z = f(x) -> x_hat = g(z). No likelihood; trained by the
``reconstruction`` objective (BCE or MSE)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genzoo.config import field
from genzoo.models.autoencoders._common import EncoderDecoderConfig, build_decoder, build_encoder
from genzoo.models.base import LatentVariableModel
from genzoo.registry import register_model, register_variant


@dataclass(frozen=True)
class AutoencoderConfig(EncoderDecoderConfig):
    output: str = field("sigmoid", help="decoder output activation ([0,1] data: sigmoid; [-1,1]: tanh)",
                        choices=("sigmoid", "tanh", "identity"))


@register_model("ae", config=AutoencoderConfig, objectives=("reconstruction",), family="autoencoder",
                summary="deterministic autoencoder (MLP), BCE or MSE reconstruction")
class Autoencoder(LatentVariableModel):
    has_likelihood = False
    can_sample = False  # no distribution over codes to draw from

    def __init__(self, config: AutoencoderConfig):
        super().__init__(config)
        self.latent_dim = config.latent_dim
        self.encoder = build_encoder(config, config.latent_dim)
        self.decoder = build_decoder(config)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    @property
    def output_activation(self) -> str:
        """The decoder's last activation: "sigmoid" (a BCE loss applies), "tanh" or "identity"."""
        return self.config.output

    def sample(self, n, *, generator=None, condition=None):
        raise NotImplementedError("a deterministic autoencoder has no distribution over codes to sample from; "
                                  "train a vae or an aae to sample")

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder pre-activation, (B, C, H, W)."""
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        out = self.decode_logits(z)
        if self.config.output == "sigmoid":
            return torch.sigmoid(out)
        if self.config.output == "tanh":
            return torch.tanh(out)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode_logits(self.encode(x))


register_variant("ae-conv", Autoencoder, config=AutoencoderConfig, objectives=("reconstruction",),
                 family="autoencoder", summary="convolutional autoencoder",
                 overrides={"arch": "conv", "latent_dim": 16})
