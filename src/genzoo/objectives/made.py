"""Connectivity-agnostic training of MADE (Germain et al. 2015, section 4.4).

Each step draws one mask (a degree assignment, :meth:`~genzoo.models.autoregressive.made.MADE.random_degrees`)
for the whole minibatch, either uniformly from the model's fixed set (``masks="set"``) or a fresh
one (``masks="fresh"``), and minimises the exact NLL under that mask. This trains one network to be
an ensemble of autoregressive models (with ``order_agnostic`` masks, of several orderings).
Validation reports the exact NLL of the model's test-time ensemble (``model.log_prob``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from genzoo.config import field
from genzoo.objectives.base import Batch, Objective, ObjectiveConfig
from genzoo.registry import register_objective


@dataclass(frozen=True)
class MaskSamplingConfig(ObjectiveConfig):
    masks: str = field("set", choices=("set", "fresh"),
                       help="draw each step's mask from the model's fixed set, or a fresh one")

    def __post_init__(self) -> None:
        if self.masks not in ("set", "fresh"):
            raise ValueError(f"masks must be 'set' or 'fresh', got {self.masks!r}")


@register_objective("mask-sampling", config=MaskSamplingConfig,
                    summary="MADE connectivity-agnostic training: a new mask every step, exact NLL under it")
class MaskSamplingNLL(Objective):
    monitor = "nll"

    def __init__(self, config: MaskSamplingConfig | None = None):
        super().__init__(config if config is not None else MaskSamplingConfig())

    def __call__(self, model, batch: Batch, *, player="model", generator=None):
        if self.config.masks == "fresh":
            degrees = model.random_degrees(generator)
        else:
            dev = generator.device if generator is not None else "cpu"
            i = int(torch.randint(model.config.masks, (1,), generator=generator, device=dev))
            degrees = model.mask_degrees(i)
        nll = -model.log_prob_under(batch["x"], degrees)  # (B,)
        return {"loss": nll, "mask_nll": nll.detach()}

    @torch.no_grad()
    def evaluate(self, model, batch: Batch, *, generator=None):
        nll = -model.log_prob(batch["x"])  # the exact ensemble likelihood
        return {"loss": nll, "nll": nll}
