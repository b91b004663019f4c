"""Maximum likelihood: minimise -log p(x) for models with an exact likelihood.

Data contract (:mod:`genzoo.data.spec`): a categorical likelihood on dequantized data is refused
before training (it models the integer levels); a Bernoulli likelihood on grey-level data trains
but logs its figure as ``grey_bce`` (not a likelihood) instead of ``nll``."""

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

    def check_data(self, model, spec) -> None:
        if spec.check_model(model) == "bce_grey":
            self.monitor = "grey_bce"

    def __call__(self, model, batch: Batch, *, player="model", generator=None):
        if getattr(model, "conditional", False):  # e.g. the class-conditional gated PixelCNN
            if batch.get("y") is None:
                raise ValueError("the model is conditional on labels but the data have none (batch['y'])")
            nll = -model.log_prob(batch["x"], condition=batch["y"])  # (B,)
        else:
            nll = -model.log_prob(batch["x"])  # (B,)
        return {"loss": nll, self.monitor: nll.detach()}
