"""The order-agnostic NADE objective (Uria, Murray & Larochelle 2014, section 3).

For each example draw d ~ U{0, ..., D-1} and a uniformly random set of d observed pixels (the
first d of a random ordering); the loss is

    D / (D - d) * sum over unobserved i of -log p(x_i | x_observed),

an unbiased estimate of the NLL averaged over orderings, E_o[-log p(x | o)], which bounds the
NLL of the ensemble of orderings from above. One network pass per example, whatever the order.

Validation reports that same estimate by default (one pass per example: cheap, but noisy, so
early stopping needs patience); ``validate="exact"`` reports instead the exact NLL of the model's
ensemble of orderings (``model.log_prob``; D passes per example and ordering, or O(D H) with one
hidden layer), which is what a test figure measures.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from genzoo.config import field
from genzoo.models.autoregressive._common import to_raster
from genzoo.objectives.base import Batch, Objective, ObjectiveConfig
from genzoo.registry import register_objective


@dataclass(frozen=True)
class OrderAgnosticConfig(ObjectiveConfig):
    validate: str = field("estimate", choices=("estimate", "exact"),
                          help="validation figure: the training objective's estimate, or the exact NLL of "
                          "the model's ensemble of orderings (D passes per example and ordering)")

    def __post_init__(self) -> None:
        if self.validate not in ("estimate", "exact"):
            raise ValueError(f"validate must be 'estimate' or 'exact', got {self.validate!r}")


@register_objective("order-agnostic", config=OrderAgnosticConfig,
                    summary="order-agnostic NADE training: random orderings, unbiased NLL estimate")
class OrderAgnosticNLL(Objective):
    monitor = "oa_nll"

    def __init__(self, config: OrderAgnosticConfig | None = None):
        super().__init__(config if config is not None else OrderAgnosticConfig())
        self._estimate = self.monitor
        if self.config.validate == "exact":
            self.monitor = "nll"

    def check_data(self, model, spec) -> None:
        if spec.check_model(model) == "bce_grey":  # Bernoulli on grey values: not a likelihood
            self._estimate = "oa_grey_bce"
            self.monitor = "grey_bce" if self.config.validate == "exact" else self._estimate

    def __call__(self, model, batch: Batch, *, player="model", generator=None):
        x = batch["x"]
        model.check_input(x)
        v = to_raster(model.to_unit(x))  # (B, D)
        b, d = v.shape
        observed = torch.randint(0, d, (b, 1), generator=generator, device=v.device)  # d per example
        order_rank = torch.rand(b, d, generator=generator, device=v.device).argsort(1).argsort(1)
        mask = (order_rank < observed).to(v.dtype)  # (B, D): a uniformly random set of d pixels
        logits = model.masked_logits(v, mask)
        if model.categorical:
            nll = F.cross_entropy(logits.transpose(1, 2), to_raster(model.targets(x)), reduction="none")
        else:
            nll = F.binary_cross_entropy_with_logits(logits, v, reduction="none")
        loss = (nll * (1 - mask)).sum(1) * d / (d - observed.squeeze(1)).to(v.dtype)  # (B,)
        return {"loss": loss, self._estimate: loss.detach()}

    @torch.no_grad()
    def evaluate(self, model, batch: Batch, *, generator=None):
        if self.config.validate == "estimate":
            return self(model, batch, generator=generator)
        nll = -model.log_prob(batch["x"])  # (B,): exact, the model's ensemble of orderings
        return {"loss": nll, self.monitor: nll}
