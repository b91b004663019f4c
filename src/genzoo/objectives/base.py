"""Objectives: the losses a trainer minimises, one class each, separate from the models.

An objective is called as ``objective(model, batch, player=..., generator=...)`` and returns a
dict whose ``"loss"`` entry is a per-example tensor (B,) or a scalar; other entries are logged.
Most objectives train one player (``"model"``). Adversarial and wake-sleep objectives have
several players, each with its own parameters and optimizer; the trainer steps them in order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ObjectiveConfig:
    pass


Batch = dict[str, torch.Tensor]


class Objective:
    players: tuple[str, ...] = ("model",)
    registry_name: str = ""
    #: name of the validation figure that early stopping watches (lower is better)
    monitor: str = "loss"

    def __init__(self, config: ObjectiveConfig | None = None):
        self.config = config if config is not None else ObjectiveConfig()

    def parameters(self, model: nn.Module, player: str) -> Iterable[nn.Parameter]:
        """The parameters that ``player``'s optimizer updates."""
        return model.parameters()

    def check_data(self, model: nn.Module, spec) -> None:
        """Refuse, with a one-line ``DataError``, data (a :class:`genzoo.data.DataSpec`) that this
        objective cannot train ``model`` on; called once before training. Default: the model's
        declared likelihood against the data (:meth:`DataSpec.check_model`)."""
        spec.check_model(model)

    def __call__(self, model: nn.Module, batch: Batch, *, player: str = "model",
                 generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    @torch.no_grad()
    def evaluate(self, model: nn.Module, batch: Batch, *, generator: torch.Generator | None = None
                 ) -> dict[str, torch.Tensor]:
        """Validation figures for one batch (per-example or scalar tensors); default: every
        player's loss dict, merged."""
        out: dict[str, torch.Tensor] = {}
        for player in self.players:
            out.update(self(model, batch, player=player, generator=generator))
        return out
