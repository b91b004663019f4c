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
        if getattr(model, "conditional", False):  # e.g. the class-conditional gated PixelCNN
            if batch.get("y") is None:
                raise ValueError("the model is conditional on labels but the data have none (batch['y'])")
            nll = -model.log_prob(batch["x"], condition=batch["y"])  # (B,)
        else:
            nll = -model.log_prob(batch["x"])  # (B,)
        return {"loss": nll, "nll": nll.detach()}
