"""Maximum likelihood: minimise -log p(x) for models with an exact likelihood."""

from __future__ import annotations

from dataclasses import dataclass

from genzoo.objectives.base import Batch, Objective, ObjectiveConfig
from genzoo.registry import register_objective


@dataclass(frozen=True)
class NLLConfig(ObjectiveConfig):
    pass


@register_objective("nll", config=NLLConfig, summary="exact negative log-likelihood (autoregressive models)")
class NLL(Objective):
    monitor = "nll"

    def __call__(self, model, batch: Batch, *, player="model", generator=None):
        nll = -model.log_prob(batch["x"])  # (B,)
        return {"loss": nll, "nll": nll.detach()}
