"""The adversarial autoencoder's three-step training (Makhzani et al. 2015, Sec. 2).

Players, stepped in order every batch: ``autoencoder`` (encoder + decoder minimise the
reconstruction error), ``discriminator`` (tells prior samples, label "real", from codes f(x),
label "fake", the codes detached), ``generator`` (the encoder makes its codes look like prior
samples: non-saturating -log D(f(x))).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from genzoo.config import field
from genzoo.objectives.adversarial import bce_logits
from genzoo.objectives.base import Batch, Objective, ObjectiveConfig
from genzoo.registry import register_objective


@dataclass(frozen=True)
class AAELossConfig(ObjectiveConfig):
    reconstruction: str = field("auto", help="reconstruction loss: bce for [0,1] data, mse; auto picks bce "
                                "unless the decoder ends in tanh ([-1, 1] data)", choices=("auto", "bce", "mse"))
    adversarial_weight: float = field(1.0, help="weight of the encoder's adversarial loss")


@register_objective("aae", config=AAELossConfig,
                    summary="adversarial autoencoder: reconstruction, code discriminator, encoder-as-generator")
class AAEObjective(Objective):
    players = ("autoencoder", "discriminator", "generator")
    monitor = "recon"
    config: AAELossConfig

    def __init__(self, config: AAELossConfig | None = None):
        super().__init__(config if config is not None else AAELossConfig())

    def parameters(self, model, player: str):
        if player == "autoencoder":
            return model.autoencoder_parameters()
        if player == "discriminator":
            return model.discriminator_parameters()
        if player == "generator":
            return model.generator_parameters()
        raise ValueError(f"unknown player {player!r} for the aae objective; expected {self.players}")

    def recon(self, model, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Per-example reconstruction loss (B,): summed over pixels."""
        logits = model.decode_logits(z)  # (B, C, H, W)
        kind = self.config.reconstruction
        if kind == "auto":
            kind = "bce" if model.output_activation == "sigmoid" else "mse"
        if kind == "bce":
            return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        return (model.decode(z) - x).pow(2).flatten(1).sum(1)

    def __call__(self, model, batch: Batch, *, player: str = "autoencoder", generator=None):
        x = batch["x"]
        y = batch.get("y") if model.condition_type == "label" else None
        if model.condition_type == "label" and y is None:
            raise ValueError("the label-conditioned AAE needs labels: the data must provide batch['y']")
        if player == "autoencoder":
            loss = self.recon(model, x, model.encode(x))
            return {"loss": loss, "recon": loss.detach()}
        if player == "discriminator":
            with torch.no_grad():
                codes = model.encode(x)  # (B, latent_dim)
            prior = model.draw_latent(x.shape[0], generator=generator, condition=y)  # (B, latent_dim)
            lr, lf = model.discriminate(prior, y), model.discriminate(codes, y)
            loss = bce_logits(lr, 1.0) + bce_logits(lf, 0.0)
            return {"loss": loss, "d_loss": loss.detach(), "d_real": torch.sigmoid(lr).detach(),
                    "d_fake": torch.sigmoid(lf).detach()}
        if player == "generator":
            lf = model.discriminate(model.encode(x), y)
            loss = self.config.adversarial_weight * F.softplus(-lf)
            return {"loss": loss, "g_loss": loss.detach()}
        raise ValueError(f"unknown player {player!r} for the aae objective; expected {self.players}")
