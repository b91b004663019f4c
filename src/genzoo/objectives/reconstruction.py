"""Reconstruction loss for deterministic autoencoders: per-example summed BCE or MSE."""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F

from genzoo.config import field
from genzoo.objectives.base import Batch, Objective, ObjectiveConfig
from genzoo.registry import register_objective


@dataclass(frozen=True)
class ReconstructionConfig(ObjectiveConfig):
    loss: str = field("bce", help="bce (needs a sigmoid decoder, data in [0,1]) or mse", choices=("bce", "mse"))


@register_objective("reconstruction", config=ReconstructionConfig, summary="autoencoder reconstruction (BCE or MSE)")
class Reconstruction(Objective):
    monitor = "reconstruction"

    def check_data(self, model, spec) -> None:
        super().check_data(model, spec)
        if self.config.loss == "bce" and spec.scale == "pm1":
            from genzoo.data import DataError

            raise DataError("scale=pm1: the bce reconstruction loss needs targets in [0, 1]; use --scale 01 "
                            "or --loss mse")

    def __call__(self, model, batch: Batch, *, player="model", generator=None):
        x = batch["x"]
        if self.config.loss == "bce":
            if model.output_activation != "sigmoid":
                raise ValueError("the bce reconstruction loss needs --output sigmoid; use --loss mse")
            err = F.binary_cross_entropy_with_logits(model(x), x, reduction="none")
        else:
            err = (model.reconstruct(x) - x) ** 2
        err = err.flatten(1).sum(-1)  # (B,)
        return {"loss": err, "reconstruction": err.detach()}
